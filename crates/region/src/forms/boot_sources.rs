//! The forms of `boot-sources/` and their selections: MAAS's parameters in, a changed source or
//! selection out (pure; the region checks what needs the disk).

use crate::{FieldErrors, Region, Result};
use base64::Engine;
use ingot_store::sources::{BootSource, BootSourceSelection};
use ingot_wire::Params;

/// The keyring as given: a file part's bytes, or a parameter holding base64 or an armored key.
/// Empty means "no keyring"; None when not given or refused (with the reason in `fe`).
fn keyring(p: &Params, file: Option<&[u8]>, fe: &mut FieldErrors) -> Option<Vec<u8>> {
    let raw: Vec<u8> = match file {
        Some(f) => f.to_vec(),
        None => p.get_bytes("keyring_data")?.to_vec(),
    };
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Some(Vec::new());
    }
    let bytes = if raw.starts_with(b"-----BEGIN PGP") || !raw.is_ascii() {
        raw
    } else {
        let text: String = String::from_utf8_lossy(&raw)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(b) => b,
            Err(_) => raw,
        }
    };
    if let Err(crate::RegionError::Fields(m)) = Region::check_keyring(&bytes) {
        for (k, v) in m {
            for msg in v {
                fe.add(&k, msg);
            }
        }
        return None;
    }
    Some(bytes)
}

fn valid_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > "https://".len()
}

/// Apply `url`, `keyring_filename` and `keyring_data` (a parameter or `keyring_file`) to a
/// source; `creating` makes `url` required.
pub fn boot_source(
    p: &Params,
    keyring_file: Option<&[u8]>,
    s: &mut BootSource,
    creating: bool,
) -> Result<()> {
    let mut fe = FieldErrors::default();
    match p.get("url").map(str::trim) {
        Some(u) if valid_url(u) => s.url = u.to_string(),
        Some(u) => fe.add("url", format!("'{u}' is not an http:// or https:// URL.")),
        None if creating => fe.add("url", "This field is required."),
        None => {}
    }
    if let Some(f) = p.get("keyring_filename") {
        s.keyring_filename = f.trim().to_string();
    }
    if let Some(k) = keyring(p, keyring_file, &mut fe) {
        s.keyring_data = base64::engine::general_purpose::STANDARD.encode(k);
    }
    fe.check()
}

/// A list parameter (repeated or comma-separated); given but empty means all (`*`).
fn list_or_all(p: &Params, name: &str) -> Option<Vec<String>> {
    if p.get_all(name).is_empty() {
        return None;
    }
    let v = super::list(p, name);
    Some(if v.is_empty() { vec!["*".into()] } else { v })
}

/// Apply `os`, `release`, `arches`, `subarches` and `labels` to a selection; `creating`
/// makes `os` and `release` required.
pub fn selection(p: &Params, s: &mut BootSourceSelection, creating: bool) -> Result<()> {
    let mut fe = FieldErrors::default();
    let name_ok = |v: &str| {
        v == "*"
            || (!v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)))
    };
    for (field, slot) in [("os", &mut s.os), ("release", &mut s.release)] {
        match p.get(field).map(str::trim) {
            Some(v) if name_ok(v) => *slot = v.to_string(),
            Some(v) => fe.add(field, format!("'{v}' is not a valid {field}.")),
            None if creating => fe.add(field, "This field is required."),
            None => {}
        }
    }
    for (field, slot) in [
        ("arches", &mut s.arches),
        ("subarches", &mut s.subarches),
        ("labels", &mut s.labels),
    ] {
        if let Some(v) = list_or_all(p, field) {
            if let Some(bad) = v.iter().find(|x| !name_ok(x)) {
                fe.add(field, format!("'{bad}' is not a valid value."));
            }
            *slot = v;
        }
    }
    fe.check()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> Params {
        let mut p = Params::new();
        for (k, v) in kv {
            p.push(*k, v.as_bytes().to_vec());
        }
        p
    }

    fn fields(r: Result<()>) -> Vec<String> {
        match r {
            Ok(()) => vec![],
            Err(crate::RegionError::Fields(m)) => m.into_keys().collect(),
            Err(e) => vec![format!("other: {e}")],
        }
    }

    /// Each form → the fields refused (none: accepted).
    #[test]
    fn source_forms() {
        type Row = (
            &'static [(&'static str, &'static str)],
            bool,
            &'static [&'static str],
        );
        let table: &[Row] = &[
            (&[("url", "http://mirror/")], true, &[]),
            (&[("url", " https://m.example/x/ ")], true, &[]),
            (&[], true, &["url"]),
            (&[], false, &[]),
            (&[("url", "ftp://mirror/")], true, &["url"]),
            (&[("url", "http://")], true, &["url"]),
            (&[("url", "http://m/"), ("keyring_data", "")], true, &[]),
            (
                &[("url", "http://m/"), ("keyring_data", "bm90IGEga2V5")],
                true,
                &["keyring_data"],
            ),
        ];
        for (kv, creating, want) in table {
            let mut s = BootSource::default();
            assert_eq!(
                fields(boot_source(&params(kv), None, &mut s, *creating)),
                *want,
                "{kv:?}"
            );
        }
    }

    #[test]
    fn selection_forms() {
        type Row = (
            &'static [(&'static str, &'static str)],
            bool,
            &'static [&'static str],
            &'static [&'static str],
        );
        let table: &[Row] = &[
            (&[("os", "ubuntu"), ("release", "jammy")], true, &[], &["*"]),
            (
                &[
                    ("os", "ubuntu"),
                    ("release", "jammy"),
                    ("arches", "amd64,arm64"),
                ],
                true,
                &[],
                &["amd64", "arm64"],
            ),
            (
                &[("os", "ubuntu"), ("release", "jammy"), ("arches", "")],
                true,
                &[],
                &["*"],
            ),
            (&[("os", "ubuntu")], true, &["release"], &["*"]),
            (
                &[("os", "ubu ntu"), ("release", "x")],
                true,
                &["os"],
                &["*"],
            ),
            (
                &[("os", "u"), ("release", "x"), ("arches", "amd64;rm")],
                true,
                &["arches"],
                &["amd64;rm"],
            ),
            (&[], false, &[], &["*"]),
        ];
        for (kv, creating, want, arches) in table {
            let mut s = BootSourceSelection {
                id: 0,
                boot_source_id: 1,
                os: String::new(),
                release: String::new(),
                arches: vec!["*".into()],
                subarches: vec!["*".into()],
                labels: vec!["*".into()],
            };
            assert_eq!(
                fields(selection(&params(kv), &mut s, *creating)),
                *want,
                "{kv:?}"
            );
            assert_eq!(s.arches, *arches, "{kv:?}");
        }
    }
}
