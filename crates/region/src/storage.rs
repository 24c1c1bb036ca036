//! Storage operations: `set_storage_layout`, manual edits of the model (partitions,
//! filesystems, volume groups, cache sets, bcaches), the default layout applied when
//! commissioning stores a new inventory, and what deployment needs (the steps for the agent,
//! the check that refuses a machine with nothing mounted at `/`).

use crate::{facts, Region, RegionError, Result};
use ingot_core::actions::{plan, Action, ActionOptions, Actor};
use ingot_core::deploy::{CacheMode, StorageStep};
use ingot_core::storage::{
    self, uuid_from_bytes, Layout, LayoutParams, StorageError, StorageModel,
};
use ingot_core::Status;
use ingot_store::storage::Edit;
use ingot_store::{Machine, NewEvent, User};
use ingot_wire::Params;

/// Statuses in which users may change a machine's storage (the core's set).
pub use ingot_core::status::STORAGE_EDITABLE as EDITABLE;
use ingot_core::status::STORAGE_RESET_BY_INVENTORY as COMMISSIONING;

/// Fresh random UUIDs for the model (Send: the thread's generator is taken per call).
pub fn uuids() -> impl FnMut() -> String + Send {
    || {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut b);
        uuid_from_bytes(b)
    }
}

/// The parameters of `op=set_storage_layout` by MAAS's names.
pub fn layout_params(p: &Params) -> Result<(Layout, LayoutParams)> {
    let name = p.get("storage_layout").unwrap_or_default().trim();
    let layout = Layout::parse(name).ok_or_else(|| {
        RegionError::field(
            "storage_layout",
            if name.is_empty() {
                "This field is required.".to_string()
            } else {
                format!("'{name}' is not a storage layout: flat, lvm, bcache or blank.")
            },
        )
    })?;
    let s = |n: &str| {
        p.get(n)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let cache_mode = match s("cache_mode") {
        None => None,
        Some(m) => Some(parse_cache_mode("cache_mode", &m)?),
    };
    Ok((
        layout,
        LayoutParams {
            boot_size: s("boot_size"),
            root_device: id_param(p, "root_device")?,
            root_size: s("root_size"),
            vg_name: s("vg_name"),
            lv_name: s("lv_name"),
            lv_size: s("lv_size"),
            cache_device: id_param(p, "cache_device")?,
            cache_mode,
            cache_size: s("cache_size"),
            cache_no_part: p.get_bool("cache_no_part")?.unwrap_or(false),
        },
    ))
}

pub fn parse_cache_mode(field: &str, m: &str) -> Result<CacheMode> {
    match m.to_ascii_lowercase().as_str() {
        "writeback" => Ok(CacheMode::Writeback),
        "writethrough" => Ok(CacheMode::Writethrough),
        "writearound" => Ok(CacheMode::Writearound),
        _ => Err(RegionError::field(
            field,
            format!("'{m}' is not a cache mode: writeback, writethrough or writearound."),
        )),
    }
}

/// An optional id parameter (a block device, partition, …): a whole number or a 400.
pub fn id_param(p: &Params, name: &str) -> Result<Option<i64>> {
    match p.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| RegionError::field(name, format!("'{v}' is not an id."))),
    }
}

/// A size parameter (`10G`, `512M`, bytes).
pub fn size_param(p: &Params, name: &str) -> Result<Option<u64>> {
    match p.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => storage::parse_bytes(v).map(Some).ok_or_else(|| {
            RegionError::field(
                name,
                format!(
                    "'{v}' is not a size: give bytes, or a number with K, M, G or T (e.g. 10G)."
                ),
            )
        }),
    }
}

pub(crate) fn wrong_status(s: Status) -> RegionError {
    RegionError::Conflict(format!(
        "Cannot change the storage of a machine that is {}: storage can be changed only while the machine is Ready or Allocated.",
        s.label()
    ))
}

/// The storage model of a loaded machine (objects on vanished disks left out).
pub fn storage_model(m: &Machine) -> StorageModel {
    StorageModel::from_parts_pruned(
        m.block_devices
            .iter()
            .map(ingot_store::storage::disk_of)
            .collect(),
        m.storage_objects.clone(),
    )
}

