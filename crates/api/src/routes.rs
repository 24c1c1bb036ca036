//! API 2.0 routing from the one route table (`route_table.rs`): a request's path finds its
//! handler, its method and `op` must be one of the handler's described actions, and the
//! handler's serving function answers it. The `describe/` document and MAAS's `…/op-<name>/`
//! URL form come from the same table.

use crate::route_table::{ANON_HANDLERS, AUTH_HANDLERS, MORE_HANDLERS};
use crate::{bad, need_user, not_found, ApiError, App, Req, Res};
use ingot_region::model::User;
use ingot_region::Principal;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

/// One action of a handler: its method and `op` (None for restful CRUD), what it does, and
/// the parameters it takes (see `ops!` in the table).
pub struct ActionDef {
    pub name: &'static str,
    pub method: &'static str,
    pub op: Option<&'static str>,
    pub doc: &'static str,
    pub params: &'static str,
}

impl ActionDef {
    /// Each parameter: its name and whether it is required.
    pub fn params(&self) -> impl Iterator<Item = (&'static str, bool)> {
        self.params
            .split_whitespace()
            .map(|p| match p.strip_suffix('!') {
                Some(name) => (name, true),
                None => (p, false),
            })
    }

    /// The doc as MAAS writes it, and as the `maas` CLI reads it: a title, a blank line, and
    /// a `:param NAME:` / `:type NAME:` pair for each parameter (the CLI takes `key=value`
    /// arguments only for an action whose doc has them).
    pub fn maas_doc(&self) -> String {
        let mut doc = self.doc.to_string();
        let mut first = true;
        for (name, required) in self.params() {
            doc.push_str(if first { "\n\n" } else { "\n" });
            first = false;
            let need = if required { "Required" } else { "Optional" };
            doc.push_str(&format!(":param {name}: {need}.\n:type {name}: String"));
        }
        doc
    }
}

/// What a handler's serving function returns.
pub type Served<'a> = Pin<Box<dyn Future<Output = Res> + Send + 'a>>;

/// A handler's serving function (written with `serve!` in the table).
pub type Serve = for<'a> fn(&'a App, &'a Req, &'a Call<'a>) -> Served<'a>;

/// One handler: a path with `{param}` segments, what serves it, and its actions.
pub struct HandlerDef {
    pub name: &'static str,
    pub path: &'static str,
    pub serve: Serve,
    pub params: &'static [&'static str],
    pub doc: &'static str,
    pub actions: &'static [ActionDef],
}

/// What callers without credentials may do at a handler's path (served by that handler).
pub struct AnonDef {
    pub name: &'static str,
    pub path: &'static str,
    pub doc: &'static str,
    pub actions: &'static [ActionDef],
}

/// A routed request: who calls, and the path's `{param}` values in order.
pub struct Call<'a> {
    pub who: &'a Principal,
    pub args: Vec<&'a str>,
}

impl<'a> Call<'a> {
    /// The calling user; anonymous callers are refused (401).
    pub fn user(&self) -> Result<&'a User, ApiError> {
        need_user(self.who)
    }
    /// The `i`th `{param}` of the path (the table's pattern guarantees it is there).
    pub fn arg(&self, i: usize) -> &'a str {
        self.args.get(i).copied().unwrap_or_default()
    }
}

