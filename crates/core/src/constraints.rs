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
        true
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
        }
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
