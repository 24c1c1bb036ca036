//! Simplestreams, the format MAAS image mirrors publish (pure: no IO).
//!
//! A mirror has an index (`streams/v1/index.json`, or `index.sjson` clear-signed) naming
//! product files (`streams/v1/<content_id>.json`/`.sjson`). A product file holds
//! `products → versions → items`; each item is one file (`ftype`, `path` relative to the
//! mirror's root, `sha256`, `size`). Attributes set on an outer level (the file, a product, a
//! version) apply to everything inside it unless it sets its own (simplestreams "expansion").
//!
//! [`plan`] turns product files and the boot-source selections into the list of files to
//! fetch: for each selected product, its newest version's items.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Problems with a stream's documents; the message names what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StreamError(pub String);

fn err(s: impl Into<String>) -> StreamError {
    StreamError(s.into())
}

/// One product file listed in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub content_id: String,
    pub datatype: String,
    /// Relative to the mirror's root, as the index gives it (`….json`).
    pub path: String,
}

/// The index's product files of `datatype` `image-downloads` (the images; `image-ids` and
/// others are not downloads).
pub fn parse_index(text: &str) -> Result<Vec<IndexEntry>, StreamError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| err(format!("the index is not JSON: {e}")))?;
    let fmt = v.get("format").and_then(Value::as_str).unwrap_or("");
    if fmt != "index:1.0" {
        return Err(err(format!(
            "the index's format is '{fmt}', not 'index:1.0'"
        )));
    }
    let index = v
        .get("index")
        .and_then(Value::as_object)
        .ok_or_else(|| err("the index has no 'index' object"))?;
    let mut out = Vec::new();
    for (cid, e) in index {
        let datatype = e
            .get("datatype")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if datatype != "image-downloads" {
            continue;
        }
        let path = e
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| err(format!("index entry '{cid}' has no path")))?;
        out.push(IndexEntry {
            content_id: cid.clone(),
            datatype,
            path: safe_path(path)?,
        });
    }
    Ok(out)
}

/// A path relative to the mirror's root that cannot leave it (no `..`, not absolute).
pub fn safe_path(p: &str) -> Result<String, StreamError> {
    let p = p.trim();
    if p.is_empty()
        || p.starts_with('/')
        || p.contains("://")
        || p.split('/').any(|c| c == ".." || c == ".")
        || p.contains('\\')
    {
        return Err(err(format!("'{p}' is not a path inside the mirror")));
    }
    Ok(p.to_string())
}

/// The signed variant of a product file's path: `x.json` → `x.sjson`.
pub fn signed_path(path: &str) -> String {
    match path.strip_suffix(".json") {
        Some(stem) => format!("{stem}.sjson"),
        None => path.to_string(),
    }
}

/// One file of one product version, with the attributes it inherited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub product: String,
    pub version: String,
    /// The item's key in its version (often equal to `ftype`).
    pub key: String,
    pub os: String,
    pub release: String,
    pub arch: String,
    pub subarch: String,
    pub label: String,
    pub ftype: String,
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl Item {
    /// `os/release`, the boot resource's name.
    pub fn resource_name(&self) -> String {
        format!("{}/{}", self.os, self.release)
    }
    /// `arch/subarch`, the boot resource's architecture.
    pub fn resource_arch(&self) -> String {
        let sub = if self.subarch.is_empty() {
            "generic"
        } else {
            &self.subarch
        };
        format!("{}/{sub}", self.arch)
    }
}

const INHERITED: &[&str] = &["os", "release", "arch", "subarch", "label"];

fn inherit(into: &mut BTreeMap<String, String>, level: &Map<String, Value>) {
    for k in INHERITED {
        if let Some(s) = level.get(*k).and_then(Value::as_str) {
            into.insert((*k).to_string(), s.to_string());
        }
    }
}