impl Region {
    /// Whether the machine boots by UEFI, as its last network boot told: the firmware the
    /// iPXE request or the DHCP client architecture named (arm64 machines always). BIOS when
    /// nothing is known, as MAAS assumes.
    pub async fn machine_boots_uefi(&self, m: &Machine) -> Result<bool> {
        if m.architecture
            .as_deref()
            .is_some_and(|a| a.starts_with("arm64"))
        {
            return Ok(true);
        }
        let mut macs: Vec<String> = m
            .interfaces
            .iter()
            .filter(|i| i.is_boot)
            .map(|i| i.mac_address.clone())
            .collect();
        if macs.is_empty() {
            macs = m.interfaces.iter().map(|i| i.mac_address.clone()).collect();
        }
        Ok(self.store.last_boot_firmware(&macs).await?.unwrap_or(false))
    }

    /// The machine and its storage model, for someone who may see it.
    pub async fn storage_of(
        &self,
        user: &User,
        system_id: &str,
    ) -> Result<(Machine, StorageModel)> {
        let m = self.machine_for(user, system_id).await?;
        let model = self.store.storage_model(m.id).await?;
        Ok((m, model))
    }

    /// Run a manual edit of a machine's storage (by someone who may edit the machine, while it
    /// is Ready or Allocated), recording `what` as an event. The edit gets fresh UUIDs and
    /// whether the machine boots by UEFI (for the partition table a disk gets).
    pub async fn edit_storage<T>(
        &self,
        user: &User,
        system_id: &str,
        what: &str,
        edit: impl FnOnce(
            &mut StorageModel,
            &mut dyn FnMut() -> String,
            bool,
        ) -> std::result::Result<T, StorageError>,
    ) -> Result<(T, StorageModel, std::collections::HashMap<i64, i64>)> {
        let m = self.load(system_id).await?;
        plan(
            Action::Update,
            &facts(&m),
            Actor {
                user_id: user.id,
                is_admin: user.is_admin,
            },
            &ActionOptions::default(),
        )?;
        // MAAS: an administrator, or the owner of an allocated machine.
        if !user.is_admin && m.owner_id != Some(user.id) {
            return Err(RegionError::Forbidden(
                "Only an administrator or the machine's owner can change its storage.".into(),
            ));
        }
        if !EDITABLE.contains(&m.status) {
            return Err(wrong_status(m.status));
        }
        let uefi = self.machine_boots_uefi(&m).await?;
        let mut gen = uuids();
        let username = user.username.clone();
        let what = what.to_string();
        match self
            .store
            .edit_storage(
                m.id,
                EDITABLE,
                |model| edit(model, &mut gen, uefi),
                |_| Some(NewEvent::info("Storage changed", what, &username)),
            )
            .await?
        {
            Edit::Done(v, model, ids) => Ok((v, *model, ids)),
            Edit::Refused(e) => Err(e.into()),
            Edit::WrongStatus(s) => Err(wrong_status(s)),
        }
    }

    /// [`Region::edit_storage`] for an edit that creates one object: its (real) id.
    pub async fn create_in_storage(
        &self,
        user: &User,
        system_id: &str,
        what: &str,
        edit: impl FnOnce(
            &mut StorageModel,
            &mut dyn FnMut() -> String,
            bool,
        ) -> std::result::Result<i64, StorageError>,
    ) -> Result<(i64, StorageModel)> {
        let (temp, model, ids) = self.edit_storage(user, system_id, what, edit).await?;
        Ok((ids.get(&temp).copied().unwrap_or(temp), model))
    }

    /// `blockdevices/{id}/?op=add_tag|remove_tag tag=…` on a physical disk (an admin or the
    /// owner; tags are words: no spaces).
    pub async fn tag_block_device(
        &self,
        user: &User,
        system_id: &str,
        id: i64,
        tag: &str,
        add: bool,
    ) -> Result<()> {
        let m = self.load(system_id).await?;
        if !user.is_admin && m.owner_id != Some(user.id) {
            return Err(RegionError::Forbidden(
                "Only an administrator or the machine's owner can change its storage.".into(),
            ));
        }
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().any(char::is_whitespace) {
            return Err(RegionError::field(
                "tag",
                format!("'{tag}' is not a tag: one word, no spaces."),
            ));
        }
        let b = m.block_devices.iter().find(|b| b.id == id).ok_or_else(|| {
            RegionError::BadRequest(format!(
                "{id} is not a physical block device of {}; only physical disks have tags.",
                m.hostname
            ))
        })?;
        let mut tags = b.tags.clone();
        tags.retain(|t| t != tag);
        if add {
            tags.push(tag.to_string());
        }
        let what = if add { "added to" } else { "removed from" };
        self.store
            .set_block_device_tags(
                m.id,
                id,
                &tags,
                &NewEvent::info(
                    "Storage changed",
                    format!("Tag {tag} {what} {}", b.name),
                    &user.username,
                ),
            )
            .await?;
        Ok(())
    }

