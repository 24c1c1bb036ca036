//! The one function that decides what a machine boots. Every boot path (PXE, iPXE, UEFI HTTP,
//! …) asks it; DHCP and TFTP only decide how the next hop is fetched.

use crate::status::Status::{self, *};

/// The firmware's boot method, as DHCP option 93 / the user class reveal it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Firmware {
    /// Legacy BIOS PXE.
    Bios,
    /// UEFI PXE (TFTP).
    Uefi,
    /// UEFI HTTP boot.
    UefiHttp,
    /// iPXE (already chain-loaded, or the NIC's own ROM).
    Ipxe,
}

/// Why the ephemeral environment is booted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Enlist,
    Commission,
    Test,
    Rescue,
    Deploy,
    Erase,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Enlist => "enlist",
            Purpose::Commission => "commission",
            Purpose::Test => "test",
            Purpose::Rescue => "rescue",
            Purpose::Deploy => "deploy",
            Purpose::Erase => "erase",
        }
    }
}

/// What the machine boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootDecision {
    /// The ephemeral environment, for this purpose.
    Ephemeral(Purpose),
    /// Its own disk.
    LocalDisk,
    /// Nothing: the machine is not meant to run now (or cannot boot here); the reason says why.
    Nothing(String),
}

/// A known machine's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownMachine {
    pub status: Status,
    /// The netboot flag: off once an installed OS should boot from disk.
    pub netboot: bool,
    /// A DEPLOYING machine still waiting for a deployment slot (not admitted yet): it must not
    /// start installing.
    pub deploy_queued: bool,
}

/// Everything the decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFacts {
    /// The machine behind the MAC, if any.
    pub machine: Option<KnownMachine>,
    pub firmware: Firmware,
    /// Debian architecture ("amd64", "arm64", …) reported by the firmware.
    pub arch: String,
    /// An ephemeral image exists for `arch`.
    pub image_available: bool,
    /// Unknown machines may enlist.
    pub enlistment_allowed: bool,
}

/// The purpose a status needs the ephemeral environment for, if any.
pub fn purpose_for(status: Status, netboot: bool) -> Option<Purpose> {
    match status {
        New => Some(Purpose::Enlist),
        Commissioning => Some(Purpose::Commission),
        Testing => Some(Purpose::Test),
        EnteringRescueMode | RescueMode => Some(Purpose::Rescue),
        Deploying if netboot => Some(Purpose::Deploy),
        DiskErasing => Some(Purpose::Erase),
        _ => None,
    }
}

/// Decide what a machine boots.
pub fn decide(f: &BootFacts) -> BootDecision {
    let ephemeral = |p: Purpose| {
        if f.image_available {
            BootDecision::Ephemeral(p)
        } else {
            BootDecision::Nothing(format!("no ephemeral image for architecture '{}'", f.arch))
        }
    };
    let Some(m) = f.machine else {
        return if f.enlistment_allowed {
            ephemeral(Purpose::Enlist)
        } else {
            BootDecision::Nothing("unknown machine and enlistment is off".into())
        };
    };
    if m.status == Deploying && m.deploy_queued {
        return BootDecision::Nothing("waiting for a deployment slot".into());
    }
    if let Some(p) = purpose_for(m.status, m.netboot) {
        return ephemeral(p);
    }
    // A deployed machine always boots its disk; any other machine whose OS should run (netboot
    // off) too. The rest are not meant to run now.
    if m.status == Deployed || !m.netboot {
        BootDecision::LocalDisk
    } else {
        BootDecision::Nothing(format!(
            "machine is '{}': nothing to boot",
            m.status.label()
        ))
    }
}