fn hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every item of a product file, attributes expanded. Items without `sha256` or `size`
/// (simplestreams allows them) cannot be verified and are refused: the error names them.
pub fn parse_products(text: &str) -> Result<Vec<Item>, StreamError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| err(format!("the product file is not JSON: {e}")))?;
    let top = v
        .as_object()
        .ok_or_else(|| err("the product file is not a JSON object"))?;
    let fmt = top.get("format").and_then(Value::as_str).unwrap_or("");
    if fmt != "products:1.0" {
        return Err(err(format!(
            "the product file's format is '{fmt}', not 'products:1.0'"
        )));
    }
    let products = top
        .get("products")
        .and_then(Value::as_object)
        .ok_or_else(|| err("the product file has no 'products' object"))?;
    let mut base = BTreeMap::new();
    inherit(&mut base, top);
    let mut out = Vec::new();
    for (pname, p) in products {
        let p = p
            .as_object()
            .ok_or_else(|| err(format!("product '{pname}' is not an object")))?;
        let mut pattrs = base.clone();
        inherit(&mut pattrs, p);
        let Some(versions) = p.get("versions").and_then(Value::as_object) else {
            continue;
        };
        for (vname, ver) in versions {
            let Some(ver) = ver.as_object() else { continue };
            let mut vattrs = pattrs.clone();
            inherit(&mut vattrs, ver);
            let Some(items) = ver.get("items").and_then(Value::as_object) else {
                continue;
            };
            for (key, it) in items {
                let Some(it) = it.as_object() else { continue };
                let mut a = vattrs.clone();
                inherit(&mut a, it);
                let at = format!("{pname} {vname} {key}");
                let get = |k: &str| a.get(k).cloned().unwrap_or_default();
                let path = it
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(format!("{at}: no path")))?;
                let sha256 = it
                    .get("sha256")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .filter(|s| hex64(s))
                    .ok_or_else(|| err(format!("{at}: no sha256 (64 hex digits)")))?;
                let size = it
                    .get("size")
                    .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()))
                    .ok_or_else(|| err(format!("{at}: no size")))?;
                out.push(Item {
                    product: pname.clone(),
                    version: vname.clone(),
                    key: key.clone(),
                    os: get("os"),
                    release: get("release"),
                    arch: get("arch"),
                    subarch: get("subarch"),
                    label: get("label"),
                    ftype: it
                        .get("ftype")
                        .and_then(Value::as_str)
                        .unwrap_or(key)
                        .to_string(),
                    path: safe_path(path).map_err(|e| err(format!("{at}: {e}")))?,
                    sha256,
                    size,
                });
            }
        }
    }
    Ok(out)
}

/// A boot-source selection: `*` (or an empty list) matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    pub os: String,
    pub release: String,
    pub arches: Vec<String>,
    pub subarches: Vec<String>,
    pub labels: Vec<String>,
}

fn any_of(list: &[String], v: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == "*" || x == v)
}

impl Selection {
    pub fn matches(&self, it: &Item) -> bool {
        (self.os == "*" || self.os == it.os)
            && (self.release == "*" || self.release == it.release)
            && any_of(&self.arches, &it.arch)
            && (it.subarch.is_empty() || any_of(&self.subarches, &it.subarch))
            && (it.label.is_empty() || any_of(&self.labels, &it.label))
    }
}

/// What Ingot does with a file type: the file machines are deployed from, or a companion.
pub fn deploy_filetype(ftype: &str) -> Option<&'static str> {
    match ftype {
        "root-tgz" => Some("root-tgz"),
        "root-dd" | "root-dd.raw" => Some("ddraw"),
        "root-tar.xz" => Some("root-txz"),
        "squashfs" => Some("squashfs"),
        _ => None,
    }
}

/// The order in which a product's deployable files are preferred: what the agent installs
/// (root tarball, raw disk) before what it does not yet (xz tarball, squashfs).
fn preference(stored: &str) -> usize {
    ["root-tgz", "ddraw", "root-txz", "squashfs"]
        .iter()
        .position(|x| *x == stored)
        .unwrap_or(usize::MAX)
}

/// One product to import: its newest version's files. `primary` is the file the boot
/// resource is deployed from; `others` are stored beside it (kernel, initrd, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub architecture: String,
    pub version: String,
    pub primary: Item,
    /// The stored file type of `primary` (`root-tgz`, `ddraw`, `root-txz`, `squashfs`).
    pub filetype: String,
    pub others: Vec<Item>,
}

