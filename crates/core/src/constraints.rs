//! Allocation constraints (spec §2.3): parsing-free matching and closest-fit ordering.

/// The constraints `allocate` understands so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    pub name: Option<String>,
    pub system_id: Option<String>,
    pub arch: Vec<String>,
    pub not_arch: Vec<String>,
    pub cpu_count: Option<f64>,
    /// Minimum memory in MiB.
    pub mem: Option<f64>,
    pub tags: Vec<String>,
    pub not_tags: Vec<String>,
    pub zone: Option<String>,
    pub not_in_zone: Vec<String>,
    pub pool: Option<String>,
    pub not_in_pool: Vec<String>,
    /// `storage=label:size(tag,tag),…`: distinct block devices, at least `size` GB, with tags.
    pub storage: Vec<StorageReq>,
    /// `interfaces=label:key=value,…;label:…`: distinct interfaces with those properties.
    pub interfaces: Vec<IfaceReq>,
}

/// One disk of a `storage` constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageReq {
    pub label: String,
    /// Minimum size in bytes (the constraint is given in GB, 10^9 bytes, as MAAS reads it).
    pub min_bytes: u64,
    pub tags: Vec<String>,
}

/// One interface of an `interfaces` constraint: every (key, value) must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct IfaceReq {
    pub label: String,
    pub conds: Vec<(String, String)>,
}

/// Keys an `interfaces` constraint may use.
pub const IFACE_KEYS: &[&str] = &[
    "id",
    "name",
    "tag",
    "link_speed",
    "subnet",
    "subnet_cidr",
    "mode",
    "type",
];

/// A machine's block device, as constraints see it.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskFacts {
    pub id: i64,
    pub size: u64,
    pub tags: Vec<String>,
}

/// A machine's interface, as constraints see it.
#[derive(Debug, Clone, PartialEq)]
pub struct NicFacts {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub tags: Vec<String>,
    /// Mbit/s.
    pub link_speed: u64,
    /// (subnet id, CIDR, link mode) of each link.
    pub links: Vec<(i64, String, String)>,
}

impl NicFacts {
    fn satisfies(&self, key: &str, value: &str) -> bool {
        match key {
            "id" => value.parse::<i64>().is_ok_and(|v| v == self.id),
            "name" => self.name == value,
            "type" => self.kind == value,
            "tag" => self.tags.iter().any(|t| t == value),
            "link_speed" => value.parse::<u64>().is_ok_and(|v| self.link_speed >= v),
            "subnet" => self
                .links
                .iter()
                .any(|(id, cidr, _)| value.parse::<i64>().is_ok_and(|v| v == *id) || cidr == value),
            "subnet_cidr" => self.links.iter().any(|(_, cidr, _)| cidr == value),
            "mode" => self
                .links
                .iter()
                .any(|(_, _, m)| m.eq_ignore_ascii_case(value)),
            _ => false,
        }
    }
}

/// Parse `label:size(tag,tag),label:size,…` (label optional; size in GB, may be fractional).
pub fn parse_storage(s: &str) -> Result<Vec<StorageReq>, String> {
    let mut out = Vec::new();
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in '{s}'"));
    }
    parts.push(cur);
    for (i, part) in parts.iter().map(|p| p.trim()).enumerate() {
        if part.is_empty() {
            return Err(format!("empty disk in '{s}'"));
        }
        let (label, rest) = match part.split_once(':') {
            Some((l, r)) => (l.trim().to_string(), r.trim()),
            None => (i.to_string(), part),
        };
        let (size, tags) = match rest.split_once('(') {
            Some((sz, t)) => {
                let t = t
                    .strip_suffix(')')
                    .ok_or_else(|| format!("'{part}': missing ')'"))?;
                (
                    sz.trim(),
                    t.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect(),
                )
            }
            None => (rest, Vec::new()),
        };
        let gb: f64 = if size.is_empty() {
            0.0
        } else {
            size.parse()
                .map_err(|_| format!("'{size}' is not a size in GB (in '{part}')"))?
        };
        if !gb.is_finite() || gb < 0.0 {
            return Err(format!("'{size}' is not a size in GB (in '{part}')"));
        }
        if out.iter().any(|r: &StorageReq| r.label == label) {
            return Err(format!("label '{label}' is used twice"));
        }
        out.push(StorageReq {
            label,
            min_bytes: (gb * 1e9).ceil() as u64,
            tags,
        });
    }
    Ok(out)
}

