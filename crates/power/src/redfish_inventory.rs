//! Reading a system's hardware inventory from its Redfish BMC (out-of-band: nothing runs on the
//! machine). [`Redfish::read_inventory`] gathers the resources as the BMC serves them into one
//! *capture* document; `ingot_core::redfish` turns a capture into a machine-resources document.
//!
//! The capture (a JSON object):
//! * `system`: the ComputerSystem resource (required: without it there is nothing to read);
//! * `processors`, `memory`, `ethernet_interfaces`: the members of those collections;
//! * `storage`: one `{"storage": <Storage>, "drives": [<Drive>…]}` per Storage member;
//! * `simple_storage`: the SimpleStorage members (read only when no Storage collection could be
//!   read);
//! * `not_read`: one line per resource the BMC did not serve (absent link, 404, 405, 500, 501,
//!   not JSON), saying why.
//!
//! A part whose collection could not be read is absent from the capture (never an empty list made
//! up for it). The system resource itself, transport errors, refused credentials, 503 and 429
//! are errors ([`PowerError`]), so that a BMC that is down is reported as such.

use crate::redfish::{snippet, Redfish};
use crate::PowerError;
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Map, Value};

/// Links followed from the system resource, and the capture key each collection goes to.
const COLLECTIONS: &[(&str, &str)] = &[
    ("Processors", "processors"),
    ("Memory", "memory"),
    ("EthernetInterfaces", "ethernet_interfaces"),
];

/// At most this many members are read from one collection (a BMC listing thousands is broken).
const MAX_MEMBERS: usize = 512;

fn link(doc: &Value, key: &str) -> Option<String> {
    doc.get(key)
        .and_then(|v| v.get("@odata.id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Redfish {
    /// GET a resource that may legitimately be missing: `Ok(None)` (with a note) when the BMC
    /// does not serve it; transport errors, refused credentials, 503 and 429 are errors.
    async fn get_optional(
        &self,
        path: &str,
        not_read: &mut Vec<String>,
    ) -> Result<Option<Value>, PowerError> {
        let url: Url = self.url(path)?;
        let (status, body) = self.request_any(Method::GET, &url, None).await?;
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(PowerError::Busy(format!(
                "GET {}: HTTP {status} {}",
                url.path(),
                snippet(&body)
            )));
        }
        if !status.is_success() {
            not_read.push(format!("{}: HTTP {status} {}", url.path(), snippet(&body)));
            return Ok(None);
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Ok(Some(v)),
            _ => {
                not_read.push(format!(
                    "{}: not a JSON object: {}",
                    url.path(),
                    snippet(&body)
                ));
                Ok(None)
            }
        }
    }

    /// The members of a collection: inline when the BMC expanded them, else each one read.
    async fn members(
        &self,
        collection: &Value,
        not_read: &mut Vec<String>,
    ) -> Result<Vec<Value>, PowerError> {
        let mut out = Vec::new();
        let Some(list) = collection.get("Members").and_then(Value::as_array) else {
            let at = collection
                .get("@odata.id")
                .and_then(Value::as_str)
                .unwrap_or("a collection");
            not_read.push(format!("{at}: no Members list"));
            return Ok(out);
        };
        for m in list.iter().take(MAX_MEMBERS) {
            let Some(obj) = m.as_object() else { continue };
            // Expanded (`$expand`) members carry more than their link.
            if obj.keys().any(|k| k != "@odata.id") {
                out.push(m.clone());
                continue;
            }
            if let Some(id) = obj.get("@odata.id").and_then(Value::as_str) {
                if let Some(v) = self.get_optional(id, not_read).await? {
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    /// Read the system's inventory (see the module documentation for the capture's shape).
    pub async fn read_inventory(&self) -> Result<Value, PowerError> {
        let uri = self.system_uri().await?;
        let system = self
            .get_json(&uri, || {
                PowerError::BadParams(format!("no such system: {}", uri.path()))
            })
            .await?;
        if !system.is_object() {
            return Err(PowerError::Protocol(format!(
                "{} is not a JSON object",
                uri.path()
            )));
        }
        let mut not_read: Vec<String> = Vec::new();
        let mut capture = Map::new();
        for (key, out) in COLLECTIONS {
            let Some(path) = link(&system, key) else {
                not_read.push(format!("{}: no {key} link", uri.path()));
                continue;
            };
            if let Some(col) = self.get_optional(&path, &mut not_read).await? {
                let members = self.members(&col, &mut not_read).await?;
                capture.insert((*out).to_string(), Value::Array(members));
            }
        }
        // Storage (with its drives), else SimpleStorage.
        let mut storage_read = false;
        if let Some(path) = link(&system, "Storage") {
            if let Some(col) = self.get_optional(&path, &mut not_read).await? {
                storage_read = true;
                let mut entries = Vec::new();
                for st in self.members(&col, &mut not_read).await? {
                    let mut drives = Vec::new();
                    let links = st.get("Drives").and_then(Value::as_array);
                    for d in links.into_iter().flatten().take(MAX_MEMBERS) {
                        match d.as_object() {
                            Some(o) if o.keys().any(|k| k != "@odata.id") => drives.push(d.clone()),
                            Some(o) => {
                                if let Some(id) = o.get("@odata.id").and_then(Value::as_str) {
                                    if let Some(v) = self.get_optional(id, &mut not_read).await? {
                                        drives.push(v);
                                    }
                                }
                            }
                            None => {}
                        }
                    }
                    entries.push(json!({"storage": st, "drives": drives}));
                }
                capture.insert("storage".into(), Value::Array(entries));
            }
        } else {
            not_read.push(format!("{}: no Storage link", uri.path()));
        }
        if !storage_read {
            if let Some(path) = link(&system, "SimpleStorage") {
                if let Some(col) = self.get_optional(&path, &mut not_read).await? {
                    let members = self.members(&col, &mut not_read).await?;
                    capture.insert("simple_storage".into(), Value::Array(members));
                }
            } else {
                not_read.push(format!("{}: no SimpleStorage link", uri.path()));
            }
        }
        capture.insert("system".into(), system);
        capture.insert(
            "not_read".into(),
            Value::Array(not_read.into_iter().map(Value::String).collect()),
        );
        Ok(Value::Object(capture))
    }
}
