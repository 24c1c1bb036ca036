//! The kernel command line: `ingot.url=... ingot.purpose=... ingot.mac=...`, and for
//! commissioning and testing `ingot.system_id=... ingot.token=CK:TK:TS BOOTIF=01-aa-bb-...`.

/// What the region told the ephemeral environment through the kernel command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelParams {
    /// The region's MAAS API root, e.g. `http://10.0.0.1:5240/MAAS` (no trailing slash).
    pub url: Option<String>,
    /// `enlist`, `commission`, ...
    pub purpose: Option<String>,
    /// The MAC the machine booted from, lower-case.
    pub mac: Option<String>,
    /// The machine's system_id (commissioning and testing).
    pub system_id: Option<String>,
    /// The machine's OAuth token `consumer_key:token_key:token_secret`.
    pub token: Option<String>,
    /// The boot interface from pxelinux-style `BOOTIF=01-aa-bb-cc-dd-ee-ff`, lower-case with
    /// colons.
    pub bootif: Option<String>,
}

/// Splits a kernel command line into words, honouring double quotes the way the kernel does
/// (`key="a b"` is one parameter whose value is `a b`).
pub fn split(cmdline: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut any = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                any = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

/// Parses the `ingot.*` parameters; a later occurrence wins, as in the kernel.
pub fn parse(cmdline: &str) -> KernelParams {
    let mut p = KernelParams::default();
    for word in split(cmdline) {
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key {
            "ingot.url" => p.url = Some(value.trim_end_matches('/').to_string()),
            "ingot.purpose" => p.purpose = Some(value.to_ascii_lowercase()),
            "ingot.mac" => p.mac = Some(normalize_mac(value)),
            "ingot.system_id" => p.system_id = Some(value.to_string()),
            "ingot.token" => p.token = Some(value.to_string()),
            "BOOTIF" => p.bootif = Some(normalize_mac(value)),
            _ => {}
        }
    }
    p
}

/// `52-54-00-AB-CD-EF` / `52:54:00:AB:CD:EF` -> `52:54:00:ab:cd:ef`. (iPXE's `${net0/mac}`
/// gives colons; pxelinux-style `01-` prefixed hardware-type forms are accepted too.)
pub fn normalize_mac(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase().replace('-', ":");
    match s.strip_prefix("01:") {
        Some(rest) if rest.len() == 17 => rest.to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ingot_params() {
        let p = parse(
            "BOOT_IMAGE=/vmlinuz console=ttyS0 ingot.url=http://10.0.0.1:5240/MAAS/ ingot.purpose=enlist \
             ingot.mac=52:54:00:AA:BB:CC quiet\n",
        );
        assert_eq!(p.url.as_deref(), Some("http://10.0.0.1:5240/MAAS"));
        assert_eq!(p.purpose.as_deref(), Some("enlist"));
        assert_eq!(p.mac.as_deref(), Some("52:54:00:aa:bb:cc"));
    }

    #[test]
    fn missing_and_empty_params() {
        assert_eq!(parse("console=ttyS0 quiet"), KernelParams::default());
        assert_eq!(parse("ingot.url= ingot.purpose"), KernelParams::default());
        assert_eq!(parse(""), KernelParams::default());
    }

    #[test]
    fn quotes_and_last_wins() {
        assert_eq!(split(r#"a="b c" d  e"#), ["a=b c", "d", "e"]);
        let p = parse(r#"ingot.purpose=enlist ingot.purpose="Commission""#);
        assert_eq!(p.purpose.as_deref(), Some("commission"));
    }

    #[test]
    fn commissioning_params() {
        let p = parse(
            "ingot.url=http://r:5240/MAAS ingot.purpose=commission ingot.mac=52:54:00:00:00:01 \
             ingot.system_id=abc123 ingot.token=ck:tk:ts BOOTIF=01-52-54-00-AA-BB-CC",
        );
        assert_eq!(p.purpose.as_deref(), Some("commission"));
        assert_eq!(p.system_id.as_deref(), Some("abc123"));
        assert_eq!(p.token.as_deref(), Some("ck:tk:ts"));
        assert_eq!(p.bootif.as_deref(), Some("52:54:00:aa:bb:cc"));
    }

    #[test]
    fn mac_forms() {
        assert_eq!(normalize_mac("01-52-54-00-12-34-56"), "52:54:00:12:34:56");
        assert_eq!(normalize_mac("52-54-00-12-34-5F"), "52:54:00:12:34:5f");
    }
}