/// Segments that name the same thing as the table's: a node's sub-resources under
/// `machines/` as under `nodes/`, and item paths in the plural as in MAAS's singular.
const SAME_SEGMENT: &[(&str, &str)] = &[
    ("nodes", "machines"),
    // Juju's client library (gomaasapi 2.0) reads `pools/`.
    ("resourcepools", "pools"),
    ("partition", "partitions"),
    ("volume-group", "volume-groups"),
    ("bcache-cache-set", "bcache-cache-sets"),
    ("bcache", "bcaches"),
];

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The `{param}` values of a request path (already split) when it is a path of `pattern`.
/// Runs for each handler until one matches, on every request: it allocates only on a match.
fn match_path<'p>(pattern: &str, got: &[&'p str]) -> Option<Vec<&'p str>> {
    let mut n = 0;
    for (i, p) in segments(pattern).enumerate() {
        let g = got.get(i)?;
        let param = p.starts_with('{') && p.ends_with('}');
        if !param && p != *g && !SAME_SEGMENT.contains(&(p, *g)) {
            return None;
        }
        n = i + 1;
    }
    if n != got.len() {
        return None;
    }
    Some(
        segments(pattern)
            .zip(got)
            .filter(|(p, _)| p.starts_with('{'))
            .map(|(_, g)| *g)
            .collect(),
    )
}

fn handlers() -> impl Iterator<Item = &'static HandlerDef> {
    AUTH_HANDLERS.iter().chain(MORE_HANDLERS)
}

/// The name of the API handler that serves `path` (the metrics' label).
pub(crate) fn handler_name(path: &str) -> Option<&'static str> {
    find(path).map(|(h, _)| h.name)
}

/// The handler of `path` with the path's parameters.
fn find(path: &str) -> Option<(&'static HandlerDef, Vec<&str>)> {
    let got: Vec<&str> = segments(path).collect();
    handlers().find_map(|h| match_path(h.path, &got).map(|args| (h, args)))
}

/// Every action described at `h`'s path, for callers with credentials and without.
fn actions_at(h: &HandlerDef) -> impl Iterator<Item = &'static ActionDef> + '_ {
    h.actions.iter().chain(
        ANON_HANDLERS
            .iter()
            .filter(move |a| a.path == h.path)
            .flat_map(|a| a.actions.iter()),
    )
}

/// Whether `method` with `op` is one of the actions described at `h`.
fn described(h: &HandlerDef, method: &str, op: Option<&str>) -> bool {
    actions_at(h).any(|a| a.method == method && a.op == op)
}

/// Serve an API 2.0 request (`rest` is the path after `/MAAS/api/2.0/`) for `who`.
pub(crate) async fn serve(app: &App, r: &Req, who: &Principal, rest: &[&str]) -> Res {
    if rest == ["describe"] {
        return crate::ok_json(describe(&r.base));
    }
    let Some((h, args)) = find(&r.path) else {
        return Err(not_found(format!("Unknown API endpoint: {}", r.path)));
    };
    if !described(h, r.method.as_str(), r.op()) {
        return Err(bad(format!(
            "Unrecognised signature: method={} op={}",
            r.method,
            r.op().unwrap_or("None")
        )));
    }
    (h.serve)(app, r, &Call { who, args }).await
}

/// The `version/` document.
pub(crate) fn version() -> Value {
    json!({
        "version": "3.5.0",
        "subversion": format!("ingot-{}", env!("CARGO_PKG_VERSION")),
        "capabilities": ["networks-management", "static-ipaddresses", "ipv6-deployment-ubuntu", "devices-management", "storage-deployment-ubuntu", "network-deployment-ubuntu", "authenticate-api"],
    })
}

fn handler_json(
    name: &str,
    doc: &str,
    path: &str,
    params: &[&str],
    actions: &[ActionDef],
    base: &str,
) -> Value {
    let actions: Vec<Value> = actions
        .iter()
        .map(|a| json!({"name": a.name, "method": a.method, "op": a.op, "restful": a.op.is_none(), "doc": a.maas_doc()}))
        .collect();
    json!({
        "name": name,
        "doc": doc,
        "path": path,
        "uri": format!("{base}{path}"),
        "params": params,
        "actions": actions,
    })
}

