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
    /// Every one of these subnets must be linked to one of the machine's interfaces.
    pub subnets: Vec<SubnetSpec>,
    /// None of these subnets may be linked.
    pub not_subnets: Vec<SubnetSpec>,
    /// The machine must be on one of these fabrics (by name or id).
    pub fabrics: Vec<String>,
    pub not_fabrics: Vec<String>,
    /// The machine must be on a fabric of one of these classes.
    pub fabric_classes: Vec<String>,
    pub not_fabric_classes: Vec<String>,
    /// Each filter (`vendor_id=8086,product_id=1572`) must be met by one PCI/USB device.
    pub devices: Vec<Vec<(String, String)>>,
}

/// How a subnet is named in `subnets`/`not_subnets` and interface `subnet=` constraints
/// (spec §2.3 specifiers).
#[derive(Debug, Clone, PartialEq)]
pub enum SubnetSpec {
    Id(i64),
    Cidr(String),
    /// The subnet containing this address.
    Ip(std::net::IpAddr),
    Name(String),
    Vid(i64),
    /// A VLAN by id or name.
    Vlan(String),
    /// A fabric by id or name.
    Fabric(String),
    /// A space by id or name (the space of the subnet's VLAN; `undefined` for none).
    Space(String),
}

/// Parse a subnet specifier: `<id>`, `<cidr>`, `cidr:`, `ip:`, `name:`, `vid:`, `vlan:`,
/// `fabric:`, `space:` (a space by id or name, `undefined` for subnets in none).
pub fn parse_subnet_spec(s: &str) -> Result<SubnetSpec, String> {
    let s = s.trim();
    if let Ok(id) = s.parse::<i64>() {
        return Ok(SubnetSpec::Id(id));
    }
    let (kind, v) = match s.split_once(':') {
        // An IPv6 CIDR has colons too: only known prefixes count as a kind.
        Some((k, v))
            if ["cidr", "ip", "name", "vid", "vlan", "fabric", "space", "id"].contains(&k) =>
        {
            (k, v.trim())
        }
        _ if s.contains('/') => ("cidr", s),
        _ => {
            return Err(format!(
            "'{s}' is not a subnet specifier (id, CIDR, cidr:, ip:, name:, vid:, vlan:, fabric:, space:)"
        ))
        }
    };
    match kind {
        "id" => v
            .parse()
            .map(SubnetSpec::Id)
            .map_err(|_| format!("'{v}' is not a subnet id")),
        "cidr" => crate::net::Cidr::parse(v)
            .map(|c| SubnetSpec::Cidr(c.to_string()))
            .map_err(|e| format!("'{v}': {e}")),
        "ip" => v
            .parse()
            .map(SubnetSpec::Ip)
            .map_err(|_| format!("'{v}' is not an IP address")),
        "name" => Ok(SubnetSpec::Name(v.to_string())),
        "vid" => v
            .parse::<i64>()
            .ok()
            .filter(|x| (0..=4094).contains(x))
            .map(SubnetSpec::Vid)
            .ok_or_else(|| format!("'{v}' is not a VLAN vid (0-4094)")),
        "vlan" => Ok(SubnetSpec::Vlan(v.to_string())),
        "fabric" => Ok(SubnetSpec::Fabric(v.to_string())),
        _ => Ok(SubnetSpec::Space(v.to_string())),
    }
}

/// A subnet as constraints see it, with its VLAN and fabric.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubnetFacts {
    pub id: i64,
    pub cidr: String,
    pub name: String,
    pub vlan_id: i64,
    pub vid: i64,
    pub vlan_name: String,
    pub fabric_id: i64,
    pub fabric: String,
    pub fabric_class: String,
    /// The space of the subnet's VLAN (0 and `undefined` for none).
    pub space_id: i64,
    pub space: String,
}

impl SubnetFacts {
    pub fn matches(&self, spec: &SubnetSpec) -> bool {
        let id_or_name =
            |v: &str, id: i64, name: &str| v.parse::<i64>().is_ok_and(|x| x == id) || v == name;
        match spec {
            SubnetSpec::Id(id) => *id == self.id,
            SubnetSpec::Cidr(c) => {
                crate::net::Cidr::parse(&self.cidr).is_ok_and(|own| own.to_string() == *c)
            }
            SubnetSpec::Ip(ip) => {
                crate::net::Cidr::parse(&self.cidr).is_ok_and(|c| c.contains(*ip))
            }
            SubnetSpec::Name(n) => *n == self.name,
            SubnetSpec::Vid(v) => *v == self.vid,
            SubnetSpec::Vlan(v) => id_or_name(v, self.vlan_id, &self.vlan_name),
            SubnetSpec::Fabric(f) => id_or_name(f, self.fabric_id, &self.fabric),
            SubnetSpec::Space(sp) => {
                let name = if self.space.is_empty() {
                    "undefined"
                } else {
                    &self.space
                };
                id_or_name(sp, self.space_id, name)
            }
        }
    }
}

