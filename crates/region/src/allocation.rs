//! Allocation: the SQL pre-filter, the core's match over candidates (closest fit), and the compare-and-swap that claims a machine; what matched.

use crate::{actor, facts, Region, RegionError, Result};
use ingot_core::actions::plan;
use ingot_core::actions::Action;
use ingot_core::actions::ActionOptions;
use ingot_core::constraints::Candidate;
use ingot_core::constraints::Constraints;
use ingot_core::constraints::Matched;
use ingot_core::Status;
use ingot_store::Change;
use ingot_store::Machine;
use ingot_store::MachineFilter;
use ingot_store::Store;
use ingot_store::StoreError;
use ingot_store::User;
use std::collections::HashMap;

/// A machine's disks and interfaces as the `storage` / `interfaces` constraints see them.
/// The network model as allocation constraints see a link's subnet.
#[derive(Debug, Clone, Default)]
pub struct NetFacts {
    subnets: HashMap<i64, ingot_core::constraints::SubnetFacts>,
}

impl NetFacts {
    pub async fn load(store: &Store) -> Result<NetFacts> {
        let fabrics = store.fabrics().await?;
        let vlans = store.vlans(None).await?;
        let subnets = store
            .subnets()
            .await?
            .into_iter()
            .map(|s| {
                let v = vlans.iter().find(|v| v.id == s.vlan_id);
                let f = v.and_then(|v| fabrics.iter().find(|f| f.id == v.fabric_id));
                let facts = ingot_core::constraints::SubnetFacts {
                    id: s.id,
                    cidr: s.cidr.clone(),
                    name: s.name.clone(),
                    vlan_id: s.vlan_id,
                    vid: v.map_or(0, |v| v.vid),
                    vlan_name: v.map(|v| v.name.clone()).unwrap_or_default(),
                    fabric_id: f.map_or(0, |f| f.id),
                    fabric: f.map(|f| f.name.clone()).unwrap_or_default(),
                    fabric_class: f.and_then(|f| f.class_type.clone()).unwrap_or_default(),
                    space_id: v.and_then(|v| v.space_id).unwrap_or(0),
                    space: v.and_then(|v| v.space.clone()).unwrap_or_default(),
                };
                (s.id, facts)
            })
            .collect();
        Ok(NetFacts { subnets })
    }
}

pub fn hardware_facts(
    m: &Machine,
    net: &NetFacts,
) -> (
    Vec<ingot_core::constraints::DiskFacts>,
    Vec<ingot_core::constraints::NicFacts>,
) {
    let disks = m
        .block_devices
        .iter()
        .map(|b| ingot_core::constraints::DiskFacts {
            id: b.id,
            size: u64::try_from(b.size).unwrap_or(0),
            tags: b.tags.clone(),
        })
        .collect();
    let nics = m
        .interfaces
        .iter()
        .map(|i| ingot_core::constraints::NicFacts {
            id: i.id,
            name: i.name.clone(),
            kind: i.kind.clone(),
            tags: i.details["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            link_speed: i.details["link_speed"].as_u64().unwrap_or(0),
            links: i
                .links
                .iter()
                .filter_map(|l| {
                    Some(ingot_core::constraints::LinkFacts {
                        subnet: net.subnets.get(&l.subnet_id?)?.clone(),
                        mode: l.mode.clone(),
                        ip: l.ip.clone(),
                    })
                })
                .collect(),
        })
        .collect();
    (disks, nics)
}

pub fn candidate<'a>(
    m: &'a Machine,
    disks: &'a [ingot_core::constraints::DiskFacts],
    nics: &'a [ingot_core::constraints::NicFacts],
    devices: &'a [ingot_core::constraints::DeviceFacts],
) -> Candidate<'a> {
    Candidate {
        system_id: &m.system_id,
        hostname: &m.hostname,
        domain: &m.domain,
        architecture: m.architecture.as_deref().unwrap_or(""),
        cpu_count: m.cpu_count,
        memory: m.memory,
        tags: &m.tags,
        zone: &m.zone,
        pool: &m.pool,
        disks,
        nics,
        devices,
    }
}

pub(crate) fn no_match_message(c: &Constraints) -> String {
    if c.is_empty() {
        "No machine available.".into()
    } else if let (Some(id), true) = (
        &c.system_id,
        Constraints {
            system_id: None,
            ..c.clone()
        }
        .is_empty(),
    ) {
        format!("No machine with system ID {id} available.")
    } else {
        format!("No available machine matches constraints: {}", c.describe())
    }
}