/// Parse `label:key=value,key=value;label:…` (label optional).
pub fn parse_interfaces(s: &str) -> Result<Vec<IfaceReq>, String> {
    let mut out = Vec::new();
    for (i, part) in s.split(';').map(str::trim).enumerate() {
        if part.is_empty() {
            return Err(format!("empty interface in '{s}'"));
        }
        let (label, rest) = match part.split_once(':') {
            Some((l, r)) if !l.contains('=') => (l.trim().to_string(), r),
            _ => (i.to_string(), part),
        };
        let mut conds = Vec::new();
        for kv in rest.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("'{kv}' is not key=value"))?;
            let k = k.trim();
            if !IFACE_KEYS.contains(&k) {
                return Err(format!(
                    "unknown key '{k}' (known: {})",
                    IFACE_KEYS.join(", ")
                ));
            }
            conds.push((k.to_string(), v.trim().to_string()));
        }
        if conds.is_empty() {
            return Err(format!("'{part}' has no condition"));
        }
        if out.iter().any(|r: &IfaceReq| r.label == label) {
            return Err(format!("label '{label}' is used twice"));
        }
        out.push(IfaceReq { label, conds });
    }
    Ok(out)
}

/// Give each requirement its own item, or None: `fits(req, item)` says which items could serve
/// a requirement. Backtracking over the (small) lists; requirements are tried in order.
fn assign<R, T>(reqs: &[R], items: &[T], fits: impl Fn(&R, &T) -> bool) -> Option<Vec<usize>> {
    fn go<R, T>(
        i: usize,
        reqs: &[R],
        items: &[T],
        fits: &dyn Fn(&R, &T) -> bool,
        used: &mut Vec<bool>,
        out: &mut Vec<usize>,
    ) -> bool {
        let Some(r) = reqs.get(i) else { return true };
        for (j, it) in items.iter().enumerate() {
            if !used[j] && fits(r, it) {
                used[j] = true;
                out.push(j);
                if go(i + 1, reqs, items, fits, used, out) {
                    return true;
                }
                out.pop();
                used[j] = false;
            }
        }
        false
    }
    let mut used = vec![false; items.len()];
    let mut out = Vec::new();
    go(0, reqs, items, &fits, &mut used, &mut out).then_some(out)
}

/// The view of a machine that constraints are checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub system_id: &'a str,
    pub hostname: &'a str,
    pub domain: &'a str,
    pub architecture: &'a str,
    pub cpu_count: i64,
    pub memory: i64,
    pub tags: &'a [String],
    pub zone: &'a str,
    pub pool: &'a str,
    /// Its block devices (smallest first is how MAAS picks; order kept as given).
    pub disks: &'a [DiskFacts],
    pub nics: &'a [NicFacts],
}

/// Which block devices and interfaces satisfied the `storage` and `interfaces` constraints,
/// by label (allocate's `constraints_by_type`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matched {
    pub storage: Vec<(String, i64)>,
    pub interfaces: Vec<(String, i64)>,
}

/// `amd64` matches any `amd64/*`; `amd64/generic` matches only itself.
pub fn arch_matches(wanted: &str, actual: &str) -> bool {
    if wanted.contains('/') {
        wanted == actual
    } else {
        actual.split('/').next() == Some(wanted)
    }
}

impl Constraints {
    pub fn is_empty(&self) -> bool {
        *self == Constraints::default()
    }

    /// Whether `m` satisfies every constraint.
    pub fn matches(&self, m: &Candidate<'_>) -> bool {
        if let Some(n) = &self.name {
            let fqdn = format!("{}.{}", m.hostname, m.domain);
            if n != m.hostname && *n != fqdn {
                return false;
            }
        }
        if self.system_id.as_deref().is_some_and(|s| s != m.system_id) {
            return false;
        }
        if !self.arch.is_empty() && !self.arch.iter().any(|a| arch_matches(a, m.architecture)) {
            return false;
        }
        if self
            .not_arch
            .iter()
            .any(|a| arch_matches(a, m.architecture))
        {
            return false;
        }
        if self.cpu_count.is_some_and(|c| (m.cpu_count as f64) < c) {
            return false;
        }
        if self.mem.is_some_and(|c| (m.memory as f64) < c) {
            return false;
        }
        if !self.tags.iter().all(|t| m.tags.contains(t)) {
            return false;
        }
        if self.not_tags.iter().any(|t| m.tags.contains(t)) {
            return false;
        }
        if self.zone.as_deref().is_some_and(|z| z != m.zone) {
            return false;
        }
        if self.not_in_zone.iter().any(|z| z == m.zone) {
            return false;
        }
        if self.pool.as_deref().is_some_and(|p| p != m.pool) {
            return false;
        }
        if self.not_in_pool.iter().any(|p| p == m.pool) {
            return false;
        }
        self.matched(m).is_some()
    }