/// The describe document with URIs rooted at `base` (scheme://host:port).
pub fn describe(base: &str) -> Value {
    let mut resources = Vec::new();
    let mut all = Vec::new();
    for h in handlers() {
        let auth = handler_json(h.name, h.doc, h.path, h.params, h.actions, base);
        let anon = ANON_HANDLERS
            .iter()
            .find(|a| a.path == h.path)
            .map(|a| handler_json(a.name, a.doc, a.path, h.params, a.actions, base))
            // Version is readable without credentials, as in MAAS.
            .or_else(|| (h.name == "VersionHandler").then(|| auth.clone()));
        all.push(auth.clone());
        resources.push(json!({"name": h.name, "anon": anon, "auth": auth}));
    }
    json!({"doc": "Ingot API (MAAS API 2.0 compatible).", "hash": env!("CARGO_PKG_VERSION"), "handlers": all, "resources": resources})
}

/// MAAS's `…/op-<name>/` URL form (`machines/op-allocate/` for `machines/?op=allocate`): when
/// the last segment names an operation the handler of the rest of the path declares, the rest
/// of the path and the operation. A name that merely starts with `op-` (a tag `op-night`) is
/// not an operation and stays in the path.
pub fn path_op(path: &str) -> Option<(String, String)> {
    let (head, last) = path.trim_end_matches('/').rsplit_once('/')?;
    let op = last.strip_prefix("op-").filter(|o| !o.is_empty())?;
    let head = format!("{head}/");
    let (h, _) = find(&head)?;
    actions_at(h)
        .any(|a| a.op == Some(op))
        .then(|| (head, op.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_in_the_path() {
        let table: &[(&str, Option<(&str, &str)>)] = &[
            (
                "/MAAS/api/2.0/machines/op-allocate/",
                Some(("/MAAS/api/2.0/machines/", "allocate")),
            ),
            (
                "/MAAS/api/2.0/machines/op-allocate",
                Some(("/MAAS/api/2.0/machines/", "allocate")),
            ),
            (
                "/MAAS/api/2.0/machines/abc123/op-deploy/",
                Some(("/MAAS/api/2.0/machines/abc123/", "deploy")),
            ),
            ("/MAAS/api/2.0/machines/op-nonsense/", None),
            ("/MAAS/api/2.0/machines/op-/", None),
            ("/MAAS/api/2.0/machines/", None),
            ("/MAAS/api/2.0/tags/op-night/", None),
            (
                "/MAAS/api/2.0/tags/night/op-update_nodes/",
                Some(("/MAAS/api/2.0/tags/night/", "update_nodes")),
            ),
            (
                "/MAAS/api/2.0/maas/op-get_config/",
                Some(("/MAAS/api/2.0/maas/", "get_config")),
            ),
            ("/MAAS/metadata/op-signal/", None),
        ];
        for (path, want) in table {
            let got = path_op(path);
            assert_eq!(
                got.as_ref().map(|(p, o)| (p.as_str(), o.as_str())),
                *want,
                "{path}"
            );
        }
    }

    /// Each path a client may use → the table's handler and the parameters it gets.
    #[test]
    fn paths_find_their_handler() {
        type Want = Option<(&'static str, &'static [&'static str])>;
        let table: &[(&str, Want)] = &[
            ("/MAAS/api/2.0/machines/", Some(("MachinesHandler", &[]))),
            (
                "/MAAS/api/2.0/machines/abc/",
                Some(("MachineHandler", &["abc"])),
            ),
            (
                "/MAAS/api/2.0/machines/abc",
                Some(("MachineHandler", &["abc"])),
            ),
            (
                "/MAAS/api/2.0/nodes/abc/blockdevices/7/partition/3",
                Some(("PartitionHandler", &["abc", "7", "3"])),
            ),
            (
                "/MAAS/api/2.0/machines/abc/blockdevices/7/partitions/3/",
                Some(("PartitionHandler", &["abc", "7", "3"])),
            ),
            (
                "/MAAS/api/2.0/machines/abc/volume-groups/2/",
                Some(("VolumeGroupHandler", &["abc", "2"])),
            ),
            (
                "/MAAS/api/2.0/fabrics/1/vlans/0/",
                Some(("VlanHandler", &["1", "0"])),
            ),
            (
                "/MAAS/api/2.0/boot-resources/9/upload/9/",
                Some(("BootResourceFileUploadHandler", &["9", "9"])),
            ),
            (
                "/MAAS/api/2.0/resourcepool/2/",
                Some(("ResourcePoolHandler", &["2"])),
            ),
            ("/MAAS/api/2.0/nothing/", None),
            ("/MAAS/api/2.0/machines/abc/nothing/", None),
        ];
        for (path, want) in table {
            let got = find(path);
            assert_eq!(
                got.as_ref().map(|(h, a)| (h.name, a.as_slice())),
                want.map(|(n, a)| (n, a)),
                "{path}"
            );
        }
    }

    #[test]
    fn the_table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for h in handlers() {
            assert!(names.insert(h.name), "{} twice", h.name);
            assert!(h.path.starts_with("/MAAS/api/2.0/"), "{}", h.path);
            let params: Vec<&str> = segments(h.path)
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(params, h.params, "{}: params", h.name);
            // No path is shadowed by an earlier one.
            let (first, _) = find(h.path).expect("its own path finds a handler");
            assert_eq!(first.name, h.name, "{} is shadowed", h.path);
            let mut sigs = std::collections::HashSet::new();
            for a in h.actions {
                assert!(
                    ["GET", "POST", "PUT", "DELETE"].contains(&a.method),
                    "{}.{}: {}",
                    h.name,
                    a.name,
                    a.method
                );
                assert!(sigs.insert((a.method, a.op)), "{}.{} twice", h.name, a.name);
                for (p, _) in a.params() {
                    let ok = p.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || "_*{}".contains(c)
                    });
                    assert!(ok, "{}.{}: parameter {p:?}", h.name, a.name);
                }
            }
        }
        for a in ANON_HANDLERS {
            assert!(
                handlers().any(|h| h.path == a.path),
                "{} has no handler",
                a.name
            );
        }
    }

    /// What the `maas` CLI (3.6 and later) reads: an action's doc is a title, a blank line,
    /// then `:param NAME:` lines; it takes `key=value` arguments only for an action whose doc
    /// body has one. Every parameter an action takes has its line, and an action that takes
    /// none has none.
    #[test]
    fn docs_carry_a_param_line_for_each_parameter() {
        let anon = ANON_HANDLERS.iter().map(|a| (a.name, a.actions));
        for (handler, actions) in handlers().map(|h| (h.name, h.actions)).chain(anon) {
            for a in actions {
                let doc = a.maas_doc();
                let (title, body) = doc.split_once("\n\n").unwrap_or((&doc, ""));
                assert!(
                    !title.is_empty() && !title.contains('\n'),
                    "{handler}.{}",
                    a.name
                );
                for (p, required) in a.params() {
                    let need = if required { "Required." } else { "Optional." };
                    let line = format!(":param {p}: {need}");
                    assert!(
                        body.lines().any(|l| l == line),
                        "{handler}.{}: {line}",
                        a.name
                    );
                }
                assert_eq!(
                    body.contains(":param "),
                    a.params().next().is_some(),
                    "{handler}.{}",
                    a.name
                );
            }
        }
    }

    /// Command lines of the MAAS documentation and the seeds: every `key=value` they pass
    /// is a parameter of their action, so the `maas` CLI accepts it.
    #[test]
    fn the_maas_docs_command_lines_take_their_arguments() {
        let table: &[(&str, &str, &[&str])] = &[
            // maas admin machines create architecture=amd64 mac_addresses=… power_type=ipmi
            //   power_parameters_power_address=… hostname=…
            (
                "MachinesHandler",
                "create",
                &[
                    "architecture",
                    "mac_addresses",
                    "power_type",
                    "power_parameters_power_address",
                    "power_parameters_power_user",
                    "hostname",
                    "commission",
                ],
            ),
            (
                "MachinesHandler",
                "allocate",
                &[
                    "zone",
                    "tags",
                    "cpu_count",
                    "mem",
                    "arch",
                    "storage",
                    "interfaces",
                    "agent_name",
                    "dry_run",
                ],
            ),
            ("MachinesHandler", "read", &["hostname", "zone", "status"]),
            (
                "MachineHandler",
                "deploy",
                &["distro_series", "user_data", "hwe_kernel", "osystem"],
            ),
            (
                "MachineHandler",
                "commission",
                &[
                    "skip_storage",
                    "commissioning_scripts",
                    "testing_scripts",
                    "enable_ssh",
                ],
            ),
            (
                "MachineHandler",
                "release",
                &["erase", "quick_erase", "secure_erase", "comment"],
            ),
            (
                "MachineHandler",
                "update",
                &[
                    "hostname",
                    "power_type",
                    "power_parameters_power_pass",
                    "zone",
                    "pool",
                ],
            ),
            (
                "MachineHandler",
                "set_storage_layout",
                &["storage_layout", "vg_name", "lv_size"],
            ),
            (
                "MachineHandler",
                "set_workload_annotations",
                &["owner", "env"],
            ),
            ("MachineHandler", "power_off", &["stop_mode"]),
            ("VlanHandler", "update", &["dhcp_on", "mtu", "name"]),
            (
                "SubnetsHandler",
                "create",
                &["cidr", "gateway_ip", "dns_servers", "vlan", "fabric", "vid"],
            ),
            (
                "SubnetHandler",
                "update",
                &["gateway_ip", "dns_servers", "managed"],
            ),
            (
                "IPRangesHandler",
                "create",
                &["type", "start_ip", "end_ip", "comment"],
            ),
            (
                "TagsHandler",
                "create",
                &["name", "comment", "kernel_opts", "definition"],
            ),
            ("TagHandler", "update_nodes", &["add", "remove"]),
            ("ZonesHandler", "create", &["name", "description"]),
            ("SSHKeysHandler", "create", &["key"]),
            (
                "UsersHandler",
                "create",
                &["username", "email", "password", "is_superuser"],
            ),
            ("MaasHandler", "set_config", &["name", "value"]),
            ("MaasHandler", "get_config", &["name"]),
            (
                "BootResourcesHandler",
                "create",
                &["name", "architecture", "filetype", "content", "title"],
            ),
            (
                "BootSourcesHandler",
                "create",
                &["url", "keyring_filename", "keyring_data"],
            ),
            (
                "BootSourceSelectionsHandler",
                "create",
                &["os", "release", "arches", "subarches", "labels"],
            ),
            (
                "InterfaceHandler",
                "link_subnet",
                &["mode", "subnet", "ip_address", "default_gateway"],
            ),
            (
                "InterfacesHandler",
                "create_bond",
                &["name", "parents", "bond_mode"],
            ),
            ("BlockDeviceHandler", "format", &["fstype"]),
            ("BlockDeviceHandler", "mount", &["mount_point"]),
            ("PartitionsHandler", "create", &["size"]),
            ("AccountHandler", "create_authorisation_token", &["name"]),
        ];
        for (handler, action, keys) in table {
            let h = handlers()
                .find(|h| h.name == *handler)
                .unwrap_or_else(|| panic!("no {handler}"));
            let a = h
                .actions
                .iter()
                .find(|a| a.name == *action)
                .unwrap_or_else(|| panic!("no {handler}.{action}"));
            for k in *keys {
                let takes = a.params().any(|(p, _)| {
                    p == *k
                        || p == "{key}"
                        || p.strip_suffix('*').is_some_and(|pre| k.starts_with(pre))
                });
                assert!(takes, "{handler}.{action} does not take {k}");
            }
        }
    }
}