impl Region {
    /// Allocate a READY machine matching `c` for `user`. Never hands one machine to two callers:
    /// the winner is decided by the store's compare-and-swap.
    pub async fn allocate(
        &self,
        user: &User,
        c: &Constraints,
        agent_name: Option<&str>,
        comment: Option<&str>,
        dry_run: bool,
    ) -> Result<Machine> {
        let filter = MachineFilter {
            statuses: vec![Status::Ready],
            min_cpu: c.cpu_count.map(|v| v.ceil() as i64),
            min_mem: c.mem.map(|v| v.ceil() as i64),
            zone: c.zone.clone(),
            pool: c.pool.clone(),
            system_ids: c.system_id.iter().cloned().collect(),
            visible_to: if user.is_admin { None } else { Some(user.id) },
            ..Default::default()
        };
        // Pages of candidates in closest-fit order. The first is small: it almost always
        // decides, and every row read costs (a page of 64 full rows made allocation half as
        // fast as a page of 8, measured with 32 clients); each next page is four times larger,
        // up to 512, for constraints that only the core can check (few candidates match).
        let mut page_size: i64 = 8;
        let mut after = None;
        let mut net: Option<NetFacts> = None;
        // The candidates' tags only when the constraints look at them: the machine handed out
        // is read whole once it is claimed.
        let with_tags = !c.tags.is_empty() || !c.not_tags.is_empty();
        loop {
            let mut page = self
                .store
                .allocation_candidates(&filter, after, page_size, with_tags)
                .await?;
            // Disks, interfaces and devices only when the constraints look at them.
            let networked = !c.interfaces.is_empty()
                || !c.subnets.is_empty()
                || !c.not_subnets.is_empty()
                || !c.fabrics.is_empty()
                || !c.not_fabrics.is_empty()
                || !c.fabric_classes.is_empty()
                || !c.not_fabric_classes.is_empty();
            if !c.storage.is_empty() || networked {
                self.store.load_hardware(&mut page).await?;
            }
            if networked && net.is_none() {
                net = Some(NetFacts::load(&self.store).await?);
            }
            let no_net = NetFacts::default();
            let net_ref = net.as_ref().unwrap_or(&no_net);
            let devices = if c.devices.is_empty() {
                HashMap::new()
            } else {
                let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
                self.store.machine_devices(&ids).await?
            };
            let exhausted = (page.len() as i64) < page_size;
            page_size = (page_size * 4).min(512);
            after = page.last().map(|m| (m.cpu_count, m.memory, m.id));
            let mut cands: Vec<(i64, i64, &Machine)> = page
                .iter()
                .filter(|m| !m.locked)
                .filter_map(|m| {
                    let (disks, nics) = hardware_facts(m, net_ref);
                    let devs = devices.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
                    let cand = candidate(m, &disks, &nics, devs);
                    c.matches(&cand).then(|| {
                        let (a, b) = c.fit_cost(&cand);
                        (a, b, m)
                    })
                })
                .collect();
            cands.sort_by_key(|(a, b, m)| (*a, *b, m.id));
            if dry_run {
                if let Some((_, _, m)) = cands.first() {
                    return self.after_change(m.id).await;
                }
            } else if let Some(m) = self
                .allocate_first(user, &cands, agent_name, comment)
                .await?
            {
                return Ok(m);
            }
            if exhausted {
                break;
            }
        }
        Err(RegionError::Conflict(no_match_message(c)))
    }

    /// Which of an allocated machine's disks and interfaces satisfied the `storage` and
    /// `interfaces` constraints (allocate's `constraints_by_type`).
    pub async fn matched_hardware(&self, m: &Machine, c: &Constraints) -> Result<Matched> {
        let net = if c.interfaces.is_empty() {
            NetFacts::default()
        } else {
            NetFacts::load(&self.store).await?
        };
        let (disks, nics) = hardware_facts(m, &net);
        Ok(c.matched(&candidate(m, &disks, &nics, &[]))
            .unwrap_or_default())
    }

    /// Try to allocate the candidates in order; contending callers spread over the best
    /// candidates instead of all racing for the first: a candidate another request of this
    /// process is allocating is skipped, and after a lost compare-and-swap (another region)
    /// the next try is a random one of the next few. `None` when every one was taken.
    pub(crate) async fn allocate_first(
        &self,
        user: &User,
        cands: &[(i64, i64, &Machine)],
        agent_name: Option<&str>,
        comment: Option<&str>,
    ) -> Result<Option<Machine>> {
        let mut order: Vec<usize> = (0..cands.len()).collect();
        let mut lost = 0usize;
        // Candidates held by another request are tried once more at the end: that request
        // may fail, and a machine it gives back is not passed over.
        let mut held = Vec::new();
        for pass in 0..2 {
            let mut i = 0usize;
            while i < order.len() {
                let m = cands[order[i]].2;
                i += 1;
                let Some(_claim) = Claim::take(&self.allocating, m.id) else {
                    if pass == 0 {
                        held.push(order[i - 1]);
                    }
                    continue;
                };
                let opts = ActionOptions {
                    comment: comment.map(String::from),
                    ..Default::default()
                };
                let Ok(p) = plan(Action::Allocate, &facts(m), actor(user), &opts) else {
                    continue;
                };
                let mut extra = Change::default();
                if let Some(a) = agent_name {
                    extra.agent_name = Some(a.to_string());
                }
                match self.apply_plan(m, &p, extra, &user.username, comment).await {
                    Ok(()) => return Ok(Some(self.after_change(m.id).await?)),
                    Err(RegionError::Store(StoreError::Conflict)) => {
                        // Another region took it: jump to a random one of the next few.
                        lost += 1;
                        let rest = order.len() - i;
                        if lost == 1 && rest > 1 {
                            let j = i + (rand::random::<usize>() % rest.min(32));
                            order.swap(i, j);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            order = std::mem::take(&mut held);
        }
        Ok(None)
    }
}

/// A machine this process is allocating: held while its compare-and-swap runs, given back on
/// drop (whatever the outcome).
struct Claim<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<i64>>,
    id: i64,
}

impl<'a> Claim<'a> {
    /// `None` when another request of this process holds `id`.
    fn take(set: &'a std::sync::Mutex<std::collections::HashSet<i64>>, id: i64) -> Option<Self> {
        let newly = set.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        // (Not `then_some`: it would build, and drop, a claim on `id` held by another.)
        newly.then(|| Claim { set, id })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut held = self.set.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(&self.id);
    }
}
