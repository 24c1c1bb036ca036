//! Out-of-band hardware inventory (`POST machines/{id}/?op=read_bmc_inventory`): a machine's
//! hardware read from its Redfish BMC, for machines where no agent can run. The BMC's answers
//! (`ingot_power::redfish` `read_inventory`) are converted by `ingot_core::redfish` into a
//! machine-resources document and written by the same `Store::apply_inventory` as
//! commissioning output, so the machine shows CPU, memory, disks and interfaces as if
//! commissioned; `commissioning_passed` is set, so that a release goes to READY.
//!
//! Parts the BMC does not report (no Processors, no Memory, no drives, no NICs) keep what the
//! machine had: threads, speed and memory stay, and the existing disks and physical interfaces
//! are carried into the inventory unchanged instead of being deleted.
//!
//! The capture is recorded as the script result `redfish-inventory` of the machine's
//! `commissioning` result set (stdout: the capture as JSON), so `nodes/{id}/results/` shows where
//! the data came from. A later commissioning replaces that result set.

use crate::{Region, RegionError, Result};
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

/// The inventory for `m` from a capture: converted, derived, and the unreported parts filled
/// from what the machine already had. Errors are the BMC's (its answers made no sense).
pub fn inventory_from_capture(
    m: &Machine,
    capture: &Value,
) -> std::result::Result<Inventory, String> {
    let conv = ingot_core::redfish::resources(capture).map_err(|e| e.to_string())?;
    let mut inv = inventory::derive_value(&conv.resources).map_err(|e| e.to_string())?;
    if !conv.reported.cpu {
        inv.cpu_count = m.cpu_count.max(0) as u64;
        inv.cpu_speed = m.cpu_speed.max(0) as u64;
    }
    if !conv.reported.memory {
        inv.memory = m.memory.max(0) as u64;
    }
    if !conv.reported.storage {
        inv.block_devices = m.block_devices.iter().map(kept_disk).collect();
        inv.boot_disk = m
            .block_devices
            .iter()
            .find(|b| b.is_boot)
            .map(|b| b.name.clone());
        let total: i64 = m.block_devices.iter().map(|b| b.size.max(0)).sum();
        inv.storage = total as f64 / 1e6;
    }
    if !conv.reported.interfaces {
        inv.interfaces = m
            .interfaces
            .iter()
            .filter(|i| i.is_physical())
            .map(kept_interface)
            .collect();
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
            Ok(Err(ingot_power::PowerError::BadParams(e))) => {
                return Err(RegionError::BadRequest(format!(
                    "Could not read the hardware from the BMC: {e}"
                )))
            }
            Ok(Err(e)) => {
                return Err(RegionError::Unavailable(format!(
                    "Could not read the hardware from the BMC: {e}"
                )))
            }
            Err(_) => {
                return Err(RegionError::Unavailable(format!(
                    "Could not read the hardware from the BMC: no complete answer within {READ_DEADLINE:?}"
                )))
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
