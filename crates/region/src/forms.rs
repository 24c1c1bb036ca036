//! Request forms: MAAS-shaped parameters in, validated changes out, with field errors shaped
//! like MAAS's (`{"field": ["message"]}`).

pub mod boot_sources;

use crate::{DeployParams, FieldErrors, Principal, Region, RegionError, Result};
use ingot_core::actions::{Action, ActionOptions};
use ingot_core::constraints::Constraints;
use ingot_core::ids;
use ingot_core::Status;
use ingot_store::{Change, Machine, NamedKind, NewEvent, NewMachine, StoreError, Token, User};
use ingot_wire::Params;
use serde_json::{Map, Value};

/// All values of a list field, accepting repeats and comma-separated values.
pub fn list(params: &Params, name: &str) -> Vec<String> {
    params
        .get_all(name)
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn text(params: &Params, name: &str) -> Option<String> {
    params.get(name).map(|s| s.trim().to_string())
}

/// Power parameters from `power_parameters` (a JSON object string) and `power_parameters_<name>`.
fn power_parameters(params: &Params, fe: &mut FieldErrors) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    let mut given = false;
    if let Some(js) = params
        .get("power_parameters")
        .filter(|s| !s.trim().is_empty())
    {
        given = true;
        match serde_json::from_str::<Value>(js) {
            Ok(Value::Object(o)) => out.extend(o),
            _ => fe.add("power_parameters", "Enter a JSON object."),
        }
    }
    for name in params.names() {
        if let Some(k) = name.strip_prefix("power_parameters_") {
            if k == "skip_check" {
                continue;
            }
            given = true;
            out.insert(
                k.to_string(),
                Value::String(params.get(name).unwrap_or_default().to_string()),
            );
        }
    }
    given.then_some(out)
}

/// Power parameters checked against the driver's schema (defaults filled in), with their
/// secret fields encrypted. Problems are added to `fe` under `power_parameters_<name>`.
fn checked_power_params(
    region: &Region,
    power_type: &str,
    params: Map<String, Value>,
    fe: &mut FieldErrors,
) -> Result<Value> {
    if power_type.is_empty() {
        if !params.is_empty() {
            fe.add(
                "power_type",
                "Give a power_type for these power parameters.",
            );
        }
        return Ok(Value::Object(Map::new()));
    }
    match ingot_power::schema::validate(power_type, &params) {
        Ok(mut v) => {
            region.seal_power_params(power_type, &mut v)?;
            Ok(Value::Object(v))
        }
        Err(errs) => {
            for (f, m) in errs {
                fe.add(&f, m);
            }
            Ok(Value::Object(Map::new()))
        }
    }
}

async fn lookup_named(
    region: &Region,
    kind: NamedKind,
    field: &str,
    name: Option<String>,
    fe: &mut FieldErrors,
) -> Result<Option<i64>> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    match region.store.named_by_name(kind, &name).await? {
        Some(n) => Ok(Some(n.id)),
        None => {
            fe.add(
                field,
                format!("Select a valid choice. '{name}' is not one of the available choices."),
            );
            Ok(None)
        }
    }
}