    /// The disks and interfaces that satisfy `storage` and `interfaces`, each used once
    /// (smallest suitable disk first), or None when they cannot all be satisfied.
    pub fn matched(&self, m: &Candidate<'_>) -> Option<Matched> {
        let mut disks: Vec<&DiskFacts> = m.disks.iter().collect();
        disks.sort_by_key(|d| (d.size, d.id));
        let st = assign(&self.storage, &disks, |r, d| {
            d.size >= r.min_bytes && r.tags.iter().all(|t| d.tags.contains(t))
        })?;
        let nics = assign(&self.interfaces, m.nics, |r, n| {
            r.conds.iter().all(|(k, v)| n.satisfies(k, v))
        })?;
        Some(Matched {
            storage: self
                .storage
                .iter()
                .zip(st)
                .filter_map(|(r, j)| disks.get(j).map(|d| (r.label.clone(), d.id)))
                .collect(),
            interfaces: self
                .interfaces
                .iter()
                .zip(nics)
                .filter_map(|(r, j)| m.nics.get(j).map(|n| (r.label.clone(), n.id)))
                .collect(),
        })
    }

    /// Closest-fit cost: machines with the least surplus CPU and memory come first.
    pub fn fit_cost(&self, m: &Candidate<'_>) -> (i64, i64) {
        let cpu = self.cpu_count.map_or(0, |c| m.cpu_count - c.ceil() as i64);
        let mem = self.mem.map_or(0, |c| m.memory - c.ceil() as i64);
        (cpu, mem)
    }