/// Whether a hop of a MAC's netboot timeline (as the racks and the region record them) is
/// where the boot went wrong: DHCP that answered nothing or refused (NAK, decline, unknown
/// MAC, another server's offer, no free address), a TFTP transfer refused or abandoned, an
/// iPXE script that boots nothing.
pub fn hop_failed(hop: &str, detail: &str) -> bool {
    match hop {
        "dhcp" => ["Naked", "Declined", "Ignored", "PoolExhausted"]
            .iter()
            .any(|k| detail.contains(k)),
        "tftp" => detail.contains("Refused") || detail.contains("Failed"),
        "http" => detail.contains("-> nothing"),
        _ => detail.contains("failed") || detail.contains("error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_hops() {
        for (hop, detail, failed) in [
            ("dhcp", "DISCOVER -> Offered 10.0.0.5, arch Some(7)", false),
            ("dhcp", "REQUEST -> Acked 10.0.0.5", false),
            ("dhcp", "DISCOVER -> IgnoredUnknown", true),
            ("dhcp", "REQUEST -> Naked", true),
            ("dhcp", "DISCOVER -> PoolExhausted", true),
            (
                "tftp",
                "ipxe.efi Started { size: Some(1), blksize: 1468, windowsize: 1 }",
                false,
            ),
            ("tftp", "ipxe.efi Finished { bytes: 1 }", false),
            (
                "tftp",
                "x.efi Refused { code: FileNotFound, reason: \"no such file\" }",
                true,
            ),
            (
                "tftp",
                "ipxe.efi Failed { bytes: 0, reason: \"timeout\" }",
                true,
            ),
            (
                "http",
                "GET /MAAS/boot/ipxe (amd64, Bios) -> local disk",
                false,
            ),
            (
                "http",
                "GET /MAAS/boot/ipxe (amd64, Bios) -> nothing: no image",
                true,
            ),
            ("metadata", "commissioning scripts fetched", false),
        ] {
            assert_eq!(hop_failed(hop, detail), failed, "{hop} {detail}");
        }
    }

    /// Expected decision per status, for (netboot on, netboot off), with an image available.
    /// E = ephemeral purpose, L = local disk, N = nothing.
    fn table(s: Status) -> (&'static str, &'static str) {
        match s {
            New => ("E:enlist", "E:enlist"),
            Commissioning => ("E:commission", "E:commission"),
            FailedCommissioning => ("N", "L"),
            Missing => ("N", "L"),
            Ready => ("N", "L"),
            Reserved => ("N", "L"),
            Deployed => ("L", "L"),
            Retired => ("N", "L"),
            Broken => ("N", "L"),
            Deploying => ("E:deploy", "L"),
            Allocated => ("N", "L"),
            FailedDeployment => ("N", "L"),
            Releasing => ("N", "L"),
            FailedReleasing => ("N", "L"),
            DiskErasing => ("E:erase", "E:erase"),
            FailedDiskErasing => ("N", "L"),
            RescueMode => ("E:rescue", "E:rescue"),
            EnteringRescueMode => ("E:rescue", "E:rescue"),
            FailedEnteringRescueMode => ("N", "L"),
            ExitingRescueMode => ("N", "L"),
            FailedExitingRescueMode => ("N", "L"),
            Testing => ("E:test", "E:test"),
            FailedTesting => ("N", "L"),
        }
    }

    fn code(d: &BootDecision) -> String {
        match d {
            BootDecision::Ephemeral(p) => format!("E:{}", p.as_str()),
            BootDecision::LocalDisk => "L".into(),
            BootDecision::Nothing(_) => "N".into(),
        }
    }

    /// The whole domain: every status × netboot × firmware × image × enlistment, plus unknown
    /// machines.
    #[test]
    fn whole_domain() {
        let firmwares = [
            Firmware::Bios,
            Firmware::Uefi,
            Firmware::UefiHttp,
            Firmware::Ipxe,
        ];
        let mut n = 0;
        for fw in firmwares {
            for image in [true, false] {
                for enlist in [true, false] {
                    for s in Status::ALL {
                        for netboot in [true, false] {
                            let f = BootFacts {
                                machine: Some(KnownMachine {
                                    status: s,
                                    netboot,
                                    deploy_queued: false,
                                }),
                                firmware: fw,
                                arch: "amd64".into(),
                                image_available: image,
                                enlistment_allowed: enlist,
                            };
                            let want = if netboot { table(s).0 } else { table(s).1 };
                            let got = code(&decide(&f));
                            let want = if want.starts_with("E:") && !image {
                                "N"
                            } else {
                                want
                            };
                            assert_eq!(
                                got, want,
                                "{s:?} netboot={netboot} fw={fw:?} image={image} enlist={enlist}"
                            );
                            n += 1;
                        }
                    }
                    let unknown = BootFacts {
                        machine: None,
                        firmware: fw,
                        arch: "arm64".into(),
                        image_available: image,
                        enlistment_allowed: enlist,
                    };
                    let want = if enlist && image { "E:enlist" } else { "N" };
                    assert_eq!(
                        code(&decide(&unknown)),
                        want,
                        "unknown fw={fw:?} image={image} enlist={enlist}"
                    );
                    n += 1;
                }
            }
        }
        assert_eq!(n, 4 * 2 * 2 * (23 * 2 + 1));
    }

    /// A queued deployment boots nothing, whatever its netboot flag, until it is admitted.
    #[test]
    fn queued_deployment_waits() {
        for netboot in [true, false] {
            let f = BootFacts {
                machine: Some(KnownMachine {
                    status: Deploying,
                    netboot,
                    deploy_queued: true,
                }),
                firmware: Firmware::Ipxe,
                arch: "amd64".into(),
                image_available: true,
                enlistment_allowed: true,
            };
            assert!(
                matches!(decide(&f), BootDecision::Nothing(r) if r.contains("deployment slot")),
                "netboot={netboot}"
            );
        }
    }

    #[test]
    fn reasons_are_given() {
        let f = BootFacts {
            machine: None,
            firmware: Firmware::Bios,
            arch: "riscv64".into(),
            image_available: false,
            enlistment_allowed: true,
        };
        assert_eq!(
            decide(&f),
            BootDecision::Nothing("no ephemeral image for architecture 'riscv64'".into())
        );
        let f = BootFacts {
            enlistment_allowed: false,
            image_available: true,
            ..f
        };
        assert!(matches!(decide(&f), BootDecision::Nothing(r) if r.contains("enlistment is off")));
    }
}
