//! The network-boot decision: which next hop (file / URL / server) a booting client gets.
//!
//! DHCP only decides the next hop; what the machine eventually boots is the region's business
//! (it serves the per-machine iPXE script).

use std::net::Ipv4Addr;

use crate::config::BootConfig;
use crate::HwAddr;

/// Client system architecture (RFC 4578 option 93, IANA "Processor Architecture Types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientArch {
    /// 0: x86 BIOS (legacy PXE).
    BiosX86,
    /// 7 or 9: x86-64 UEFI (PXE over TFTP).
    UefiX64,
    /// 16: x86-64 UEFI HTTP boot.
    UefiHttpX64,
    /// 11: arm64 UEFI (PXE over TFTP).
    UefiArm64,
    /// 19: arm64 UEFI HTTP boot.
    UefiHttpArm64,
    /// Anything else (kept so logs / events can show it).
    Other(u16),
}

impl ClientArch {
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => ClientArch::BiosX86,
            7 | 9 => ClientArch::UefiX64,
            16 => ClientArch::UefiHttpX64,
            11 => ClientArch::UefiArm64,
            19 => ClientArch::UefiHttpArm64,
            other => ClientArch::Other(other),
        }
    }

    /// True for the HTTP-boot architectures (reply must carry option 60 "HTTPClient").
    pub fn is_http(self) -> bool {
        matches!(self, ClientArch::UefiHttpX64 | ClientArch::UefiHttpArm64)
    }
}

/// Vendor class (option 60) value an HTTP-boot client must see in the reply.
pub const HTTP_CLIENT_CLASS: &str = "HTTPClient";

/// What the reply tells a booting client to fetch next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootAnswer {
    /// Option 67 and the BOOTP `file` field: a TFTP path or an HTTP URL.
    pub filename: String,
    /// siaddr, and option 66 (as dotted quad), for TFTP boots.
    pub next_server: Option<Ipv4Addr>,
    /// Option 60 in the reply (`Some("HTTPClient")` for UEFI HTTP boot).
    pub vendor_class: Option<&'static str>,
}

fn join_url(base: &str, file: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{file}")
    } else {
        format!("{base}/{file}")
    }
}

/// The iPXE script URL for a client: `{mac}` in the template becomes `aa:bb:cc:dd:ee:ff`.
pub fn ipxe_script_url(template: &str, mac: &HwAddr) -> String {
    if template.contains("{mac}") {
        template.replace("{mac}", &mac.to_string())
    } else {
        template.to_string()
    }
}

