//! Out-of-band hardware inventory (`POST machines/{id}/?op=read_bmc_inventory`): a machine's
//! hardware read from its Redfish BMC, for machines where no agent can run. The BMC's answers
//! (`ingot_power::redfish` `read_inventory`) are converted by `ingot_core::redfish` into a
//! machine-resources document and written by the same `Store::apply_inventory` as
//! commissioning output, so the machine shows CPU, memory, disks and interfaces as if
//! commissioned; `commissioning_passed` is set, so that a release goes to READY.
//!
//! Reading from a BMC adds and updates, never removes (see [`inventory_from_capture`]): parts
//! the BMC does not report keep what the machine had, and disks and interfaces it does not list
//! are kept.
//!
//! The capture is recorded as the script result `redfish-inventory` of the machine's
//! `commissioning` result set (stdout: the capture as JSON), so `nodes/{id}/results/` shows where
//! the data came from. A later commissioning replaces that result set.

use crate::{PowerFailure, Region, RegionError, Result};
use ingot_core::inventory::{self, BlockDevice, Interface, Inventory};
use ingot_core::scripts::ResultStatus;
use ingot_core::Status;
use ingot_store::{Change, Machine, NewEvent, User};
use serde_json::Value;

/// The script result the capture is recorded as.
pub const RESULT_NAME: &str = "redfish-inventory";
/// How long reading the whole inventory may take.
const READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// A stored block device as an inventory entry (kept when the BMC reports no disks).
fn kept_disk(b: &ingot_store::commissioning::BlockDeviceRow) -> BlockDevice {
    BlockDevice {
        name: b.name.clone(),
        id_path: b.id_path.clone(),
        model: b.model.clone(),
        serial: b.serial.clone(),
        size: b.size.max(0) as u64,
        block_size: b.block_size.max(0) as u64,
        firmware_version: Some(b.firmware_version.clone()).filter(|f| !f.is_empty()),
        numa_node: b.numa_node.max(0) as u64,
        tags: b.tags.clone(),
        pci_address: None,
        usb_address: None,
        multipath: false,
    }
}

/// A stored physical interface as an inventory entry (kept when the BMC reports no NICs).
fn kept_interface(i: &ingot_store::Interface) -> Interface {
    let d = &i.details;
    let u = |k: &str| d.get(k).and_then(Value::as_u64).unwrap_or(0);
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    Interface {
        name: i.name.clone(),
        mac: i.mac_address.clone(),
        link_connected: d
            .get("link_connected")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        interface_speed: u("interface_speed"),
        link_speed: u("link_speed"),
        numa_node: u("numa_node"),
        vendor: s("vendor"),
        product: s("product"),
        vendor_id: None,
        product_id: None,
        driver: s("driver"),
        firmware_version: s("firmware_version"),
        sriov_max_vf: u("sriov_max_vf"),
        pci_address: s("pci_address"),
        usb_address: s("usb_address"),
        tags: d
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        is_vf: d.get("is_vf").and_then(Value::as_bool).unwrap_or(false),
        enabled: Some(i.enabled),
        addresses: Vec::new(),
    }
}

/// The next name of `scheme` (`sd…`, `nvme…n1`, `eth…`) not in `taken`.
fn free_name(like: &str, taken: &std::collections::HashSet<String>) -> String {
    for i in 0.. {
        let n = if like.starts_with("nvme") {
            format!("nvme{i}n1")
        } else if like.starts_with("sd") {
            ingot_core::redfish::sd_name(i)
        } else {
            format!("eth{i}")
        };
        if !taken.contains(&n) {
            return n;
        }
    }
    unreachable!("names are unbounded")
}