    /// A readable rendering for the "no machine matches" message.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut kv = |k: &str, v: String| parts.push(format!("{k}={v}"));
        if let Some(v) = &self.name {
            kv("name", v.clone());
        }
        if let Some(v) = &self.system_id {
            kv("system_id", v.clone());
        }
        if !self.arch.is_empty() {
            kv("arch", self.arch.join(","));
        }
        if !self.not_arch.is_empty() {
            kv("not_arch", self.not_arch.join(","));
        }
        if let Some(v) = self.cpu_count {
            kv("cpu_count", v.to_string());
        }
        if let Some(v) = self.mem {
            kv("mem", v.to_string());
        }
        if !self.tags.is_empty() {
            kv("tags", self.tags.join(","));
        }
        if !self.not_tags.is_empty() {
            kv("not_tags", self.not_tags.join(","));
        }
        if let Some(v) = &self.zone {
            kv("zone", v.clone());
        }
        if !self.not_in_zone.is_empty() {
            kv("not_in_zone", self.not_in_zone.join(","));
        }
        if let Some(v) = &self.pool {
            kv("pool", v.clone());
        }
        if !self.not_in_pool.is_empty() {
            kv("not_in_pool", self.not_in_pool.join(","));
        }
        if !self.storage.is_empty() {
            let s: Vec<String> = self
                .storage
                .iter()
                .map(|r| {
                    let gb = r.min_bytes as f64 / 1e9;
                    if r.tags.is_empty() {
                        format!("{}:{gb}", r.label)
                    } else {
                        format!("{}:{gb}({})", r.label, r.tags.join(","))
                    }
                })
                .collect();
            kv("storage", s.join(","));
        }
        if !self.interfaces.is_empty() {
            let s: Vec<String> = self
                .interfaces
                .iter()
                .map(|r| {
                    let c: Vec<String> = r.conds.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{}:{}", r.label, c.join(","))
                })
                .collect();
            kv("interfaces", s.join(";"));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand<'a>(tags: &'a [String]) -> Candidate<'a> {
        Candidate {
            system_id: "abc123",
            hostname: "node1",
            domain: "maas",
            architecture: "amd64/generic",
            cpu_count: 8,
            memory: 16384,
            tags,
            zone: "default",
            pool: "default",
            disks: &[],
            nics: &[],
        }
    }

    #[test]
    fn storage_and_interface_constraints() {
        let disks = vec![
            DiskFacts {
                id: 1,
                size: 500_000_000_000,
                tags: vec!["ssd".into()],
            },
            DiskFacts {
                id: 2,
                size: 2_000_000_000_000,
                tags: vec!["rotary".into()],
            },
            DiskFacts {
                id: 3,
                size: 120_000_000_000,
                tags: vec!["ssd".into()],
            },
        ];
        let nics = vec![
            NicFacts {
                id: 10,
                name: "eth0".into(),
                kind: "physical".into(),
                tags: vec![],
                link_speed: 1000,
                links: vec![(5, "10.0.0.0/24".into(), "auto".into())],
            },
            NicFacts {
                id: 11,
                name: "eth1".into(),
                kind: "physical".into(),
                tags: vec!["sriov".into()],
                link_speed: 10000,
                links: vec![],
            },
        ];
        let tags = vec![];
        let m = Candidate {
            disks: &disks,
            nics: &nics,
            ..cand(&tags)
        };
        let c = |st: &str, ifs: &str| Constraints {
            storage: if st.is_empty() {
                vec![]
            } else {
                parse_storage(st).unwrap()
            },
            interfaces: if ifs.is_empty() {
                vec![]
            } else {
                parse_interfaces(ifs).unwrap()
            },
            ..Default::default()
        };
        // Smallest suitable disk first; each disk used once.
        let got = c("root:100(ssd),data:1000", "").matched(&m).unwrap();
        assert_eq!(
            got.storage,
            vec![("root".to_string(), 3), ("data".to_string(), 2)]
        );
        let got = c("a:100(ssd),b:100(ssd)", "").matched(&m).unwrap();
        assert_eq!(
            got.storage,
            vec![("a".to_string(), 3), ("b".to_string(), 1)]
        );
        assert!(c("a:100(ssd),b:100(ssd),c:100(ssd)", "")
            .matched(&m)
            .is_none());
        assert!(c("x:3000", "").matched(&m).is_none());
        assert!(!c("x:3000", "").matches(&m));
        // Unlabelled entries get their position as label.
        assert_eq!(
            c("50", "").matched(&m).unwrap().storage,
            vec![("0".to_string(), 3)]
        );
        // Interfaces.
        let got = c("", "fast:tag=sriov;boot:subnet_cidr=10.0.0.0/24")
            .matched(&m)
            .unwrap();
        assert_eq!(
            got.interfaces,
            vec![("fast".to_string(), 11), ("boot".to_string(), 10)]
        );
        assert!(c("", "a:link_speed=1000;b:link_speed=1000")
            .matched(&m)
            .is_some());
        assert!(c("", "a:link_speed=10000;b:link_speed=10000")
            .matched(&m)
            .is_none());
        assert!(c("", "a:name=eth9").matched(&m).is_none());
        assert!(c("", "a:mode=AUTO,subnet=5").matched(&m).is_some());
        // Parse errors name the problem.
        for bad in ["a:x", "a:1(ssd", "a:1,a:2", "a:-5", ""] {
            assert!(parse_storage(bad).is_err(), "{bad}");
        }
        for bad in ["a:color=red", "a:name", "a:", "x:name=a;x:name=b"] {
            assert!(parse_interfaces(bad).is_err(), "{bad}");
        }
        let d = c("root:100(ssd)", "fast:tag=sriov").describe();
        assert!(
            d.contains("storage=root:100(ssd)") && d.contains("interfaces=fast:tag=sriov"),
            "{d}"
        );
    }

    #[test]
    fn matching() {
        let tags = vec!["ssd".to_string(), "gpu".to_string()];
        let m = cand(&tags);
        let ok = |c: Constraints| c.matches(&m);
        assert!(ok(Constraints::default()));
        assert!(ok(Constraints {
            name: Some("node1".into()),
            ..Default::default()
        }));
        assert!(ok(Constraints {
            name: Some("node1.maas".into()),
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            name: Some("node2".into()),
            ..Default::default()
        }));
        assert!(ok(Constraints {
            arch: vec!["amd64".into()],
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            arch: vec!["arm64".into()],
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            not_arch: vec!["amd64/generic".into()],
            ..Default::default()
        }));
        assert!(ok(Constraints {
            cpu_count: Some(8.0),
            mem: Some(16384.0),
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            cpu_count: Some(9.0),
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            mem: Some(16385.0),
            ..Default::default()
        }));
        assert!(ok(Constraints {
            tags: vec!["ssd".into()],
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            tags: vec!["ssd".into(), "nvme".into()],
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            not_tags: vec!["gpu".into()],
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            zone: Some("z2".into()),
            ..Default::default()
        }));
        assert!(!ok(Constraints {
            not_in_pool: vec!["default".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn closest_fit() {
        let tags = vec![];
        let m = cand(&tags);
        let c = Constraints {
            cpu_count: Some(4.0),
            mem: Some(8192.0),
            ..Default::default()
        };
        assert_eq!(c.fit_cost(&m), (4, 8192));
    }
}
