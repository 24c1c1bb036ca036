//! Identifiers and names: system ids, hostnames, MAC addresses, architectures.

/// The alphabet of MAAS "z-numbers" (no vowels or look-alikes).
const ZALPHABET: &[u8] = b"34678abcdefghkmnpqrstwxy";

/// A 6-character system id from a random number, uniformly in [24^5, 24^6).
pub fn system_id_from_random(r: u64) -> String {
    const LO: u64 = 24u64.pow(5);
    const HI: u64 = 24u64.pow(6);
    let mut n = LO + r % (HI - LO);
    let mut out = [0u8; 6];
    for slot in out.iter_mut().rev() {
        *slot = ZALPHABET[(n % 24) as usize];
        n /= 24;
    }
    out.iter().map(|&b| b as char).collect()
}

/// Whether `s` looks like a system id.
pub fn is_system_id(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| ZALPHABET.contains(&b))
}

const ADJECTIVES: &[&str] = &[
    "able", "bold", "brave", "calm", "clean", "cool", "crisp", "eager", "fair", "fast", "fine",
    "glad", "good", "grand", "happy", "keen", "kind", "lucky", "neat", "noble", "proud", "quick",
    "quiet", "rapid", "sharp", "smart", "solid", "steady", "sunny", "swift", "tidy", "vivid",
];
const NOUNS: &[&str] = &[
    "anvil", "badger", "beacon", "cedar", "comet", "crane", "falcon", "ferret", "forge", "gecko",
    "heron", "ibex", "kestrel", "lark", "lynx", "marten", "newt", "otter", "panda", "quail",
    "raven", "robin", "salmon", "stoat", "swift", "tapir", "thrush", "trout", "viper", "walrus",
    "wren", "yak",
];

/// A readable random hostname ("brave-otter-1234") from a random number.
pub fn petname(r: u64) -> String {
    let a = ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize];
    let n = NOUNS[((r >> 8) % NOUNS.len() as u64) as usize];
    format!("{a}-{n}-{:04}", (r >> 16) % 10000)
}

/// Validate a hostname label (RFC 1123, lower-cased by the caller). Returns an error message.
pub fn validate_hostname(h: &str) -> Result<(), String> {
    if h.is_empty() || h.len() > 63 {
        return Err("Hostname must be 1 to 63 characters long.".into());
    }
    let b = h.as_bytes();
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
    if !b.iter().all(|&c| ok_char(c)) || b[0] == b'-' || b[b.len() - 1] == b'-' {
        return Err(format!(
            "Invalid hostname '{h}': use letters, digits and hyphens, not starting or ending with a hyphen."
        ));
    }
    Ok(())
}