/// Pure decision function.
///
/// * `arch`: option 93 if the client sent one (`None`: no option 93).
/// * `is_ipxe`: the client is iPXE (user class "iPXE" or option 175 present) -> chainload the
///   per-machine iPXE script over HTTP, whatever the architecture.
/// * `next_server`: the subnet's next-server override (else `boot.tftp_server`).
///
/// Returns `None` when the client is not a network-boot client we know how to serve
/// (it still gets an address, just no boot options).
pub fn boot_reply(
    arch: Option<ClientArch>,
    is_ipxe: bool,
    mac: &HwAddr,
    boot: &BootConfig,
    next_server: Option<Ipv4Addr>,
) -> Option<BootAnswer> {
    let tftp = Some(next_server.unwrap_or(boot.tftp_server));
    if is_ipxe {
        return Some(BootAnswer {
            filename: ipxe_script_url(&boot.ipxe_script_url, mac),
            next_server: None,
            vendor_class: None,
        });
    }
    let tftp_file = |f: &str| BootAnswer {
        filename: f.to_string(),
        next_server: tftp,
        vendor_class: None,
    };
    let http_file = |f: &str| BootAnswer {
        filename: join_url(&boot.http_base_url, f),
        next_server: None,
        vendor_class: Some(HTTP_CLIENT_CLASS),
    };
    match arch? {
        ClientArch::BiosX86 => Some(tftp_file(&boot.bios_file)),
        ClientArch::UefiX64 => Some(tftp_file(&boot.uefi_x64_file)),
        ClientArch::UefiArm64 => Some(tftp_file(&boot.uefi_arm64_file)),
        ClientArch::UefiHttpX64 => Some(http_file(&boot.uefi_x64_file)),
        ClientArch::UefiHttpArm64 => Some(http_file(&boot.uefi_arm64_file)),
        ClientArch::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BootConfig {
        BootConfig::new(
            Ipv4Addr::new(10, 0, 0, 1),
            "http://10.0.0.1:5248/boot",
            "http://10.0.0.1:5248/ipxe/boot.ipxe?mac=${net0/mac}&seen={mac}",
        )
    }
    const MAC: HwAddr = HwAddr::eth([0x52, 0x54, 0, 0xab, 0xcd, 0xef]);

    /// Expected answer for every (arch code, is_ipxe) pair: the whole domain of option 93 values
    /// plus "no option 93", times iPXE or not.
    #[test]
    fn decision_table_whole_domain() {
        let c = cfg();
        let script = "http://10.0.0.1:5248/ipxe/boot.ipxe?mac=${net0/mac}&seen=52:54:00:ab:cd:ef";
        let tftp = Some(Ipv4Addr::new(10, 0, 0, 1));
        let mut codes: Vec<Option<u16>> = (0..=u16::MAX).map(Some).collect();
        codes.push(None);
        let mut counts = [0usize; 6];
        for code in codes {
            for ipxe in [false, true] {
                let arch = code.map(ClientArch::from_code);
                let got = boot_reply(arch, ipxe, &MAC, &c, None);
                let want = if ipxe {
                    counts[0] += 1;
                    Some((script.to_string(), None, None))
                } else {
                    match code {
                        Some(0) => {
                            counts[1] += 1;
                            Some(("undionly.kpxe".to_string(), tftp, None))
                        }
                        Some(7) | Some(9) => {
                            counts[2] += 1;
                            Some(("ipxe.efi".to_string(), tftp, None))
                        }
                        Some(11) => {
                            counts[3] += 1;
                            Some(("ipxe-arm64.efi".to_string(), tftp, None))
                        }
                        Some(16) => {
                            counts[4] += 1;
                            Some((
                                "http://10.0.0.1:5248/boot/ipxe.efi".to_string(),
                                None,
                                Some("HTTPClient"),
                            ))
                        }
                        Some(19) => {
                            counts[5] += 1;
                            Some((
                                "http://10.0.0.1:5248/boot/ipxe-arm64.efi".to_string(),
                                None,
                                Some("HTTPClient"),
                            ))
                        }
                        _ => None,
                    }
                };
                let got = got.map(|a| (a.filename, a.next_server, a.vendor_class));
                assert_eq!(got, want, "arch {code:?} ipxe {ipxe}");
            }
        }
        assert_eq!(counts, [65537, 1, 2, 1, 1, 1]);
    }

    #[test]
    fn subnet_next_server_overrides_tftp_server() {
        let ns = Ipv4Addr::new(10, 9, 9, 9);
        let a = boot_reply(Some(ClientArch::BiosX86), false, &MAC, &cfg(), Some(ns)).unwrap();
        assert_eq!(a.next_server, Some(ns));
        // HTTP and iPXE answers carry no TFTP next-server.
        let a = boot_reply(Some(ClientArch::UefiHttpX64), false, &MAC, &cfg(), Some(ns)).unwrap();
        assert_eq!(a.next_server, None);
    }

    #[test]
    fn url_join() {
        assert_eq!(join_url("http://h/b/", "x"), "http://h/b/x");
        assert_eq!(join_url("http://h/b", "x"), "http://h/b/x");
        assert_eq!(ipxe_script_url("http://h/s", &MAC), "http://h/s");
    }
}