/// One link of an interface: the subnet, the mode, the address (STATIC/AUTO once given).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkFacts {
    pub subnet: SubnetFacts,
    pub mode: String,
    pub ip: Option<String>,
}

/// A PCI or USB device, as the `devices` constraint sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceFacts {
    pub vendor_id: String,
    pub product_id: String,
    pub vendor_name: String,
    pub product_name: String,
    pub driver: String,
}

/// Keys a `devices` filter may use.
pub const DEVICE_KEYS: &[&str] = &[
    "vendor_id",
    "product_id",
    "vendor_name",
    "product_name",
    "commissioning_driver",
];

impl DeviceFacts {
    fn satisfies(&self, key: &str, value: &str) -> bool {
        let eq = |a: &str| a.eq_ignore_ascii_case(value);
        match key {
            "vendor_id" => eq(&self.vendor_id),
            "product_id" => eq(&self.product_id),
            "vendor_name" => self.vendor_name == value,
            "product_name" => self.product_name == value,
            "commissioning_driver" => self.driver.split(", ").any(|d| d == value),
            _ => false,
        }
    }
}

/// Parse one `devices` filter: `key=value,key=value`.
pub fn parse_device_filter(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for kv in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("'{kv}' is not key=value"))?;
        let k = k.trim();
        if !DEVICE_KEYS.contains(&k) {
            return Err(format!(
                "unknown key '{k}' (known: {})",
                DEVICE_KEYS.join(", ")
            ));
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    if out.is_empty() {
        return Err(format!("'{s}' has no condition"));
    }
    Ok(out)
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
    "ip",
    "fabric",
    "fabric_class",
    "vid",
    "vlan",
    "space",
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
    pub links: Vec<LinkFacts>,
}

