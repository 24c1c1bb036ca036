//! A node's hardware details as MAAS serves them (`op=details`: lshw and LLDP) and the tags
//! those details decide: a tag with a definition (XPath 1.0, `core::tags`) is on exactly the
//! nodes whose details make it true. Definitions are evaluated when a tag is created or its
//! definition changes (every node), when a node's inventory is stored by commissioning (every
//! defined tag, for that node), and on `tags/{name}/?op=rebuild`.
//!
//! The lshw part is rendered (`core::lshw`) from the node's latest passed
//! `50-maas-01-commissioning` output (the machine-resources document); the LLDP part is the
//! latest passed `maas-capture-lldpd` output (lldpctl's XML). A node without them is evaluated
//! over an empty `<list/>`, as MAAS does.

use crate::{Region, RegionError, Result};
use ingot_core::scripts::{LLDP_SCRIPT, RESOURCES_SCRIPT};
use ingot_core::tags::{is_defined, Definition, Details};
use ingot_core::{lshw, tags};
use ingot_store::Tag;

/// What `op=details` serves: each part's bytes, `None` when the node has none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HardwareDetails {
    pub lshw: Option<Vec<u8>>,
    pub lldp: Option<Vec<u8>>,
}

/// Evaluations of definitions running at once (each renders and parses a document).
static EVALUATING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// The raw outputs the details are made from.
struct Outputs {
    resources: Option<Vec<u8>>,
    lldp: Option<Vec<u8>>,
}

/// The lshw document of a resources output (`None` when there is none or it is not one).
fn render(resources: Option<&[u8]>) -> Option<String> {
    let doc = resources?;
    match lshw::render_bytes(doc) {
        Ok(xml) => Some(xml),
        Err(e) => {
            tracing::info!(error = %e, "stored resources document cannot be shown as lshw");
            None
        }
    }
}

/// Which of `definitions` (tag id, definition) the outputs make true. A definition that
/// fails on these details (it was checked when stored) counts as false.
fn evaluate(definitions: &[(i64, String)], out: &Outputs) -> Vec<(i64, bool)> {
    let xml = render(out.resources.as_deref()).unwrap_or_else(|| "<list/>".into());
    let lldp = out
        .lldp
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let details = match Details::parse(&xml, lldp.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "hardware details cannot be parsed");
            return definitions.iter().map(|(id, _)| (*id, false)).collect();
        }
    };
    definitions
        .iter()
        .map(|(id, def)| {
            let has = Definition::parse(def)
                .and_then(|d| d.matches(&details))
                .unwrap_or_else(|e| {
                    tracing::info!(tag = id, error = %e, "tag definition not evaluated");
                    false
                });
            (*id, has)
        })
        .collect()
}

impl Region {
    async fn outputs(&self, node_id: i64) -> Result<Outputs> {
        Ok(Outputs {
            resources: self
                .store
                .latest_passed_stdout(node_id, RESOURCES_SCRIPT)
                .await?,
            lldp: self
                .store
                .latest_passed_stdout(node_id, LLDP_SCRIPT)
                .await?,
        })
    }

    /// The node's hardware details (the caller has checked the node may be seen).
    pub async fn hardware_details(&self, node_id: i64) -> Result<HardwareDetails> {
        let out = self.outputs(node_id).await?;
        let lshw = match out.resources {
            Some(doc) => {
                let _turn = EVALUATING.acquire().await;
                tokio::task::spawn_blocking(move || render(Some(&doc)))
                    .await
                    .map_err(|e| RegionError::Unavailable(format!("details worker: {e}")))?
                    .map(String::into_bytes)
            }
            None => None,
        };
        Ok(HardwareDetails {
            lshw,
            lldp: out.lldp,
        })
    }

    /// Evaluate `definitions` over one node's details, off the request threads.
    async fn evaluate_node(
        &self,
        node_id: i64,
        definitions: Vec<(i64, String)>,
    ) -> Result<Vec<(i64, bool)>> {
        let out = self.outputs(node_id).await?;
        let _turn = EVALUATING.acquire().await;
        tokio::task::spawn_blocking(move || evaluate(&definitions, &out))
            .await
            .map_err(|e| RegionError::Unavailable(format!("tag worker: {e}")))
    }

    /// Put a defined tag on exactly the nodes whose details make its definition true (one
    /// transaction, an event on each node that changed). A manual tag is left alone.
    pub(crate) async fn populate_tag(&self, t: &Tag, username: &str) -> Result<usize> {
        if !is_defined(&t.definition) {
            return Ok(0);
        }
        let mut decisions = Vec::new();
        for id in self.store.node_ids().await? {
            let has = self
                .evaluate_node(id, vec![(t.id, t.definition.clone())])
                .await?;
            decisions.extend(has.into_iter().map(|(tag, has)| (id, tag, has)));
        }
        Ok(self.store.set_defined_tags(&decisions, username).await?)
    }

    /// Evaluate every defined tag for one node (its details changed).
    pub(crate) async fn retag_node(&self, node_id: i64) -> Result<usize> {
        let definitions: Vec<(i64, String)> = self
            .store
            .list_tags()
            .await?
            .into_iter()
            .filter(|t| is_defined(&t.definition))
            .map(|t| (t.id, t.definition))
            .collect();
        if definitions.is_empty() {
            return Ok(0);
        }
        let decisions: Vec<(i64, i64, bool)> = self
            .evaluate_node(node_id, definitions)
            .await?
            .into_iter()
            .map(|(tag, has)| (node_id, tag, has))
            .collect();
        Ok(self.store.set_defined_tags(&decisions, "").await?)
    }
}

/// A definition for the `definition` field: `Ok(trimmed)`, or the field's error.
pub(crate) fn checked_definition(definition: &str) -> Result<String> {
    let d = definition.trim();
    if d.is_empty() {
        return Ok(String::new());
    }
    tags::check_definition(d).map_err(|m| RegionError::field("definition", m))?;
    Ok(d.to_string())
}