/// The inventory for `m` from a capture: converted, derived, and merged with what the machine
/// already had. Reading from a BMC adds and updates but never removes: a BMC's view can be
/// partial (add-in NICs, drives outside its controllers), so hardware it does not list is kept
/// (commissioning removes what is really gone), and parts it does not report at all (CPU,
/// memory) keep their values. Reported interfaces keep the name of the machine's interface with
/// the same MAC, reported disks the name and path of the device with the same serial (and
/// path, or a serial unique on both sides); new ones get names not used on the machine.
/// Errors are the BMC's (its answers made no sense).
pub fn inventory_from_capture(
    m: &Machine,
    capture: &Value,
) -> std::result::Result<Inventory, String> {
    use std::collections::HashSet;
    let conv = ingot_core::redfish::resources(capture).map_err(|e| e.to_string())?;
    let mut inv = inventory::derive_value(&conv.resources).map_err(|e| e.to_string())?;
    if !conv.reported.cpu {
        inv.cpu_count = m.cpu_count.max(0) as u64;
        inv.cpu_speed = m.cpu_speed.max(0) as u64;
    }
    if !conv.reported.memory {
        inv.memory = m.memory.max(0) as u64;
    }

    // Disks.
    let old = &m.block_devices;
    let serial_count =
        |list: &mut dyn Iterator<Item = &str>, s: &str| list.filter(|x| *x == s).count();
    let mut used: HashSet<i64> = HashSet::new();
    let mut matched: Vec<Option<usize>> = Vec::new();
    for d in &inv.block_devices {
        let exact = old.iter().position(|o| {
            !d.serial.is_empty()
                && o.serial == d.serial
                && o.id_path == d.id_path
                && !used.contains(&o.id)
        });
        let unique = || {
            let ours = serial_count(
                &mut inv.block_devices.iter().map(|x| x.serial.as_str()),
                &d.serial,
            );
            let theirs = serial_count(&mut old.iter().map(|x| x.serial.as_str()), &d.serial);
            (!d.serial.is_empty() && ours == 1 && theirs == 1)
                .then(|| {
                    old.iter()
                        .position(|o| o.serial == d.serial && !used.contains(&o.id))
                })
                .flatten()
        };
        let i = exact.or_else(unique);
        if let Some(i) = i {
            used.insert(old[i].id);
        }
        matched.push(i);
    }
    let mut taken: HashSet<String> = old
        .iter()
        .filter(|o| !used.contains(&o.id))
        .map(|o| o.name.clone())
        .collect();
    let mut boot_name = inv.boot_disk.clone();
    for (d, i) in inv.block_devices.iter_mut().zip(&matched) {
        let was = d.name.clone();
        match i {
            Some(i) => {
                d.name = old[*i].name.clone();
                d.id_path = old[*i].id_path.clone();
            }
            None if taken.contains(&d.name) => {
                d.name = free_name(&d.name, &taken);
                d.id_path = format!("/dev/{}", d.name);
            }
            None => {}
        }
        if boot_name.as_deref() == Some(was.as_str()) {
            boot_name = Some(d.name.clone());
        }
        taken.insert(d.name.clone());
    }
    // Matched disks first, then the kept ones, then new ones: `apply_inventory` pairs rows
    // greedily in this order (serial and path, else serial), so a new disk repeating an old
    // serial (cheap disks, emulators) must not take an old disk's row.
    let (known, new): (Vec<_>, Vec<_>) = inv
        .block_devices
        .drain(..)
        .zip(&matched)
        .partition(|(_, i)| i.is_some());
    inv.block_devices = known.into_iter().map(|(d, _)| d).collect();
    for o in old.iter().filter(|o| !used.contains(&o.id)) {
        inv.block_devices.push(kept_disk(o));
    }
    inv.block_devices.extend(new.into_iter().map(|(d, _)| d));
    inv.boot_disk = old
        .iter()
        .find(|b| b.is_boot)
        .map(|b| b.name.clone())
        .or(boot_name);
    let total: u128 = inv.block_devices.iter().map(|b| u128::from(b.size)).sum();
    inv.storage = total as f64 / 1e6;

    // Physical interfaces.
    let old_ifs: Vec<&ingot_store::Interface> =
        m.interfaces.iter().filter(|i| i.is_physical()).collect();
    let reported: HashSet<String> = inv.interfaces.iter().map(|i| i.mac.clone()).collect();
    let mut taken: HashSet<String> = m.interfaces.iter().map(|i| i.name.clone()).collect();
    for i in inv.interfaces.iter_mut() {
        match old_ifs.iter().find(|o| o.mac_address == i.mac) {
            Some(o) => i.name = o.name.clone(),
            None => {
                if taken.contains(&i.name) {
                    i.name = free_name(&i.name, &taken);
                }
                taken.insert(i.name.clone());
            }
        }
    }
    for o in old_ifs
        .iter()
        .filter(|o| !reported.contains(&o.mac_address))
    {
        inv.interfaces.push(kept_interface(o));
    }
    Ok(inv)
}