/// Hostnames that look derived from an IP address (`10-0-0-1`) are replaced by MAAS.
pub fn looks_ip_derived(h: &str) -> bool {
    let parts: Vec<&str> = h.rsplitn(5, '-').collect();
    parts.len() >= 4
        && parts[..4]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Normalise a MAC address to lower-case colon form; `None` if it is not one.
/// Accepts `aa:bb:cc:dd:ee:ff`, `aa-bb-…`, `aabb.ccdd.eeff` and `aabbccddeeff`.
pub fn normalize_mac(s: &str) -> Option<String> {
    let hex: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    let seps = s
        .trim()
        .chars()
        .filter(|c| matches!(c, ':' | '-' | '.'))
        .count();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) || !matches!(seps, 0 | 2 | 5)
    {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(
        (0..6)
            .map(|i| &hex[i * 2..i * 2 + 2])
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Architectures Ingot knows (Debian names).
pub const ARCHITECTURES: &[&str] = &[
    "amd64", "arm64", "i386", "armhf", "ppc64el", "s390x", "riscv64",
];

/// Normalise `architecture` (+ optional `subarchitecture`) to `arch/subarch`.
/// `Ok(None)` when neither is given.
pub fn normalize_architecture(
    arch: Option<&str>,
    subarch: Option<&str>,
) -> Result<Option<String>, String> {
    let arch = arch.map(str::trim).filter(|a| !a.is_empty());
    let subarch = subarch.map(str::trim).filter(|a| !a.is_empty());
    let Some(arch) = arch else {
        return match subarch {
            Some(_) => Err("Subarchitecture given without an architecture.".into()),
            None => Ok(None),
        };
    };
    let (base, sub) = match (arch.split_once('/'), subarch) {
        (Some(_), Some(_)) => return Err("Subarchitecture cannot be specified twice.".into()),
        (Some((b, s)), None) => (b, s),
        (None, Some(s)) => (arch, s),
        (None, None) => (arch, "generic"),
    };
    if !ARCHITECTURES.contains(&base) {
        return Err(format!(
            "'{arch}' is not a valid architecture. Known: {}.",
            ARCHITECTURES.join(", ")
        ));
    }
    if sub.is_empty() || sub.contains('/') || sub.starts_with("hwe-") || sub.starts_with("ga-") {
        return Err(format!("'{sub}' is not a valid subarchitecture."));
    }
    Ok(Some(format!("{base}/{sub}")))
}

/// Lower-case hexadecimal of `bytes` (digests, keys).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A name of a tag, zone or resource pool: letters, digits, `-` and `_`, 1 to 256 bytes.
pub fn is_valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 256
        && n.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_ids() {
        for r in [0u64, 1, 12345, u64::MAX, 191_102_975] {
            let id = system_id_from_random(r);
            assert!(is_system_id(&id), "{id}");
        }
        assert_eq!(system_id_from_random(0), "433333");
        assert_ne!(system_id_from_random(1), system_id_from_random(2));
    }

    #[test]
    fn macs() {
        assert_eq!(
            normalize_mac("52:54:00:AB:cd:01").as_deref(),
            Some("52:54:00:ab:cd:01")
        );
        assert_eq!(
            normalize_mac("52-54-00-ab-cd-01").as_deref(),
            Some("52:54:00:ab:cd:01")
        );
        assert_eq!(
            normalize_mac("5254.00ab.cd01").as_deref(),
            Some("52:54:00:ab:cd:01")
        );
        assert_eq!(
            normalize_mac("525400abcd01").as_deref(),
            Some("52:54:00:ab:cd:01")
        );
        assert_eq!(normalize_mac("52:54:00:ab:cd"), None);
        assert_eq!(normalize_mac("zz:54:00:ab:cd:01"), None);
        assert_eq!(
            normalize_mac("52:5:400:ab:cd:01"),
            Some("52:54:00:ab:cd:01".into())
        );
    }

    #[test]
    fn architectures() {
        assert_eq!(
            normalize_architecture(Some("amd64"), None),
            Ok(Some("amd64/generic".into()))
        );
        assert_eq!(
            normalize_architecture(Some("arm64"), Some("xgene")),
            Ok(Some("arm64/xgene".into()))
        );
        assert!(normalize_architecture(Some("amd64/hwe-22.04"), None).is_err());
        assert!(normalize_architecture(Some("amd64/generic"), Some("generic")).is_err());
        assert!(normalize_architecture(Some("vax"), None).is_err());
        assert_eq!(normalize_architecture(None, None), Ok(None));
    }

    #[test]
    fn hostnames() {
        assert!(validate_hostname("node-1").is_ok());
        assert!(validate_hostname("-node").is_err());
        assert!(validate_hostname("Node").is_err());
        assert!(validate_hostname("").is_err());
        assert!(looks_ip_derived("10-0-0-1"));
        assert!(looks_ip_derived("host-192-168-1-20"));
        assert!(!looks_ip_derived("node-1"));
        let p = petname(987654321);
        assert!(validate_hostname(&p).is_ok(), "{p}");
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn names_of_tags_zones_and_pools() {
        let long = "a".repeat(256);
        let too_long = "a".repeat(257);
        let table: &[(&str, bool)] = &[
            ("virtual", true),
            ("rack-2_b", true),
            ("zoné", true),
            (&long, true),
            (&too_long, false),
            ("", false),
            ("a b", false),
            ("a/b", false),
            ("a.b", false),
        ];
        for (n, ok) in table {
            assert_eq!(is_valid_name(n), *ok, "{n:?}");
        }
    }
}