impl NicFacts {
    fn satisfies(&self, key: &str, value: &str) -> bool {
        match key {
            "id" => value.parse::<i64>().is_ok_and(|v| v == self.id),
            "name" => self.name == value,
            "type" => self.kind == value,
            "tag" => self.tags.iter().any(|t| t == value),
            "link_speed" => value.parse::<u64>().is_ok_and(|v| self.link_speed >= v),
            "subnet" => parse_subnet_spec(value)
                .is_ok_and(|spec| self.links.iter().any(|l| l.subnet.matches(&spec))),
            "subnet_cidr" => self
                .links
                .iter()
                .any(|l| l.subnet.matches(&SubnetSpec::Cidr(value.to_string()))),
            "mode" => self
                .links
                .iter()
                .any(|l| l.mode.eq_ignore_ascii_case(value)),
            "ip" => self.links.iter().any(|l| l.ip.as_deref() == Some(value)),
            "fabric" => self
                .links
                .iter()
                .any(|l| l.subnet.matches(&SubnetSpec::Fabric(value.to_string()))),
            "fabric_class" => self.links.iter().any(|l| l.subnet.fabric_class == value),
            "vid" => value
                .parse::<i64>()
                .is_ok_and(|v| self.links.iter().any(|l| l.subnet.vid == v)),
            "vlan" => self
                .links
                .iter()
                .any(|l| l.subnet.matches(&SubnetSpec::Vlan(value.to_string()))),
            "space" => self
                .links
                .iter()
                .any(|l| l.subnet.matches(&SubnetSpec::Space(value.to_string()))),
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
    /// PCI and USB devices (only loaded when a `devices` constraint is given).
    pub devices: &'a [DeviceFacts],
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
        let subnets = || {
            m.nics
                .iter()
                .flat_map(|n| n.links.iter().map(|l| &l.subnet))
        };
        if !self
            .subnets
            .iter()
            .all(|spec| subnets().any(|s| s.matches(spec)))
        {
            return false;
        }
        if self
            .not_subnets
            .iter()
            .any(|spec| subnets().any(|s| s.matches(spec)))
        {
            return false;
        }
        let on_fabric = |f: &String| subnets().any(|s| s.matches(&SubnetSpec::Fabric(f.clone())));
        if !self.fabrics.is_empty() && !self.fabrics.iter().any(on_fabric) {
            return false;
        }
        if self.not_fabrics.iter().any(on_fabric) {
            return false;
        }
        let of_class = |c: &String| subnets().any(|s| s.fabric_class == *c);
        if !self.fabric_classes.is_empty() && !self.fabric_classes.iter().any(of_class) {
            return false;
        }
        if self.not_fabric_classes.iter().any(of_class) {
            return false;
        }
        if !self.devices.iter().all(|filter| {
            m.devices
                .iter()
                .any(|d| filter.iter().all(|(k, v)| d.satisfies(k, v)))
        }) {
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
        let spec = |v: &[SubnetSpec]| {
            v.iter()
                .map(|s| match s {
                    SubnetSpec::Id(i) => i.to_string(),
                    SubnetSpec::Cidr(c) => c.clone(),
                    SubnetSpec::Ip(ip) => format!("ip:{ip}"),
                    SubnetSpec::Name(n) => format!("name:{n}"),
                    SubnetSpec::Vid(v) => format!("vid:{v}"),
                    SubnetSpec::Vlan(v) => format!("vlan:{v}"),
                    SubnetSpec::Fabric(f) => format!("fabric:{f}"),
                    SubnetSpec::Space(sp) => format!("space:{sp}"),
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        if !self.subnets.is_empty() {
            kv("subnets", spec(&self.subnets));
        }
        if !self.not_subnets.is_empty() {
            kv("not_subnets", spec(&self.not_subnets));
        }
        for (k, v) in [
            ("fabrics", &self.fabrics),
            ("not_fabrics", &self.not_fabrics),
            ("fabric_classes", &self.fabric_classes),
            ("not_fabric_classes", &self.not_fabric_classes),
        ] {
            if !v.is_empty() {
                kv(k, v.join(","));
            }
        }
        for f in &self.devices {
            let c: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v}")).collect();
            kv("devices", c.join(","));
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
            devices: &[],
        }
    }

    fn subnet(id: i64, cidr: &str, vid: i64, fabric: &str, class: &str) -> SubnetFacts {
        SubnetFacts {
            id,
            cidr: cidr.into(),
            name: format!("net-{id}"),
            vlan_id: 100 + id,
            vid,
            vlan_name: format!("vlan-{vid}"),
            fabric_id: 1000 + id,
            fabric: fabric.into(),
            fabric_class: class.into(),
            ..Default::default()
        }
    }

    fn link(s: SubnetFacts, mode: &str, ip: Option<&str>) -> LinkFacts {
        LinkFacts {
            subnet: s,
            mode: mode.into(),
            ip: ip.map(String::from),
        }
    }

    #[test]
    fn network_and_device_constraints() {
        let nics = vec![
            NicFacts {
                id: 10,
                name: "eth0".into(),
                kind: "physical".into(),
                tags: vec![],
                link_speed: 1000,
                links: vec![link(
                    subnet(5, "10.0.0.0/24", 0, "fabric-0", "1G"),
                    "static",
                    Some("10.0.0.7"),
                )],
            },
            NicFacts {
                id: 11,
                name: "eth1".into(),
                kind: "physical".into(),
                tags: vec![],
                link_speed: 10000,
                links: vec![link(
                    subnet(6, "10.9.0.0/24", 20, "storage", "10G"),
                    "dhcp",
                    None,
                )],
            },
        ];
        let devices = vec![DeviceFacts {
            vendor_id: "8086".into(),
            product_id: "1572".into(),
            vendor_name: "Intel Corporation".into(),
            product_name: "Ethernet Controller X710".into(),
            driver: "i40e".into(),
        }];
        let tags = vec![];
        let m = Candidate {
            nics: &nics,
            devices: &devices,
            ..cand(&tags)
        };
        let specs = |v: &[&str]| {
            v.iter()
                .map(|s| parse_subnet_spec(s).unwrap())
                .collect::<Vec<_>>()
        };
        let ok = |c: Constraints| c.matches(&m);
        let subnets = |v: &[&str]| Constraints {
            subnets: specs(v),
            ..Default::default()
        };
        let not_subnets = |v: &[&str]| Constraints {
            not_subnets: specs(v),
            ..Default::default()
        };
        // Every specifier form, all of them required.
        for v in [
            &["5"][..],
            &["10.0.0.0/24"],
            &["cidr:10.9.0.0/24"],
            &["ip:10.9.0.200"],
            &["name:net-5"],
            &["vid:20"],
            &["vlan:vlan-20"],
            &["vlan:106"],
            &["fabric:storage"],
            &["fabric:1005"],
            &["5", "vid:20"],
        ] {
            assert!(ok(subnets(v)), "{v:?}");
            assert!(!ok(not_subnets(v)), "not {v:?}");
        }
        for v in [&["7"][..], &["10.1.0.0/24"], &["ip:10.1.0.1"], &["vid:30"]] {
            assert!(!ok(subnets(v)), "{v:?}");
            assert!(ok(not_subnets(v)), "not {v:?}");
        }
        // All of `subnets` must hold; any one of `not_subnets` excludes.
        assert!(!ok(subnets(&["5", "vid:30"])));
        assert!(!ok(not_subnets(&["5", "vid:30"])));
        for bad in ["banana", "vid:5000", "ip:10.0.0", "cidr:10.0.0.1/33"] {
            assert!(parse_subnet_spec(bad).is_err(), "{bad}");
        }
        // Spaces: the space of the subnet's VLAN, by name or id; `undefined` is none.
        assert_eq!(
            parse_subnet_spec("space:dmz"),
            Ok(SubnetSpec::Space("dmz".into()))
        );
        let mut dmz = SubnetFacts {
            space_id: 3,
            space: "dmz".into(),
            ..Default::default()
        };
        for (spec, want) in [
            ("space:dmz", true),
            ("space:3", true),
            ("space:other", false),
            ("space:undefined", false),
        ] {
            assert_eq!(
                dmz.matches(&parse_subnet_spec(spec).unwrap()),
                want,
                "{spec}"
            );
        }
        dmz.space.clear();
        dmz.space_id = 0;
        assert!(dmz.matches(&parse_subnet_spec("space:undefined").unwrap()));
        assert!(!dmz.matches(&parse_subnet_spec("space:dmz").unwrap()));
        // Fabrics and classes: any-of; the not_ forms: none-of.
        let f =
            |fabrics: &[&str], not: &[&str], classes: &[&str], not_classes: &[&str]| Constraints {
                fabrics: fabrics.iter().map(|s| s.to_string()).collect(),
                not_fabrics: not.iter().map(|s| s.to_string()).collect(),
                fabric_classes: classes.iter().map(|s| s.to_string()).collect(),
                not_fabric_classes: not_classes.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
        assert!(ok(f(&["nope", "storage"], &[], &[], &[])));
        assert!(!ok(f(&["nope"], &[], &[], &[])));
        assert!(!ok(f(&[], &["fabric-0"], &[], &[])));
        assert!(ok(f(&[], &["nope"], &["10G"], &[])));
        assert!(!ok(f(&[], &[], &["40G"], &[])));
        assert!(!ok(f(&[], &[], &[], &["1G"])));
        // Interface keys on links.
        let ifs = |s: &str| Constraints {
            interfaces: parse_interfaces(s).unwrap(),
            ..Default::default()
        };
        assert_eq!(
            ifs("a:vid=20;b:ip=10.0.0.7")
                .matched(&m)
                .unwrap()
                .interfaces,
            vec![("a".to_string(), 11), ("b".to_string(), 10)]
        );
        assert!(ok(ifs("a:fabric=storage,mode=dhcp")));
        assert!(ok(ifs("a:fabric_class=1G,subnet=ip:10.0.0.9")));
        assert!(ok(ifs("a:vlan=vlan-20")));
        assert!(!ok(ifs("a:vid=20,ip=10.0.0.7")));
        // Devices: each filter met by one device.
        let dev = |filters: &[&str]| Constraints {
            devices: filters
                .iter()
                .map(|f| parse_device_filter(f).unwrap())
                .collect(),
            ..Default::default()
        };
        assert!(ok(dev(&["vendor_id=8086,product_id=1572"])));
        assert!(ok(dev(&[
            "commissioning_driver=i40e",
            "vendor_name=Intel Corporation"
        ])));
        assert!(!ok(dev(&["vendor_id=8086,product_id=10fb"])));
        assert!(!ok(dev(&["vendor_id=8086", "vendor_id=10de"])));
        assert!(parse_device_filter("color=red").is_err());
        assert!(parse_device_filter("vendor_id").is_err());
        let d = Constraints {
            subnets: specs(&["vid:20"]),
            not_fabrics: vec!["x".into()],
            devices: vec![parse_device_filter("vendor_id=8086").unwrap()],
            ..Default::default()
        }
        .describe();
        assert!(
            d.contains("subnets=vid:20")
                && d.contains("not_fabrics=x")
                && d.contains("devices=vendor_id=8086"),
            "{d}"
        );
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
                links: vec![link(
                    subnet(5, "10.0.0.0/24", 0, "fabric-0", ""),
                    "auto",
                    None,
                )],
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
