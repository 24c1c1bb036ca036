//! `machines/?op=clone`: copy a source machine's storage and/or interface configuration onto
//! destination machines (spec §2.6, §7). The form is checked first (source, destinations,
//! flags); then each destination is checked and changed on its own — one transaction each, all
//! or nothing — so that one destination's failure keeps neither the others from changing nor
//! its own old configuration from staying. The report lists the changed machines and, for every
//! other destination, why not.

use crate::error::FieldErrors;
use crate::{actor, facts, Region, RegionError, Result};
use ingot_core::actions::{check_permission, Permission};
use ingot_core::clone::{
    cloned_storage, interface_mapping, interface_plan, storage_mapping, CloneDisk, CloneIface,
    CloneLink, StorageFacts,
};
use ingot_core::net::Cidr;
use ingot_core::storage::StorageModel;
use ingot_core::Status;
use ingot_store::clone::{AddressPool, CloneApplied};
use ingot_store::{Machine, NewEvent, StoreError, User};
use ingot_wire::Params;
use std::collections::HashMap;

/// Statuses a destination may be in (MAAS: Ready or Failed testing).
pub const DESTINATION_STATUSES: &[Status] = &[Status::Ready, Status::FailedTesting];

/// A destination that was not changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneFailure {
    pub system_id: String,
    /// The machine's hostname, when the machine exists.
    pub hostname: Option<String>,
    pub cause: String,
}

impl CloneFailure {
    /// `<hostname> (<system_id>): <cause>`, or `<system_id>: <cause>` for an unknown machine.
    pub fn message(&self) -> String {
        match &self.hostname {
            Some(h) => format!("{h} ({}): {}", self.system_id, self.cause),
            None => format!("{}: {}", self.system_id, self.cause),
        }
    }
}

/// What `op=clone` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneReport {
    pub source: String,
    /// Destinations changed, in the order given.
    pub cloned: Vec<String>,
    /// Destinations left as they were, in the order given.
    pub failed: Vec<CloneFailure>,
}

/// The storage rules' view of a machine.
fn storage_facts(m: &Machine, uefi: bool, model: &StorageModel) -> StorageFacts {
    StorageFacts {
        architecture: m.architecture.clone().unwrap_or_default(),
        boot_method: if uefi { "uefi" } else { "bios" }.to_string(),
        ..storage_facts_of(model)
    }
}

/// The interface rules' view of a machine.
fn clone_ifaces(m: &Machine) -> Vec<CloneIface> {
    m.interfaces
        .iter()
        .map(|i| CloneIface {
            id: i.id,
            name: i.name.clone(),
            kind: i.kind.clone(),
            mac: i.mac_address.clone(),
            enabled: i.enabled,
            params: i.params.clone(),
            parents: i.parents.clone(),
            links: i
                .links
                .iter()
                .map(|l| CloneLink {
                    mode: l.mode.clone(),
                    subnet_id: l.subnet_id,
                    has_address: l.staticip_id.is_some(),
                    default_gateway: l.default_gateway,
                })
                .collect(),
        })
        .collect()
}

/// What the source contributes, loaded once.
struct Source {
    machine: Machine,
    facts: StorageFacts,
    model: StorageModel,
    ifaces: Vec<CloneIface>,
}

/// How many times a destination is tried again when another writer took an address first.
const ADDRESS_RETRIES: usize = 5;

impl Region {
    /// `POST machines/?op=clone`: `source`, `destinations` (repeated or comma-separated),
    /// `storage`, `interfaces`. Field errors (400) for the source and the flags; every
    /// destination is then cloned or reported on its own: when any is not,
    /// `RegionError::CloneFailed` carries the whole report.
    pub async fn clone_machines(&self, user: &User, p: &Params) -> Result<CloneReport> {
        let mut fe = FieldErrors::default();
        let source_id = p
            .get("source")
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let mut destinations: Vec<String> = Vec::new();
        for d in crate::forms::list(p, "destinations") {
            if !destinations.contains(&d) {
                destinations.push(d);
            }
        }
        let mut flag = |name: &str| match p.get_bool(name) {
            Ok(v) => v.unwrap_or(false),
            Err(ingot_wire::WireError::InvalidField { message, .. }) => {
                fe.add(name, message);
                false
            }
            Err(e) => {
                fe.add(name, e.to_string());
                false
            }
        };
        let storage = flag("storage");
        let interfaces = flag("interfaces");
        let source = if source_id.is_empty() {
            fe.add("source", "This field is required.");
            None
        } else {
            match self.store.machine(&source_id).await? {
                Some(m) if ingot_core::actions::can_view(&facts(&m), actor(user)) => Some(m),
                _ => {
                    fe.add(
                        "source",
                        format!("No machine you can see has the system_id '{source_id}'."),
                    );
                    None
                }
            }
        };
        if destinations.is_empty() {
            fe.add("destinations", "At least one destination is required.");
        }
        if !storage
            && !interfaces
            && !fe.0.contains_key("storage")
            && !fe.0.contains_key("interfaces")
        {
            fe.add("__all__", "Either storage or interfaces must be true.");
        }
        fe.check()?;
        let Some(machine) = source else {
            return Err(RegionError::field("source", "This field is required."));
        };
        let src = self.clone_source(machine).await?;
        let pools = if interfaces {
            self.address_pools().await?
        } else {
            HashMap::new()
        };
        let mut report = CloneReport {
            source: src.machine.system_id.clone(),
            cloned: vec![],
            failed: vec![],
        };
        for d in destinations {
            match self
                .clone_onto(user, &src, &d, storage, interfaces, &pools)
                .await?
            {
                Ok(()) => report.cloned.push(d),
                Err((hostname, cause)) => report.failed.push(CloneFailure {
                    system_id: d,
                    hostname,
                    cause,
                }),
            }
        }
        if !report.failed.is_empty() {
            return Err(RegionError::CloneFailed(Box::new(report)));
        }
        Ok(report)
    }