impl Region {
    /// Read the machine's hardware from its Redfish BMC and apply it (admin). 400 when the
    /// power type is not redfish or the parameters are unusable, 409 while the machine is in a
    /// transient status, 503 with the BMC's error when it cannot be read.
    pub async fn read_bmc_inventory(&self, user: &User, system_id: &str) -> Result<Machine> {
        if !user.is_admin {
            return Err(RegionError::Forbidden(
                "Reading the hardware from the BMC needs administrator rights.".into(),
            ));
        }
        let m = self.machine_for(user, system_id).await?;
        if m.power_type != "redfish" {
            let pt = if m.power_type.is_empty() {
                "not set".to_string()
            } else {
                format!("'{}'", m.power_type)
            };
            return Err(RegionError::BadRequest(format!(
                "Reading the hardware from the BMC needs the redfish power type; this machine's power type is {pt}."
            )));
        }
        if m.status.is_transient() {
            return Err(RegionError::Conflict(format!(
                "The machine is {}: read the hardware from the BMC once it is done.",
                m.status.label()
            )));
        }
        let params = self.open_power_params(&m)?;
        let driver = ingot_power::redfish::Redfish::from_params(&params).map_err(|e| {
            RegionError::BadRequest(format!("The machine's Redfish power parameters: {e}"))
        })?;
        let key = ingot_power::bmc_key(&m.power_type, &params);
        let started = std::time::Instant::now();
        let read = self
            .power
            .exclusive(
                &key,
                tokio::time::timeout(READ_DEADLINE, driver.read_inventory()),
            )
            .await;
        let capture = match read {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(
                    PowerFailure::new("Could not read the hardware from the BMC", &e).into(),
                )
            }
            Err(_) => {
                return Err(PowerFailure {
                    what: "Could not read the hardware from the BMC".into(),
                    cause: format!("no complete answer within {READ_DEADLINE:?}"),
                    bad_parameters: false,
                }
                .into())
            }
        };
        let runtime = format!("0:00:{:02}", started.elapsed().as_secs().min(59));
        let inv = inventory_from_capture(&m, &capture).map_err(|e| {
            RegionError::Unavailable(format!("The BMC's inventory could not be used: {e}"))
        })?;
        let doc = serde_json::to_vec_pretty(&capture)
            .map_err(|e| RegionError::Unavailable(format!("capture: {e}")))?;
        self.store
            .store_result(
                m.id,
                "commissioning",
                RESULT_NAME,
                ResultStatus::Passed.number(),
                Some(0),
                &runtime,
                [Some(doc.clone()), Some(doc), None, None],
            )
            .await?;
        self.store
            .apply_inventory(m.id, &inv, m.status != Status::Deployed)
            .await?;
        let summary = format!(
            "Hardware information read from the BMC by {}: {} CPU threads, {} MiB memory, {} block devices, {} interfaces",
            user.username,
            inv.cpu_count,
            inv.memory,
            inv.block_devices.len(),
            inv.interfaces.iter().filter(|i| !i.is_vf).count()
        );
        self.retrying(|| async {
            let fresh = self.load(system_id).await?;
            let c = Change {
                commissioning_passed: Some(true),
                ..Default::default()
            };
            let ev = NewEvent::info(
                "Hardware information read from the BMC",
                summary.clone(),
                &user.username,
            );
            self.store.apply(&fresh, &c, &[ev]).await?;
            Ok(())
        })
        .await?;
        self.load(system_id).await
    }
}