impl Planned {
    pub fn total_bytes(&self) -> u64 {
        self.primary.size + self.others.iter().map(|i| i.size).sum::<u64>()
    }
}

/// The products the selections choose, newest version each, with the file deploy uses.
/// Products with no deployable file are skipped (named in the second list).
pub fn plan(items: &[Item], selections: &[Selection]) -> (Vec<Planned>, Vec<String>) {
    let mut by_product: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for it in items {
        if selections.iter().any(|s| s.matches(it)) {
            by_product.entry(&it.product).or_default().push(it);
        }
    }
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (product, its) in by_product {
        // Version names are dates (YYYYMMDD[.N]): the greatest is the newest.
        let Some(newest) = its.iter().map(|i| i.version.as_str()).max() else {
            continue;
        };
        let files: Vec<&Item> = its
            .iter()
            .copied()
            .filter(|i| i.version == newest)
            .collect();
        let primary = files
            .iter()
            .filter_map(|i| deploy_filetype(&i.ftype).map(|f| (preference(f), f, *i)))
            .min_by_key(|(p, _, _)| *p);
        let Some((_, filetype, primary)) = primary else {
            skipped.push(format!(
                "{product} {newest}: no root image (root-tgz, root-dd, root-tar.xz or squashfs)"
            ));
            continue;
        };
        out.push(Planned {
            name: primary.resource_name(),
            architecture: primary.resource_arch(),
            version: newest.to_string(),
            primary: primary.clone(),
            filetype: filetype.to_string(),
            others: files
                .iter()
                .filter(|i| i.key != primary.key)
                .map(|i| (*i).clone())
                .collect(),
        });
    }
    (out, skipped)
}

/// Join a mirror URL (`http://host/path/`, `…/streams/v1/index.sjson`) and a path relative
/// to the mirror's root. Returns (mirror root with a trailing `/`, index URL) for a source URL.
pub fn mirror_urls(source_url: &str, signed: bool) -> (String, String) {
    let u = source_url.trim();
    if u.ends_with(".json") || u.ends_with(".sjson") {
        let root = match u.find("streams/v1/") {
            Some(i) => u[..i].to_string(),
            None => u
                .rsplit_once('/')
                .map(|(r, _)| format!("{r}/"))
                .unwrap_or_default(),
        };
        return (root, u.to_string());
    }
    let root = if u.ends_with('/') {
        u.to_string()
    } else {
        format!("{u}/")
    };
    let index = format!(
        "{root}streams/v1/index.{}",
        if signed { "sjson" } else { "json" }
    );
    (root, index)
}