    /// Every subnet as the address allocator needs it.
    async fn address_pools(&self) -> Result<HashMap<i64, AddressPool>> {
        let mut out = HashMap::new();
        let ranges = self.store.ipranges(None).await?;
        for s in self.store.subnets().await? {
            let Ok(cidr) = Cidr::parse(&s.cidr) else {
                continue;
            };
            let excluded = ranges
                .iter()
                .filter(|r| r.subnet_id == s.id && (r.kind == "dynamic" || r.kind == "reserved"))
                .filter_map(|r| Some((r.start_ip.parse().ok()?, r.end_ip.parse().ok()?)))
                .collect();
            out.insert(
                s.id,
                AddressPool {
                    cidr,
                    gateway: s.gateway_ip.as_deref().and_then(|g| g.parse().ok()),
                    excluded,
                },
            );
        }
        Ok(out)
    }

    /// Check and change one destination. The inner error is (hostname if known, cause).
    async fn clone_onto(
        &self,
        user: &User,
        src: &Source,
        system_id: &str,
        storage: bool,
        interfaces: bool,
        pools: &HashMap<i64, AddressPool>,
    ) -> Result<std::result::Result<(), (Option<String>, String)>> {
        let Some(m) = self.store.machine(system_id).await? else {
            return Ok(Err((None, "no machine has this system_id.".into())));
        };
        let fail = |cause: String| Ok(Err((Some(m.hostname.clone()), cause)));
        // How the destination boots matters to its storage only: read once, when cloned.
        let dest_uefi = storage && self.machine_boots_uefi(&m).await?;
        if let Some(cause) = self
            .destination_refusal(user, src, &m, dest_uefi, storage, interfaces)
            .await?
        {
            return fail(cause);
        }
        let what = match (storage, interfaces) {
            (true, true) => "Storage and interfaces",
            (true, false) => "Storage",
            _ => "Interfaces",
        };
        let event = NewEvent::info(
            "Cloned",
            format!(
                "{what} cloned from {} ({})",
                src.machine.hostname, src.machine.system_id
            ),
            &user.username,
        );
        for _ in 0..ADDRESS_RETRIES {
            let storage_step: Option<ingot_store::clone::StorageStep> = if storage {
                let (arch, source_facts, source_model) =
                    (m.architecture.clone(), &src.facts, &src.model);
                Some(Box::new(move |current: &StorageModel| {
                    let dest = StorageFacts {
                        architecture: arch.unwrap_or_default(),
                        boot_method: if dest_uefi { "uefi" } else { "bios" }.to_string(),
                        ..storage_facts_of(current)
                    };
                    let mapping = storage_mapping(source_facts, &dest)
                        .map_err(|e| format!("storage: {e}."))?;
                    let mut gen = crate::storage::uuids();
                    cloned_storage(source_model, &mapping, current, &mut gen)
                        .map_err(|e| format!("storage: {e}."))
                }))
            } else {
                None
            };
            let network_step: Option<(ingot_store::clone::NetworkStep, _)> = if interfaces {
                let source_ifaces = &src.ifaces;
                Some((
                    Box::new(move |current: &[CloneIface]| {
                        interface_plan(source_ifaces, current)
                            .map_err(|e| format!("interfaces: {e}."))
                    }) as ingot_store::clone::NetworkStep,
                    pools,
                ))
            } else {
                None
            };
            match self
                .store
                .apply_clone(
                    m.id,
                    DESTINATION_STATUSES,
                    storage_step,
                    network_step,
                    &event,
                )
                .await
            {
                Ok(CloneApplied::Done) => return Ok(Ok(())),
                Ok(CloneApplied::WrongStatus(s)) => {
                    return fail(format!(
                        "it is {}; only Ready or Failed testing machines can be cloned onto.",
                        s.label()
                    ))
                }
                Ok(CloneApplied::Refused(why)) => return fail(why),
                // Another writer took the address chosen: choose again.
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        fail("the subnet's addresses kept being taken by other requests; try again.".into())
    }
}

/// A machine the clone form offers as a destination, and why it cannot be one (None: it can).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneCandidate {
    pub system_id: String,
    pub hostname: String,
    pub status: Status,
    pub refusal: Option<String>,
}

/// What the clone form shows: the source, the machines matching the filter (at most `limit`,
/// by host name) each with its refusal, and how many matched in all.
#[derive(Debug, Clone)]
pub struct CloneCandidates {
    pub source: Machine,
    pub candidates: Vec<CloneCandidate>,
    pub matched: usize,
}

impl Region {
    /// The source as the clone rules need it, loaded once.
    async fn clone_source(&self, machine: Machine) -> Result<Source> {
        let uefi = self.machine_boots_uefi(&machine).await?;
        let model = self.store.storage_model(machine.id).await?;
        Ok(Source {
            facts: storage_facts(&machine, uefi, &model),
            ifaces: clone_ifaces(&machine),
            model,
            machine,
        })
    }