    /// `machines/{id}/?op=set_storage_layout`: replace the machine's storage by a layout.
    /// Nothing changes when a parameter is wrong.
    pub async fn set_storage_layout(
        &self,
        user: &User,
        system_id: &str,
        p: &Params,
    ) -> Result<Machine> {
        // Who may change it is checked before what they sent.
        self.load_for(user, system_id, Action::Update).await?;
        let (layout, lp) = layout_params(p)?;
        self.edit_storage(
            user,
            system_id,
            &format!("Storage layout set to {}", layout.as_str()),
            |model, gen, uefi| model.apply_layout(layout, &lp, uefi, gen),
        )
        .await?;
        self.load(system_id).await
    }

    /// `machines/{id}/?op=restore_storage_configuration`: the default layout again (the same
    /// rules as `set_storage_layout`).
    pub async fn restore_storage_configuration(
        &self,
        user: &User,
        system_id: &str,
    ) -> Result<Machine> {
        let layout = self.default_storage_layout().await?;
        self.edit_storage(
            user,
            system_id,
            &format!(
                "Storage restored to the default layout ({})",
                layout.as_str()
            ),
            |model, gen, uefi| model.apply_layout(layout, &LayoutParams::default(), uefi, gen),
        )
        .await?;
        self.load(system_id).await
    }

    /// After commissioning stored a new inventory: lay the disks out with the default layout so
    /// that the machine can deploy (MAAS does the same). A layout that cannot be applied (no
    /// disks, say) leaves the storage blank and says why in an event; commissioning goes on.
    pub async fn apply_default_layout(&self, m: &Machine) -> Result<()> {
        let layout = self.default_storage_layout().await?;
        let uefi = self.machine_boots_uefi(m).await?;
        let mut gen = uuids();
        let edit = self
            .store
            .edit_storage(
                m.id,
                COMMISSIONING,
                |model| model.apply_layout(layout, &LayoutParams::default(), uefi, &mut gen),
                |applied: &Layout| {
                    Some(NewEvent::info(
                        "Storage layout",
                        format!(
                            "Storage layout set to {} ({})",
                            applied.as_str(),
                            if uefi { "UEFI" } else { "BIOS" }
                        ),
                        "",
                    ))
                },
            )
            .await?;
        match edit {
            Edit::Done(..) | Edit::WrongStatus(_) => Ok(()),
            Edit::Refused(e) => {
                // The old layout no longer matches the disks: clear it.
                self.store
                    .edit_storage(
                        m.id,
                        COMMISSIONING,
                        |model| {
                            model.clear();
                            Ok(())
                        },
                        |_| None,
                    )
                    .await?;
                self.store
                    .record_event(
                        m,
                        &NewEvent::error(
                            "Storage layout",
                            format!("Cannot apply the {} storage layout: {e}", layout.as_str()),
                            "",
                        ),
                    )
                    .await?;
                Ok(())
            }
        }
    }

    /// The deploy-time check: a machine whose storage has no root filesystem cannot deploy
    /// (400 naming the problem).
    pub async fn check_deploy_storage(&self, m: &Machine) -> Result<()> {
        let model = self.store.storage_model(m.id).await?;
        if let Some(why) = model.deploy_problem() {
            return Err(RegionError::BadRequest(format!(
                "Cannot deploy {}: {why}.",
                m.hostname
            )));
        }
        let uefi = self.machine_boots_uefi(m).await?;
        storage::deploy_steps(&model, uefi)
            .map(|_| ())
            .map_err(|e| RegionError::BadRequest(format!("Cannot deploy {}: {e}.", m.hostname)))
    }

    /// The machine's storage as the agent's ordered steps (for the DeployConfig). Errors as
    /// [`Region::check_deploy_storage`].
    pub async fn deploy_storage(&self, system_id: &str) -> Result<Vec<StorageStep>> {
        let m = self.load(system_id).await?;
        let uefi = self.machine_boots_uefi(&m).await?;
        self.deploy_storage_for(&m, uefi).await
    }

    /// [`Region::deploy_storage`] with the firmware given (when the caller knows it).
    pub async fn deploy_storage_for(&self, m: &Machine, uefi: bool) -> Result<Vec<StorageStep>> {
        let model = self.store.storage_model(m.id).await?;
        storage::deploy_steps(&model, uefi)
            .map_err(|e| RegionError::BadRequest(format!("Cannot deploy {}: {e}.", m.hostname)))
    }
}
