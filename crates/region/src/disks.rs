//! Physical disks added, described and removed by hand (MAAS `blockdevices/` create, update
//! and delete of a physical device), by an administrator while the machine's storage may be
//! edited. Commissioning replaces them with what it finds.

use crate::settings::need_admin;
use crate::storage::{wrong_status, EDITABLE};
use crate::{FieldErrors, Region, RegionError, Result};
use ingot_core::storage::parse_bytes;
use ingot_store::commissioning::BlockDeviceRow;
use ingot_store::disks::DiskChange;
use ingot_store::storage::Edit;
use ingot_store::{NewEvent, User};
use ingot_wire::Params;

/// The fields of a physical disk a form gives, over `d`; `creating` requires MAAS's.
fn disk_fields(p: &Params, d: &mut BlockDeviceRow, creating: bool) -> Result<()> {
    let mut fe = FieldErrors::default();
    for (name, slot) in [
        ("name", &mut d.name),
        ("model", &mut d.model),
        ("serial", &mut d.serial),
        ("id_path", &mut d.id_path),
    ] {
        match p.get(name).map(str::trim) {
            Some(v) if !v.is_empty() => *slot = v.to_string(),
            Some(_) if name == "id_path" => slot.clear(),
            Some(_) => fe.add(name, "This field cannot be blank."),
            None if creating && name == "name" => fe.add(name, "This field is required."),
            None => {}
        }
    }
    if creating && d.id_path.is_empty() && (d.model.is_empty() || d.serial.is_empty()) {
        fe.add(
            "id_path",
            "Give id_path, or model and serial, to identify the disk.",
        );
    }
    for (name, slot) in [("size", &mut d.size), ("block_size", &mut d.block_size)] {
        match p.get(name) {
            Some(v) => match parse_bytes(v).and_then(|n| i64::try_from(n).ok()) {
                Some(n) if n > 0 => *slot = n,
                _ => fe.add(name, format!("'{v}' is not a size in bytes.")),
            },
            None if creating && name == "size" => fe.add(name, "This field is required."),
            None => {}
        }
    }
    if ![512, 1024, 2048, 4096, 8192, 16384, 32768, 65536].contains(&d.block_size) {
        fe.add(
            "block_size",
            format!(
                "{} is not a block size (512 to 65536, a power of two).",
                d.block_size
            ),
        );
    }
    fe.check()
}

impl Region {
    async fn change_disk(
        &self,
        u: &User,
        system_id: &str,
        change: DiskChange,
        what: String,
    ) -> Result<i64> {
        need_admin(u)?;
        let m = self.load(system_id).await?;
        let resize = match &change {
            DiskChange::Update(d) => Some((d.id, d.size)),
            _ => None,
        };
        let ev = NewEvent::info("Storage changed", what, &u.username);
        match self
            .store
            .change_disk(
                m.id,
                EDITABLE,
                &change,
                |model| match resize {
                    Some((id, size)) => {
                        model.check_disk_resize(id, u64::try_from(size).unwrap_or(0))
                    }
                    None => Ok(()),
                },
                &ev,
            )
            .await?
        {
            Edit::Done(id, _, _) => Ok(id),
            Edit::Refused(e) => Err(e.into()),
            Edit::WrongStatus(s) => Err(wrong_status(s)),
        }
    }

    /// `blockdevices/` create (admin): a physical disk the machine has but commissioning did
    /// not report: `name`, `model` and `serial` or `id_path`, `size`, `block_size` (512).
    pub async fn create_disk(&self, u: &User, system_id: &str, p: &Params) -> Result<i64> {
        need_admin(u)?;
        let m = self.load(system_id).await?;
        let mut d = BlockDeviceRow {
            id: 0,
            machine_id: m.id,
            name: String::new(),
            id_path: String::new(),
            model: String::new(),
            serial: String::new(),
            size: 0,
            block_size: 512,
            tags: vec![],
            firmware_version: String::new(),
            numa_node: 0,
            is_boot: false,
        };
        disk_fields(p, &mut d, true)?;
        if m.block_devices.iter().any(|b| b.name == d.name) {
            return Err(RegionError::field(
                "name",
                format!("{} already has a disk named {}.", m.hostname, d.name),
            ));
        }
        let what = format!("Disk {} added", d.name);
        self.change_disk(u, system_id, DiskChange::Add(d), what)
            .await
    }

    /// `blockdevices/{id}/` update of a physical disk (admin): name, model, serial, id_path,
    /// size (not while something is on it), block_size.
    pub async fn update_disk(&self, u: &User, system_id: &str, id: i64, p: &Params) -> Result<()> {
        need_admin(u)?;
        let m = self.load(system_id).await?;
        let b = m.block_devices.iter().find(|b| b.id == id).ok_or_else(|| {
            RegionError::NotFound("No BlockDevice matches the given query.".into())
        })?;
        let mut d = b.clone();
        disk_fields(p, &mut d, false)?;
        if m.block_devices
            .iter()
            .any(|x| x.name == d.name && x.id != id)
        {
            return Err(RegionError::field(
                "name",
                format!("{} already has a disk named {}.", m.hostname, d.name),
            ));
        }
        let what = format!("Disk {} updated", d.name);
        self.change_disk(u, system_id, DiskChange::Update(d), what)
            .await?;
        Ok(())
    }

    /// `DELETE blockdevices/{id}/` of a physical disk (admin): what was on it goes too.
    pub async fn delete_disk(&self, u: &User, system_id: &str, id: i64) -> Result<()> {
        need_admin(u)?;
        let m = self.load(system_id).await?;
        let b = m.block_devices.iter().find(|b| b.id == id).ok_or_else(|| {
            RegionError::NotFound("No BlockDevice matches the given query.".into())
        })?;
        let what = format!("Disk {} deleted", b.name);
        self.change_disk(u, system_id, DiskChange::Delete(id), what)
            .await?;
        Ok(())
    }
}
