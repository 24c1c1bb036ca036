//! The MAAS `describe/` document and the commands it defines.

use serde::Deserialize;

use crate::error::{CliError, Result};
use crate::naming::{action_command_name, did_you_mean, find_name, handler_command_name};

/// The parts of the describe document the CLI uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Description {
    #[serde(default)]
    pub doc: Option<String>,
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub anon: Option<Handler>,
    #[serde(default)]
    pub auth: Option<Handler>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Handler {
    pub name: String,
    #[serde(default)]
    pub doc: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub params: Vec<String>,
    #[serde(default)]
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Action {
    pub name: String,
    pub method: String,
    #[serde(default)]
    pub op: Option<String>,
    #[serde(default)]
    pub restful: bool,
    #[serde(default)]
    pub doc: Option<String>,
}

impl Action {
    /// The name shown on the command line (`query-power-state`).
    pub fn command_name(&self) -> String {
        action_command_name(&self.name)
    }
}

/// A handler as a command of a profile.
#[derive(Debug, Clone)]
pub struct Command {
    /// Kebab-case command name (`resource-pools`).
    pub name: String,
    pub handler: Handler,
}

impl Command {
    /// Find an action by its command name, its raw name, or an alias.
    pub fn find_action(&self, wanted: &str) -> Result<&Action> {
        let names = self.action_names();
        let raw: Vec<&str> = self
            .handler
            .actions
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        find_name(&names, wanted)
            .or_else(|| find_name(&raw, wanted))
            .and_then(|i| self.handler.actions.get(i))
            .ok_or_else(|| CliError::UnknownAction {
                handler: self.name.clone(),
                name: wanted.to_string(),
                hint: did_you_mean(&names, wanted),
            })
    }

    pub fn action_names(&self) -> Vec<String> {
        self.handler
            .actions
            .iter()
            .map(Action::command_name)
            .collect()
    }
}

/// First non-blank line of a doc string, trimmed.
pub fn first_line(doc: Option<&str>) -> &str {
    doc.and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("")
}

/// Parse a stored or fetched describe document.
pub fn parse_description(value: &serde_json::Value, url: &str) -> Result<Description> {
    Description::deserialize(value).map_err(|e| CliError::BadDescription {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// The commands of a profile: the `auth` side of each resource when the
/// profile has credentials, else the `anon` side; resources without that side
/// are skipped. Sorted by name; on a name clash the first resource wins.
pub fn commands(description: &Description, authenticated: bool) -> Vec<Command> {
    let mut out: Vec<Command> = Vec::new();
    for resource in &description.resources {
        let side = if authenticated {
            &resource.auth
        } else {
            &resource.anon
        };
        if let Some(handler) = side {
            let name = handler_command_name(&handler.name);
            if !out.iter().any(|c| c.name == name) {
                out.push(Command {
                    name,
                    handler: handler.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Find a command by name or alias (`resource_pools`, `resourcepools`).
pub fn find_command<'a>(
    commands: &'a [Command],
    profile: &str,
    wanted: &str,
) -> Result<&'a Command> {
    let names: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
    find_name(&names, wanted)
        .and_then(|i| commands.get(i))
        .ok_or_else(|| CliError::UnknownHandler {
            profile: profile.to_string(),
            name: wanted.to_string(),
            hint: did_you_mean(&names, wanted),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> serde_json::Value {
        json!({
            "doc": "MAAS API",
            "hash": "abc",
            "resources": [
                {"name": "MachinesHandler", "anon": {"name": "AnonMachinesHandler", "doc": "Anon machines.",
                    "uri": "http://x/MAAS/api/2.0/machines/", "params": [], "actions": [
                        {"name": "is_registered", "method": "GET", "op": "is_registered", "restful": false, "doc": null}]},
                 "auth": {"name": "MachinesHandler", "doc": "\n  Manage machines.\n  More.", "uri": "http://x/MAAS/api/2.0/machines/",
                    "path": "/MAAS/api/2.0/machines/", "params": [], "actions": [
                        {"name": "read", "method": "GET", "op": null, "restful": true, "doc": "List."},
                        {"name": "query_power_state", "method": "GET", "op": "query_power_state", "restful": false, "doc": "Q."}]}},
                {"name": "ResourcePoolsHandler", "anon": null, "auth": {"name": "ResourcePoolsHandler",
                    "uri": "http://x/MAAS/api/2.0/resourcepools/", "params": [], "actions": []}},
                {"name": "Dup", "anon": null, "auth": {"name": "MachinesHandler", "doc": "second", "params": [], "actions": []}}
            ]
        })
    }

    #[test]
    fn auth_and_anon_sides() {
        let d = parse_description(&doc(), "u").expect("parse");
        let auth: Vec<String> = commands(&d, true).into_iter().map(|c| c.name).collect();
        assert_eq!(auth, vec!["machines", "resource-pools"]);
        let anon: Vec<String> = commands(&d, false).into_iter().map(|c| c.name).collect();
        assert_eq!(anon, vec!["anon-machines"]);
        let cmds = commands(&d, true);
        assert_eq!(
            first_line(cmds[0].handler.doc.as_deref()),
            "Manage machines."
        );
    }

    #[test]
    fn lookups() {
        let d = parse_description(&doc(), "u").expect("parse");
        let cmds = commands(&d, true);
        let m = find_command(&cmds, "p", "machines").expect("machines");
        assert_eq!(
            m.find_action("query-power-state")
                .map(|a| a.name.as_str())
                .ok(),
            Some("query_power_state")
        );
        assert_eq!(
            m.find_action("query_power_state")
                .map(|a| a.name.as_str())
                .ok(),
            Some("query_power_state")
        );
        assert!(find_command(&cmds, "p", "resourcepools").is_ok());
        assert!(find_command(&cmds, "p", "resource_pools").is_ok());
        let e = find_command(&cmds, "p", "machine").expect_err("no such");
        assert!(e.to_string().contains("Did you mean 'machines'"), "{e}");
        let e = m.find_action("raed").expect_err("no such");
        assert!(e.to_string().contains("'read'"), "{e}");
    }

    #[test]
    fn rejects_non_descriptions() {
        assert!(parse_description(&json!({"hello": 1}), "u").is_err());
        assert!(parse_description(&json!([]), "u").is_err());
        assert!(parse_description(&json!({"resources": [{"auth": {"nope": 1}}]}), "u").is_err());
    }
}