/// Split and validate a hostname (possibly an FQDN); returns (hostname, domain id).
/// `devices/` create: `mac_addresses` (one at least), `hostname` (a generated name when
/// absent), `domain`, `parent` (a machine's system id), `description`. The device is the
/// user's, in the default zone, and deployed (Ingot does not provision it).
pub async fn create_device(region: &Region, user: &User, params: &Params) -> Result<Machine> {
    let mut fe = FieldErrors::default();
    let macs = macs(params, &mut fe);
    if macs.is_empty() && !fe.0.contains_key("mac_addresses") {
        fe.add("mac_addresses", "A device needs at least one MAC address.");
    }
    let parent_id = match text(params, "parent").filter(|p| !p.is_empty()) {
        Some(p) => match region.machine_for(user, &p).await {
            Ok(m) => Some(m.id),
            Err(RegionError::NotFound(_)) | Err(RegionError::Forbidden(_)) => {
                fe.add("parent", format!("No machine '{p}' that you can see."));
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let zone = lookup_named(
        region,
        NamedKind::Zone,
        "zone",
        text(params, "zone"),
        &mut fe,
    )
    .await?;
    let host = host_param(region, params, &mut fe).await?;
    let (mut hostname, domain_id) = host.unwrap_or_default();
    fe.check()?;
    if hostname.is_empty() {
        hostname = free_petname(region).await?;
    }
    let (default_zone, pool_id, default_domain) = region.defaults().await?;
    let zone_id = zone.unwrap_or(default_zone);
    let nm = NewMachine {
        hostname,
        domain_id: domain_id.unwrap_or(default_domain),
        description: text(params, "description").unwrap_or_default(),
        status: Some(Status::Deployed),
        owner_id: Some(user.id),
        zone_id,
        pool_id,
        mac_addresses: macs,
        node_type: ingot_store::DEVICE,
        parent_id,
        ..Default::default()
    };
    let ev = NewEvent::info(
        "Device",
        format!("Device created by {}", user.username),
        &user.username,
    );
    insert_node(region, &nm, ev).await
}

/// Insert a machine or device; a MAC or host name already in use is a field error naming it.
async fn insert_node(region: &Region, nm: &NewMachine, ev: NewEvent) -> Result<Machine> {
    region
        .store
        .insert_machine(nm, &[ev])
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(msg) if msg.contains("MAC") => {
                RegionError::field("mac_addresses", msg)
            }
            StoreError::Duplicate(msg) => RegionError::field("hostname", msg),
            e => e.into(),
        })
}

/// `hostname` (which may name its domain) and `domain`: the host name ("" when none was
/// given) and the domain's id (None: the default); None with a field error when refused.
async fn host_param(
    region: &Region,
    params: &Params,
    fe: &mut FieldErrors,
) -> Result<Option<(String, Option<i64>)>> {
    let domain = text(params, "domain");
    Ok(match text(params, "hostname").filter(|h| !h.is_empty()) {
        Some(h) => hostname_and_domain(region, &h, domain, fe).await?,
        None => match domain.filter(|d| !d.is_empty()) {
            Some(d) => match region.store.domain_by_name(&d).await? {
                Some((id, _)) => Some((String::new(), Some(id))),
                None => {
                    fe.add("domain", format!("Domain '{d}' does not exist."));
                    None
                }
            },
            None => Some((String::new(), None)),
        },
    })
}

async fn hostname_and_domain(
    region: &Region,
    raw: &str,
    domain: Option<String>,
    fe: &mut FieldErrors,
) -> Result<Option<(String, Option<i64>)>> {
    let raw = raw.trim().to_ascii_lowercase();
    let (host, dom) = match raw.split_once('.') {
        Some((h, d)) => (h.to_string(), Some(d.to_string())),
        None => (raw.clone(), domain.filter(|d| !d.is_empty())),
    };
    if let Err(e) = ids::validate_hostname(&host) {
        fe.add("hostname", e);
        return Ok(None);
    }
    let dom_id = match dom {
        Some(d) => match region.store.domain_by_name(&d).await? {
            Some((id, _)) => Some(id),
            None => {
                fe.add("domain", format!("Domain '{d}' does not exist."));
                None
            }
        },
        None => None,
    };
    Ok(Some((host, dom_id)))
}

async fn free_petname(region: &Region) -> Result<String> {
    for _ in 0..16 {
        let h = ids::petname(rand::random());
        if !region.store.hostname_taken(&h).await? {
            return Ok(h);
        }
    }
    Err(RegionError::Unavailable(
        "Could not find a free hostname; give one.".into(),
    ))
}

fn macs(params: &Params, fe: &mut FieldErrors) -> Vec<String> {
    let raw = list(params, "mac_addresses");
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for m in raw {
        match ids::normalize_mac(&m) {
            Some(n) if !out.contains(&n) => out.push(n),
            Some(_) => {}
            None => bad.push(m),
        }
    }
    match bad.len() {
        0 => {}
        1 => fe.add(
            "mac_addresses",
            format!("'{}' is not a valid MAC address.", bad[0]),
        ),
        _ => fe.add(
            "mac_addresses",
            format!("One or more MAC addresses is invalid. ({})", bad.join(", ")),
        ),
    }
    out
}

/// Empty, or a kernel name starting with `hwe-` or `ga-`.
fn min_hwe_kernel_ok(k: &str) -> bool {
    k.is_empty() || k.starts_with("hwe-") || k.starts_with("ga-")
}

fn uuid_ok(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// What `POST /machines/` made.
pub struct Created {
    pub machine: Machine,
    /// A machine that has just enlisted itself and is running its enlistment's built-in
    /// commissioning scripts: the credentials it reports with (`consumer:key:secret`).
    pub enlistment_token: Option<Token>,
}

impl From<Machine> for Created {
    fn from(machine: Machine) -> Created {
        Created {
            machine,
            enlistment_token: None,
        }
    }
}

/// POST /machines/: create (admin or user) or enlist (anonymous).
pub async fn create_machine(region: &Region, who: &Principal, params: &Params) -> Result<Created> {
    let user = who.user();
    let anonymous = user.is_none();
    let is_admin = user.is_some_and(|u| u.is_admin);
    let mut fe = FieldErrors::default();

    let arch = match ids::normalize_architecture(
        params.get("architecture"),
        params.get("subarchitecture"),
    ) {
        Ok(a) => a,
        Err(e) => {
            fe.add("architecture", e);
            None
        }
    };
    // A new machine without one gets `default_min_hwe_kernel` (as MAAS's node form does).
    let min_hwe_kernel = match text(params, "min_hwe_kernel").filter(|k| !k.is_empty()) {
        Some(k) => k,
        None => region
            .text_setting("default_min_hwe_kernel")
            .await?
            .unwrap_or_default(),
    };
    if !min_hwe_kernel_ok(&min_hwe_kernel) {
        fe.add(
            "min_hwe_kernel",
            "min_hwe_kernel must start with \"hwe-\" or \"ga-\"",
        );
    }
    let macs = macs(params, &mut fe);
    let power_type = text(params, "power_type").unwrap_or_default();
    let pparams = power_parameters(params, &mut fe).unwrap_or_default();
    let pparams = checked_power_params(region, &power_type, pparams, &mut fe)?;
    // An enlisting machine runs the built-in commissioning scripts only while
    // `enlist_commissioning` is on (MAAS's enlistment asks for them when it is).
    let commission = params.get_bool("commission")?.unwrap_or(!anonymous);
    let commission =
        commission && (!anonymous || region.bool_setting("enlist_commissioning").await?);
    let deployed = params.get_bool("deployed")?.unwrap_or(false);
    if deployed && !is_admin {
        fe.add("deployed", "Only administrators can add deployed machines.");
    }
    let hardware_uuid = text(params, "hardware_uuid").filter(|s| !s.is_empty());
    if hardware_uuid.as_deref().is_some_and(|u| !uuid_ok(u)) {
        fe.add("hardware_uuid", "Enter a valid UUID.");
    }
    let cpu_count = params.get_i64("cpu_count")?.unwrap_or(0);
    let memory = params.get_i64("memory")?.unwrap_or(0);
    if cpu_count < 0 {
        fe.add(
            "cpu_count",
            "Ensure this value is greater than or equal to 0.",
        );
    }
    if memory < 0 {
        fe.add("memory", "Ensure this value is greater than or equal to 0.");
    }
    if deployed {
        // The seed: a deployed machine needs no MAC while its power driver is unknown or IPMI
        // (the BMC identifies it); any other driver needs one.
        if macs.is_empty() && !power_type.is_empty() && power_type != "ipmi" {
            fe.add(
                "mac_addresses",
                format!("A deployed machine with power type '{power_type}' needs a MAC address (only unknown or IPMI power can do without)."),
            );
        }
    } else {
        if arch.is_none() && anonymous && !fe.0.contains_key("architecture") {
            fe.add("architecture", "This field is required.");
        }
        if macs.is_empty() && power_type != "ipmi" && !fe.0.contains_key("mac_addresses") {
            fe.add("mac_addresses", "This field is required.");
        }
    }
    let zone_id = lookup_named(
        region,
        NamedKind::Zone,
        "zone",
        text(params, "zone"),
        &mut fe,
    )
    .await?;
    let pool_id = lookup_named(
        region,
        NamedKind::Pool,
        "pool",
        text(params, "pool"),
        &mut fe,
    )
    .await?;
    let host = host_param(region, params, &mut fe).await?;

    // Anonymous enlistment updates the machine it already knows instead of duplicating it.
    if anonymous && fe.0.is_empty() {
        if let Some(m) = enlist_match(
            region,
            &power_type,
            &pparams,
            &macs,
            hardware_uuid.as_deref(),
        )
        .await?
        {
            // A machine added without a MAC (IPMI, or a running machine) learns its MACs
            // from its first network boot: what lets it network-boot from then on.
            let has_mac = m.interfaces.iter().any(|i| i.kind == "physical");
            let c = Change {
                architecture: arch.clone().map(Some),
                power_type: (!power_type.is_empty()).then(|| power_type.clone()),
                power_parameters: (!power_type.is_empty()).then(|| pparams.clone()),
                mac_addresses: (!has_mac && !macs.is_empty()).then(|| macs.clone()),
                ..Default::default()
            };
            let ev = NewEvent::info(
                "Enlisted again",
                "Anonymous enlistment matched this machine",
                "",
            );
            region.store.apply(&m, &c, &[ev]).await?;
            return region
                .store
                .machine_by_id(m.id)
                .await?
                .map(Created::from)
                .ok_or_else(|| RegionError::NotFound("machine vanished".into()));
        }
    }

    // A MAC already in use is reported by the interfaces' unique index, with its holder.
    // A taken hostname is reported by the insert's unique constraint (no extra query).
    let (mut hostname, domain_id) = host.unwrap_or_default();
    fe.check()?;
    if hostname.is_empty() || ids::looks_ip_derived(&hostname) {
        hostname = free_petname(region).await?;
    }
    let (default_zone, default_pool, default_domain) = region.defaults().await?;
    let domain_id = domain_id.unwrap_or(default_domain);
    let who_name = user.map(|u| u.username.clone()).unwrap_or_default();
    let status = if deployed {
        Status::Deployed
    } else {
        Status::New
    };
    let nm = NewMachine {
        hostname,
        domain_id,
        description: text(params, "description").unwrap_or_default(),
        status: Some(status),
        owner_id: if deployed { user.map(|u| u.id) } else { None },
        architecture: arch,
        min_hwe_kernel,
        power_type,
        power_parameters: pparams,
        zone_id: zone_id.unwrap_or(default_zone),
        pool_id: pool_id.unwrap_or(default_pool),
        cpu_count,
        memory,
        enlisting: anonymous && commission,
        mac_addresses: macs,
        hardware_uuid,
        ..Default::default()
    };
    let how = if anonymous {
        "enlisted"
    } else if deployed {
        "added as deployed"
    } else {
        "created"
    };
    let ev = NewEvent::info(
        status.label(),
        format!(
            "Machine {how}{}",
            if who_name.is_empty() {
                String::new()
            } else {
                format!(" by {who_name}")
            }
        ),
        &who_name,
    );
    let m = insert_node(region, &nm, ev).await?;
    if deployed {
        region.store.ensure_machine_token(m.id).await?;
        return Ok(m.into());
    }
    if anonymous && commission {
        // The seed: enlistment runs the built-in commissioning scripts, then the machine is
        // NEW with its hardware known. If that cannot start, it is NEW without it.
        return match region.start_enlistment(&m).await {
            Ok((machine, token)) => Ok(Created {
                machine,
                enlistment_token: Some(token),
            }),
            Err(e) => {
                region
                    .store
                    .record_event(
                        &m,
                        &NewEvent::error(
                            "Enlistment",
                            format!("The built-in commissioning scripts were not started: {e}"),
                            "",
                        ),
                    )
                    .await?;
                Ok(m.into())
            }
        };
    }
    if let (Some(u), true) = (user, commission) {
        if u.is_admin {
            // As MAAS: a machine added by hand is commissioned at once; if it cannot start
            // (no power type), it stays NEW and the reason is in its events.
            // commissioning_scripts / testing_scripts of the create form apply.
            let opts = action_options(params).unwrap_or_default();
            match region
                .act(u, &m.system_id, Action::Commission, &opts, None)
                .await
            {
                Ok(m) => return Ok(m.into()),
                Err(e) => {
                    region
                        .store
                        .record_event(
                            &m,
                            &NewEvent::error(
                                "Commissioning not started",
                                e.to_string(),
                                &u.username,
                            ),
                        )
                        .await?;
                }
            }
        }
    }
    Ok(m.into())
}

async fn enlist_match(
    region: &Region,
    power_type: &str,
    pparams: &Value,
    macs: &[String],
    uuid: Option<&str>,
) -> Result<Option<Machine>> {
    let enlistable = |m: &Machine| matches!(m.status, Status::New | Status::Commissioning);
    if power_type == "ipmi" {
        if let Some(addr) = pparams.get("power_address").and_then(Value::as_str) {
            let f = ingot_store::MachineFilter {
                statuses: vec![Status::New, Status::Commissioning],
                ..Default::default()
            };
            for m in region.store.list_machines(&f).await? {
                if m.power_parameters
                    .get("power_address")
                    .and_then(Value::as_str)
                    == Some(addr)
                {
                    return Ok(Some(m));
                }
            }
        }
    }
    for mac in macs {
        if let Some(m) = region.store.machine_by_mac(mac).await? {
            if enlistable(&m) {
                return Ok(Some(m));
            }
        }
    }
    if let Some(u) = uuid {
        let f = ingot_store::MachineFilter {
            statuses: vec![Status::New, Status::Commissioning],
            ..Default::default()
        };
        for m in region.store.list_machines(&f).await? {
            if m.hardware_uuid
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(u))
            {
                return Ok(Some(m));
            }
        }
    }
    Ok(None)
}

/// PUT /machines/{id}/: the change to apply (including a new MAC list, if one was given).
pub async fn update_change(
    region: &Region,
    user: &User,
    m: &Machine,
    params: &Params,
) -> Result<Change> {
    let mut fe = FieldErrors::default();
    let mut c = Change::default();
    let owner_fields = ["hostname", "description", "domain"];
    if !user.is_admin {
        for n in params.names() {
            if !owner_fields.contains(&n) && n != "op" {
                fe.add(n, "Only administrators can change this field.");
            }
        }
    }
    if let Some(h) = text(params, "hostname") {
        if let Some((host, dom)) =
            hostname_and_domain(region, &h, text(params, "domain"), &mut fe).await?
        {
            if host != m.hostname && region.store.hostname_taken(&host).await? {
                fe.add(
                    "hostname",
                    format!("Node with this hostname '{host}' already exists."),
                );
            }
            c.hostname = Some(host);
            c.domain_id = dom;
        }
    } else if let Some(d) = text(params, "domain") {
        match region.store.domain_by_name(&d).await? {
            Some((id, _)) => c.domain_id = Some(id),
            None => fe.add("domain", format!("Domain '{d}' does not exist.")),
        }
    }
    if let Some(d) = params.get("description") {
        c.description = Some(d.to_string());
    }
    if params.contains("architecture") || params.contains("subarchitecture") {
        match ids::normalize_architecture(params.get("architecture"), params.get("subarchitecture"))
        {
            Ok(a) => c.architecture = Some(a),
            Err(e) => fe.add("architecture", e),
        }
    }
    if let Some(k) = text(params, "min_hwe_kernel") {
        if !min_hwe_kernel_ok(&k) {
            fe.add(
                "min_hwe_kernel",
                "min_hwe_kernel must start with \"hwe-\" or \"ga-\"",
            );
        }
        c.min_hwe_kernel = Some(k);
    }
    let pt = text(params, "power_type");
    let pp = power_parameters(params, &mut fe);
    if pt.is_some() || pp.is_some() {
        let pt = pt.unwrap_or_else(|| m.power_type.clone());
        let mut merged = match (&pp, &m.power_parameters) {
            (Some(_), Value::Object(o)) if pt == m.power_type => o.clone(),
            _ => Map::new(),
        };
        merged.extend(pp.unwrap_or_default());
        let checked = checked_power_params(region, &pt, merged, &mut fe)?;
        c.power_type = Some(pt);
        c.power_parameters = Some(checked);
    }
    if let Some(z) = lookup_named(
        region,
        NamedKind::Zone,
        "zone",
        text(params, "zone"),
        &mut fe,
    )
    .await?
    {
        c.zone_id = Some(z);
    }
    if let Some(p) = lookup_named(
        region,
        NamedKind::Pool,
        "pool",
        text(params, "pool"),
        &mut fe,
    )
    .await?
    {
        c.pool_id = Some(p);
    }
    if let Some(v) = params.get_i64("cpu_count")? {
        if v < 0 {
            fe.add(
                "cpu_count",
                "Ensure this value is greater than or equal to 0.",
            );
        }
        c.cpu_count = Some(v);
    }
    if let Some(v) = params.get_i64("memory")? {
        if v < 0 {
            fe.add("memory", "Ensure this value is greater than or equal to 0.");
        }
        c.memory = Some(v);
    }
    let new_macs = if params.contains("mac_addresses") {
        let ms = macs(params, &mut fe);
        for (mac, h) in region.store.macs_in_use(&ms).await? {
            if h != m.hostname {
                fe.add(
                    "mac_addresses",
                    format!("MAC address {mac} already in use on {h}."),
                );
            }
        }
        Some(ms)
    } else {
        None
    };
    // The seed: setting a power driver other than IPMI on a machine without a MAC (a
    // brown-field machine added with unknown power) needs the MAC too.
    let has_mac = m.interfaces.iter().any(|i| i.kind == "physical")
        || new_macs.as_ref().is_some_and(|ms| !ms.is_empty());
    if let Some(pt) = c.power_type.as_deref() {
        if !has_mac && !pt.is_empty() && pt != "ipmi" && pt != m.power_type {
            fe.add(
                "mac_addresses",
                format!("The machine has no MAC address: give one (mac_addresses) to set power type '{pt}' (only unknown or IPMI power can do without)."),
            );
        }
    }
    fe.check()?;
    c.mac_addresses = new_macs;
    Ok(c)
}

fn subnet_specs(
    params: &Params,
    name: &str,
    fe: &mut FieldErrors,
) -> Vec<ingot_core::constraints::SubnetSpec> {
    list(params, name)
        .iter()
        .filter_map(|v| {
            ingot_core::constraints::parse_subnet_spec(v)
                .map_err(|e| fe.add(name, format!("Invalid subnet specifier: {e}.")))
                .ok()
        })
        .collect()
}

/// Allocation constraints from `op=allocate` parameters, checked against known tags, zones
/// and pools.
pub async fn constraints(region: &Region, params: &Params) -> Result<Constraints> {
    let mut fe = FieldErrors::default();
    for removed in ["install_rackd", "install_kvm", "register_vmhost"] {
        if params.get_bool(removed).ok().flatten() == Some(true) {
            return Err(RegionError::BadRequest(format!(
                "Support for {removed} has been removed."
            )));
        }
    }
    let num = |name: &str, fe: &mut FieldErrors| -> Option<f64> {
        match params.get_f64(name) {
            Ok(Some(v)) if v >= 0.0 => Some(v),
            Ok(Some(_)) => {
                fe.add(name, "Must be a non-negative number.");
                None
            }
            Ok(None) => None,
            Err(_) => {
                fe.add(
                    name,
                    format!("Invalid number: {}", params.get(name).unwrap_or_default()),
                );
                None
            }
        }
    };
    let c = Constraints {
        name: text(params, "name").filter(|s| !s.is_empty()),
        system_id: text(params, "system_id").filter(|s| !s.is_empty()),
        arch: list(params, "arch"),
        not_arch: list(params, "not_arch"),
        cpu_count: num("cpu_count", &mut fe),
        mem: num("mem", &mut fe),
        tags: list(params, "tags"),
        not_tags: list(params, "not_tags"),
        zone: text(params, "zone").filter(|s| !s.is_empty()),
        not_in_zone: [list(params, "not_in_zone"), list(params, "not_in_zones")].concat(),
        pool: text(params, "pool").filter(|s| !s.is_empty()),
        not_in_pool: list(params, "not_in_pool"),
        storage: match text(params, "storage").filter(|s| !s.trim().is_empty()) {
            Some(s) => ingot_core::constraints::parse_storage(&s).unwrap_or_else(|e| {
                fe.add("storage", format!("Invalid storage constraint: {e}."));
                Vec::new()
            }),
            None => Vec::new(),
        },
        interfaces: match text(params, "interfaces").filter(|s| !s.trim().is_empty()) {
            Some(s) => ingot_core::constraints::parse_interfaces(&s).unwrap_or_else(|e| {
                fe.add("interfaces", format!("Invalid interfaces constraint: {e}."));
                Vec::new()
            }),
            None => Vec::new(),
        },
        subnets: subnet_specs(params, "subnets", &mut fe),
        not_subnets: subnet_specs(params, "not_subnets", &mut fe),
        fabrics: list(params, "fabrics"),
        not_fabrics: list(params, "not_fabrics"),
        fabric_classes: list(params, "fabric_classes"),
        not_fabric_classes: list(params, "not_fabric_classes"),
        devices: params
            .get_all("devices")
            .iter()
            .filter(|s| !s.trim().is_empty())
            .filter_map(|s| {
                ingot_core::constraints::parse_device_filter(s)
                    .map_err(|e| fe.add("devices", format!("Invalid devices constraint: {e}.")))
                    .ok()
            })
            .collect(),
    };
    for a in c.arch.iter().chain(&c.not_arch) {
        let base = a.split('/').next().unwrap_or_default();
        if !ids::ARCHITECTURES.contains(&base) {
            fe.add("arch", format!("Architecture not recognised: {a}"));
        }
    }
    // Tags, zones and pools are read only when the constraints name some (an allocation
    // without them reads none: each statement costs the allocation path).
    let known: Vec<String> = if c.tags.is_empty() && c.not_tags.is_empty() {
        Vec::new()
    } else {
        region
            .store
            .list_tags()
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    let unknown: Vec<&String> = c
        .tags
        .iter()
        .chain(&c.not_tags)
        .filter(|t| !known.contains(t))
        .collect();
    if !unknown.is_empty() {
        fe.add(
            "tags",
            format!(
                "No such tag(s): {}.",
                unknown
                    .iter()
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    for (field, kind, names) in [
        (
            "zone",
            NamedKind::Zone,
            c.zone
                .iter()
                .chain(&c.not_in_zone)
                .cloned()
                .collect::<Vec<_>>(),
        ),
        (
            "pool",
            NamedKind::Pool,
            c.pool
                .iter()
                .chain(&c.not_in_pool)
                .cloned()
                .collect::<Vec<_>>(),
        ),
    ] {
        if names.is_empty() {
            continue;
        }
        let all: Vec<String> = region
            .store
            .list_named(kind)
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect();
        let bad: Vec<String> = names.into_iter().filter(|n| !all.contains(n)).collect();
        if !bad.is_empty() {
            fe.add(field, format!("No such {field}(s): {}.", bad.join(", ")));
        }
    }
    // Spaces are named as zones are: a name that is no space is a mistake, not "no match"
    // (read only when a constraint names a space).
    let names_a_space = c
        .subnets
        .iter()
        .chain(&c.not_subnets)
        .any(|s| matches!(s, ingot_core::constraints::SubnetSpec::Space(_)))
        || c.interfaces
            .iter()
            .flat_map(|r| &r.conds)
            .any(|(k, _)| k == "space");
    let spaces = if names_a_space {
        region.store.spaces().await?
    } else {
        Vec::new()
    };
    let known_space = |s: &str| {
        s == crate::spaces::UNDEFINED || spaces.iter().any(|x| x.name == s || x.id.to_string() == s)
    };
    let space_of = |spec: &ingot_core::constraints::SubnetSpec| match spec {
        ingot_core::constraints::SubnetSpec::Space(s) => Some(s.clone()),
        _ => None,
    };
    for (field, named) in [
        (
            "subnets",
            c.subnets.iter().filter_map(space_of).collect::<Vec<_>>(),
        ),
        (
            "not_subnets",
            c.not_subnets.iter().filter_map(space_of).collect(),
        ),
        (
            "interfaces",
            c.interfaces
                .iter()
                .flat_map(|r| &r.conds)
                .filter(|(k, _)| k == "space")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
    ] {
        let bad: Vec<String> = named.into_iter().filter(|s| !known_space(s)).collect();
        if !bad.is_empty() {
            fe.add(field, format!("No such space(s): {}.", bad.join(", ")));
        }
    }
    fe.check()?;
    Ok(c)
}

/// Deploy parameters: distro_series as `ubuntu/jammy`, `jammy` or `22.04`.
pub async fn deploy_params(region: &Region, params: &Params) -> Result<DeployParams> {
    for removed in ["install_rackd", "install_kvm", "register_vmhost"] {
        if params.get_bool(removed).ok().flatten() == Some(true) {
            return Err(RegionError::BadRequest(format!(
                "Support for {removed} has been removed."
            )));
        }
    }
    let default_series = region
        .text_setting("default_distro_series")
        .await?
        .unwrap_or_default();
    let default_os = region
        .text_setting("default_osystem")
        .await?
        .unwrap_or_default();
    let raw = text(params, "distro_series")
        .filter(|s| !s.is_empty())
        .unwrap_or(default_series);
    let (os, series) = match raw.split_once('/') {
        Some((o, s)) => (o.to_string(), s.to_string()),
        None => (
            text(params, "osystem")
                .filter(|s| !s.is_empty())
                .unwrap_or(default_os),
            raw.clone(),
        ),
    };
    let series = ingot_core::inventory::ubuntu_codename(&series)
        .map(str::to_string)
        .unwrap_or(series);
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    };
    if !ok(&os) || !ok(&series) {
        return Err(RegionError::field(
            "distro_series",
            format!("'{raw}' is not a valid distro series."),
        ));
    }
    let user_data = match params.get("user_data").filter(|s| !s.is_empty()) {
        Some(b64) => {
            use base64::Engine;
            let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(cleaned.as_bytes())
                    .map_err(|_| {
                        RegionError::field("user_data", "user_data must be base64-encoded.")
                    })?,
            )
        }
        None => None,
    };
    Ok(DeployParams {
        osystem: os.to_ascii_lowercase(),
        distro_series: series.to_ascii_lowercase(),
        hwe_kernel: text(params, "hwe_kernel").unwrap_or_default(),
        agent_name: text(params, "agent_name"),
        user_data,
    })
}

/// Options of release / mark_broken / others.
pub fn action_options(params: &Params) -> Result<ActionOptions> {
    let secure_erase = params.get_bool("secure_erase")?;
    let quick_erase = params.get_bool("quick_erase")?;
    let erase = params.get_bool("erase")?.unwrap_or(false)
        || secure_erase.unwrap_or(false)
        || quick_erase.unwrap_or(false);
    let soft = match params.get("stop_mode").map(str::trim) {
        None | Some("") | Some("hard") => false,
        Some("soft") => true,
        Some(other) => {
            return Err(RegionError::field(
                "stop_mode",
                format!("'{other}' is not a stop mode: use hard or soft."),
            ))
        }
    };
    // Names or tags, comma separated or repeated.
    let list = |name: &str| -> Option<Vec<String>> {
        let vals = params.get_all(name);
        if vals.is_empty() {
            return None;
        }
        Some(
            vals.iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect(),
        )
    };
    Ok(ActionOptions {
        soft,
        erase,
        secure_erase,
        quick_erase,
        commissioning_scripts: list("commissioning_scripts"),
        testing_scripts: list("testing_scripts"),
        skip_storage: params.get_bool("skip_storage")?.unwrap_or(false),
        comment: params
            .get("comment")
            .map(String::from)
            .filter(|c| !c.is_empty()),
    })
}