    /// Why `m` cannot receive the source's configuration, or None: the checks `op=clone` makes
    /// before it changes a destination. `uefi`: whether `m` boots UEFI (read when `storage`).
    async fn destination_refusal(
        &self,
        user: &User,
        src: &Source,
        m: &Machine,
        uefi: bool,
        storage: bool,
        interfaces: bool,
    ) -> Result<Option<String>> {
        if m.id == src.machine.id {
            return Ok(Some(format!(
                "the source machine {} cannot be a destination machine.",
                src.machine.hostname
            )));
        }
        if let Err(e) = check_permission(&facts(m), actor(user), Permission::Admin) {
            return Ok(Some(format!("you cannot administer this machine: {e}")));
        }
        if !DESTINATION_STATUSES.contains(&m.status) {
            return Ok(Some(format!(
                "it is {}; only Ready or Failed testing machines can be cloned onto.",
                m.status.label()
            )));
        }
        let mut causes = Vec::new();
        if storage {
            let model = self.store.storage_model(m.id).await?;
            if let Err(e) = storage_mapping(&src.facts, &storage_facts(m, uefi, &model)) {
                causes.push(format!("storage: {e}"));
            }
        }
        if interfaces {
            if let Err(e) = interface_mapping(&src.ifaces, &clone_ifaces(m)) {
                causes.push(format!("interfaces: {e}"));
            }
        }
        Ok((!causes.is_empty()).then(|| format!("{}.", causes.join("; "))))
    }

    /// The clone form's destinations: every machine `user` sees, but the source, whose host
    /// name or system id contains `filter`, by host name, the first `limit` of them checked as
    /// `op=clone` would check them. The source is a system id or a host name; 400 names it
    /// when no machine the user sees has it.
    pub async fn clone_candidates(
        &self,
        user: &User,
        source: &str,
        filter: &str,
        storage: bool,
        interfaces: bool,
        limit: usize,
    ) -> Result<CloneCandidates> {
        let source = source.trim();
        let mut visible = self
            .list_machines_brief(user, crate::model::MachineFilter::default())
            .await?;
        let Some(found) = visible
            .iter()
            .find(|m| m.system_id == source)
            .or_else(|| visible.iter().find(|m| m.hostname == source))
            .map(|m| m.system_id.clone())
        else {
            return Err(RegionError::field(
                "source",
                format!("No machine you can see has the system_id or host name '{source}'."),
            ));
        };
        let Some(machine) = self.store.machine(&found).await? else {
            return Err(RegionError::field(
                "source",
                format!("No machine you can see has the system_id or host name '{source}'."),
            ));
        };
        let src = self.clone_source(machine).await?;
        let filter = filter.trim().to_lowercase();
        visible.retain(|m| {
            m.id != src.machine.id
                && (m.hostname.to_lowercase().contains(&filter)
                    || m.system_id.to_lowercase().contains(&filter))
        });
        visible.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        let matched = visible.len();
        let mut candidates = Vec::new();
        for brief in visible.into_iter().take(limit) {
            let Some(m) = self.store.machine(&brief.system_id).await? else {
                continue;
            };
            let refusal = if storage || interfaces {
                let uefi = storage && self.machine_boots_uefi(&m).await?;
                self.destination_refusal(user, &src, &m, uefi, storage, interfaces)
                    .await?
            } else {
                Some("choose storage, interfaces or both.".to_string())
            };
            candidates.push(CloneCandidate {
                system_id: m.system_id,
                hostname: m.hostname,
                status: m.status,
                refusal,
            });
        }
        Ok(CloneCandidates {
            source: src.machine,
            candidates,
            matched,
        })
    }
}

/// The disks of a stored model as the storage rules see them (architecture and boot method
/// left for the caller).
fn storage_facts_of(model: &StorageModel) -> StorageFacts {
    StorageFacts {
        architecture: String::new(),
        boot_method: String::new(),
        disks: model
            .disks
            .iter()
            .map(|d| CloneDisk {
                id: d.id,
                name: d.name.clone(),
                size: d.size,
                tags: d.tags.clone(),
                boot: d.boot,
            })
            .collect(),
    }
}