/// Progress of one import, as the API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// Percent done (100 for an empty total).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            (self.done as f64 * 100.0 / self.total as f64).min(100.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTS: &str = r#"{
      "content_id": "com.ubuntu.maas:stable:v3:download", "datatype": "image-downloads",
      "format": "products:1.0", "label": "stable",
      "products": {
        "com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04": {
          "arch": "amd64", "os": "ubuntu", "release": "jammy", "subarch": "ga-22.04",
          "versions": {
            "20240101": {"items": {
              "root-tgz": {"ftype": "root-tgz", "path": "jammy/old.tgz", "sha256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "size": 10}}},
            "20240202": {"items": {
              "boot-kernel": {"ftype": "boot-kernel", "path": "jammy/k", "sha256": "1111111111111111111111111111111111111111111111111111111111111111", "size": 3},
              "squashfs": {"ftype": "squashfs", "path": "jammy/sq", "sha256": "2222222222222222222222222222222222222222222222222222222222222222", "size": "7"},
              "root-tgz": {"ftype": "root-tgz", "path": "jammy/new.tgz", "sha256": "3333333333333333333333333333333333333333333333333333333333333333", "size": 11}}}
          }
        },
        "org.debian:bookworm:arm64": {
          "arch": "arm64", "os": "debian", "release": "bookworm",
          "versions": {"1": {"items": {"k": {"ftype": "boot-kernel", "path": "d/k", "sha256": "4444444444444444444444444444444444444444444444444444444444444444", "size": 1}}}}
        }
      }
    }"#;

    fn sel(os: &str, release: &str, arches: &[&str]) -> Selection {
        Selection {
            os: os.into(),
            release: release.into(),
            arches: arches.iter().map(|s| s.to_string()).collect(),
            subarches: vec!["*".into()],
            labels: vec!["*".into()],
        }
    }

    #[test]
    fn items_inherit_attributes() {
        let items = parse_products(PRODUCTS).unwrap();
        assert_eq!(items.len(), 5);
        let sq = items.iter().find(|i| i.ftype == "squashfs").unwrap();
        assert_eq!(sq.os, "ubuntu");
        assert_eq!(sq.release, "jammy");
        assert_eq!(sq.label, "stable");
        assert_eq!(sq.size, 7);
        assert_eq!(sq.resource_arch(), "amd64/ga-22.04");
        let old = items.iter().find(|i| i.path == "jammy/old.tgz").unwrap();
        assert_eq!(old.sha256, "a".repeat(64));
    }

    #[test]
    fn plan_picks_newest_version_and_root_tarball() {
        let items = parse_products(PRODUCTS).unwrap();
        let (p, skipped) = plan(&items, &[sel("ubuntu", "jammy", &["amd64"])]);
        assert!(skipped.is_empty());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "ubuntu/jammy");
        assert_eq!(p[0].version, "20240202");
        assert_eq!(p[0].primary.path, "jammy/new.tgz");
        assert_eq!(p[0].filetype, "root-tgz");
        assert_eq!(p[0].others.len(), 2);
        assert_eq!(p[0].total_bytes(), 21);
        // Other arches, other releases, nothing.
        assert!(plan(&items, &[sel("ubuntu", "jammy", &["arm64"])])
            .0
            .is_empty());
        assert!(plan(&items, &[sel("ubuntu", "noble", &["*"])]).0.is_empty());
        // A product without a root image is skipped and named.
        let (p, skipped) = plan(&items, &[sel("debian", "bookworm", &["*"])]);
        assert!(p.is_empty());
        assert!(
            skipped[0].contains("org.debian:bookworm:arm64"),
            "{skipped:?}"
        );
    }

    #[test]
    fn index_and_paths() {
        let idx = r#"{"format": "index:1.0", "index": {
            "com.ubuntu.maas:stable:v3:download": {"datatype": "image-downloads", "path": "streams/v1/com.ubuntu.maas:stable:v3:download.json", "format": "products:1.0"},
            "ids": {"datatype": "image-ids", "path": "streams/v1/ids.json"}}}"#;
        let e = parse_index(idx).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            signed_path(&e[0].path),
            "streams/v1/com.ubuntu.maas:stable:v3:download.sjson"
        );
        assert!(parse_index(r#"{"format": "products:1.0"}"#).is_err());
        for bad in ["../x", "/etc/passwd", "a/../../b", "http://x/y", ""] {
            assert!(safe_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            mirror_urls("http://m/stable", true),
            (
                "http://m/stable/".into(),
                "http://m/stable/streams/v1/index.sjson".into()
            )
        );
        assert_eq!(
            mirror_urls("http://m/s/streams/v1/index.json", false),
            (
                "http://m/s/".into(),
                "http://m/s/streams/v1/index.json".into()
            )
        );
    }

    #[test]
    fn items_without_checksums_are_refused() {
        let t = r#"{"format": "products:1.0", "products": {"p": {"versions": {"1": {"items": {"x": {"path": "a", "size": 1}}}}}}}"#;
        let e = parse_products(t).unwrap_err();
        assert!(e.0.contains("p 1 x: no sha256"), "{e}");
    }

    #[test]
    fn progress_percent() {
        assert_eq!(Progress { done: 1, total: 4 }.percent(), 25.0);
        assert_eq!(Progress { done: 0, total: 0 }.percent(), 100.0);
    }
}
