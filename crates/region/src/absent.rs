//! What MAAS has and Ingot does not: VM hosts (LXD, virsh) with their virtual machines and
//! clusters, VMware datastores, Windows licence keys, network discovery. Their handlers are
//! answered as MAAS answers with none configured (`api/src/absent.rs`); creating one is
//! refused here, administrators first, with the reason.

use crate::settings::need_admin;
use crate::{Region, RegionError, Result};
use ingot_store::User;

/// A kind of thing Ingot has none of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absent {
    VmHosts,
    VmClusters,
    VirtualMachines,
    VmfsDatastores,
    LicenseKeys,
    Discovery,
}

impl Absent {
    /// MAAS's model name, for "No … matches the given query."
    pub fn model(self) -> &'static str {
        match self {
            Absent::VmHosts => "Pod",
            Absent::VmClusters => "VMCluster",
            Absent::VirtualMachines => "VirtualMachine",
            Absent::VmfsDatastores => "VMFS",
            Absent::LicenseKeys => "LicenseKey",
            Absent::Discovery => "Discovery",
        }
    }

    /// Why there are none.
    pub fn why(self) -> &'static str {
        match self {
            Absent::VmHosts | Absent::VmClusters | Absent::VirtualMachines => {
                "Ingot manages no VM hosts (LXD or virsh): it provisions physical machines; add a VM as a machine with its BMC (e.g. power_type=redfish or qemu)."
            }
            Absent::VmfsDatastores => {
                "Ingot deploys no VMware ESXi images, so a machine has no VMFS datastores."
            }
            Absent::LicenseKeys => "Ingot deploys no Windows images, which are what licence keys are for.",
            Absent::Discovery => {
                "Ingot does not listen for or scan unknown devices on its networks (network discovery); its netboot timeline records every MAC that boots."
            }
        }
    }
}

impl Region {
    /// Creating or changing one of `what` (administrators only, checked first): refused with
    /// the reason.
    pub fn refuse_absent(&self, u: &User, what: Absent) -> Result<()> {
        need_admin(u)?;
        Err(RegionError::BadRequest(what.why().into()))
    }

    /// One of `what` by id: there is none (404); changing it needs an administrator first.
    pub fn absent_item(&self, u: &User, what: Absent, write: bool) -> Result<()> {
        if write {
            need_admin(u)?;
        }
        Err(RegionError::NotFound(format!(
            "No {} matches the given query.",
            what.model()
        )))
    }

    /// `discovery/?op=clear` (administrators): nothing is ever discovered, so nothing is left
    /// to clear.
    pub fn clear_discoveries(&self, u: &User) -> Result<()> {
        need_admin(u)
    }
}
