//! `machines/` and `machines/{system_id}/`: decoding MAAS's parameters, one region call, the machine JSON.

use crate::machine_list::{self, ListQuery};
use crate::render::Net;
use crate::{clone, need_user, no_content, ok_json, render, unknown_op, ApiError, App, Req, Res};
use axum::http::header;
use axum::http::Method;
use axum::response::IntoResponse;
use ingot_core::actions::Action;
use ingot_core::actions::ActionOptions;
use ingot_core::Status;
use ingot_region::forms;
use ingot_region::model::Machine;
use ingot_region::model::MachineFilter;
use ingot_region::model::User;
use ingot_region::Principal;
use ingot_region::RegionError;
use ingot_wire::Params;
use serde_json::json;
use serde_json::Value;

/// A list of machines as a JSON response, serialised without an intermediate tree.
pub(crate) async fn machines_json(app: &App, ms: &[Machine]) -> Res {
    let net = Net::for_machines(&app.region, ms).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        render::machines_bytes(ms, &net),
    )
        .into_response())
}

/// One machine as MAAS shows it.
pub(crate) async fn machine_json(app: &App, m: &Machine) -> Res {
    let net = Net::for_machines(&app.region, std::slice::from_ref(m)).await?;
    ok_json(render::machine(m, &net))
}

/// Filters of `GET machines/`.
pub(crate) fn machine_filter(
    p: &Params,
) -> Result<(MachineFilter, Vec<String>, Vec<String>), ApiError> {
    let mut f = MachineFilter {
        hostnames: forms::list(p, "hostname")
            .into_iter()
            .map(|h| h.split('.').next().unwrap_or_default().to_string())
            .collect(),
        system_ids: forms::list(p, "id"),
        zone: p.get("zone").map(String::from),
        pool: p.get("pool").map(String::from),
        domain: p.get("domain").map(String::from),
        agent_name: p.get("agent_name").map(String::from),
        hardware_uuids: forms::list(p, "hardware_uuid")
            .into_iter()
            .map(|u| u.to_ascii_lowercase())
            .collect(),
        min_cpu: p.get_i64("cpu_count")?,
        min_mem: p.get_i64("mem")?,
        ..Default::default()
    };
    for m in forms::list(p, "mac_address") {
        f.mac_addresses
            .push(ingot_core::ids::normalize_mac(&m).ok_or_else(|| {
                ApiError(RegionError::field(
                    "mac_address",
                    format!("'{m}' is not a valid MAC address."),
                ))
            })?);
    }
    for s in forms::list(p, "status") {
        f.statuses.push(Status::parse(&s).ok_or_else(|| {
            ApiError(RegionError::field(
                "status",
                format!("'{s}' is not a valid status."),
            ))
        })?);
    }
    Ok((f, forms::list(p, "arch"), forms::list(p, "tags")))
}

pub(crate) async fn machines(app: &App, r: &Req, who: &Principal) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::POST, None) => {
            let c = forms::create_machine(&app.region, who, &p).await?;
            match who {
                Principal::User(_) => machine_json(app, &c.machine).await,
                _ => ok_json(render::machine_anon(
                    &c.machine,
                    c.enlistment_token.as_ref(),
                )),
            }
        }
        (&Method::GET, Some("is_registered")) => is_registered(app, &p).await,
        (&Method::GET, Some("is_action_in_progress")) => match anon_node_op(app, r).await {
            Some(answer) => answer,
            None => Err(unknown_op(r)),
        },
        (&Method::POST, Some("accept")) if matches!(who, Principal::Anonymous) => Err(ApiError(
            RegionError::Unauthorized("Authentication required.".into()),
        )),
        _ => {
            let u = need_user(who)?;
            match (&r.method, r.op()) {
                (&Method::GET, None) => {
                    let (filter, arch, tags) = machine_filter(&p)?;
                    let q = ListQuery { filter, arch, tags };
                    machine_list::stream(app, u, q).await
                }
                (&Method::GET, Some("list_allocated")) => {
                    let q = ListQuery {
                        filter: MachineFilter {
                            owner_id: Some(u.id),
                            ..Default::default()
                        },
                        arch: Vec::new(),
                        tags: Vec::new(),
                    };
                    machine_list::stream(app, u, q).await
                }
                (&Method::GET, Some("power_parameters")) => {
                    let all = app
                        .region
                        .power_parameters_of(u, forms::list(&p, "id"))
                        .await?;
                    let out: serde_json::Map<String, Value> = all
                        .into_iter()
                        .map(|(sid, pp)| (sid, Value::Object(pp)))
                        .collect();
                    ok_json(Value::Object(out))
                }
                (&Method::POST, Some("allocate")) => {
                    let c = forms::constraints(&app.region, &p).await?;
                    let dry = p.get_bool("dry_run")?.unwrap_or(false);
                    let m = app
                        .region
                        .allocate(u, &c, p.get("agent_name"), p.get("comment"), dry)
                        .await?;
                    // Which disks and interfaces satisfied the storage / interfaces constraints.
                    let matched = app.region.matched_hardware(&m, &c).await?;
                    let net = Net::for_machines(&app.region, std::slice::from_ref(&m)).await?;
                    ok_json(render::allocated_machine(&m, &matched, &net))
                }
                (&Method::POST, Some("release")) => bulk_release(app, u, &p).await,
                (&Method::POST, Some("set_zone")) => set_zone(app, u, &p).await,
                (&Method::POST, Some("clone")) => clone::clone_machines(app, u, &p).await,
                (&Method::POST, Some("accept")) | (&Method::POST, Some("accept_all")) => {
                    let ids = (r.op() == Some("accept")).then(|| forms::list(&p, "machines"));
                    let ms = app.region.accept_machines(u, ids).await?;
                    let net = Net::for_machines(&app.region, &ms).await?;
                    ok_json(Value::Array(
                        ms.iter().map(|m| render::machine(m, &net)).collect(),
                    ))
                }
                _ => Err(unknown_op(r)),
            }
        }
    }
}

/// The `mac_address` parameter, required and normalised.
fn mac_param(p: &Params) -> Result<String, ApiError> {
    let mac = p
        .get("mac_address")
        .ok_or_else(|| ApiError(RegionError::field("mac_address", "This field is required.")))?;
    ingot_core::ids::normalize_mac(mac).ok_or_else(|| {
        ApiError(RegionError::field(
            "mac_address",
            "Enter a valid MAC address.",
        ))
    })
}

/// `?op=is_registered mac_address=`: whether any node has that MAC.
pub(crate) async fn is_registered(app: &App, p: &Params) -> Res {
    let mac = mac_param(p)?;
    ok_json(json!(app.region.is_registered(&mac).await?))
}

/// `GET …?op=is_action_in_progress mac_address=` on every node collection, for any caller
/// (MAAS's anonymous node handlers): whether the node with that MAC is commissioning or
/// deploying. None for any other request.
pub(crate) async fn anon_node_op(app: &App, r: &Req) -> Option<Res> {
    if r.method != Method::GET || r.op() != Some("is_action_in_progress") {
        return None;
    }
    Some(
        async {
            let mac = mac_param(&r.params())?;
            ok_json(json!(app.region.action_in_progress(&mac).await?))
        }
        .await,
    )
}

/// `?op=set_zone zone= nodes=` (admin): the nodes moved, as they are now.
pub(crate) async fn set_zone(app: &App, u: &User, p: &Params) -> Res {
    let ns = app.region.set_zone(u, p).await?;
    crate::nodes::nodes_json(app, &ns).await
}

/// Release several machines: all are checked before any is changed.
pub(crate) async fn bulk_release(app: &App, u: &User, p: &Params) -> Res {
    let ids = forms::list(p, "machines");
    ok_json(json!(app.region.release_machines(u, &ids, p).await?))
}

/// A BSON document of binary (subtype 0, generic) or null elements, in order: what MAAS's
/// `op=details` answers (`{"lshw": …, "lldp": …}`).
pub(crate) fn bson_binaries(fields: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        match v {
            Some(bytes) => {
                body.push(0x05);
                body.extend_from_slice(k.as_bytes());
                body.push(0);
                body.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                body.push(0x00);
                body.extend_from_slice(bytes);
            }
            None => {
                body.push(0x0A);
                body.extend_from_slice(k.as_bytes());
                body.push(0);
            }
        }
    }
    let total = (4 + body.len() + 1) as i32;
    let mut out = total.to_le_bytes().to_vec();
    out.extend(body);
    out.push(0);
    out
}

/// `op=details` of a node the caller may see: lshw (rendered from its inventory) and LLDP
/// (its capture) as BSON binaries, null when it has none.
pub(crate) async fn details(app: &App, node_id: i64) -> Res {
    let d = app.region.hardware_details(node_id).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/bson")],
        bson_binaries(&[("lshw", d.lshw.as_deref()), ("lldp", d.lldp.as_deref())]),
    )
        .into_response())
}

pub(crate) async fn machine(app: &App, r: &Req, u: &User, sid: &str) -> Res {
    let p = r.params();
    let region = &app.region;
    let act =
        |a: Action, opts: ActionOptions| async move { region.act(u, sid, a, &opts, None).await };
    let m = match (&r.method, r.op()) {
        (&Method::GET, None) => region.machine_for(u, sid).await?,
        (&Method::POST, Some("set_storage_layout")) => {
            region.set_storage_layout(u, sid, &p).await?
        }
        (&Method::POST, Some("restore_storage_configuration")) => {
            region.restore_storage_configuration(u, sid).await?
        }
        (&Method::POST, Some("restore_networking_configuration")) => {
            region.restore_networking_configuration(u, sid).await?
        }
        (&Method::POST, Some("restore_default_configuration")) => {
            region.restore_networking_configuration(u, sid).await?;
            region.restore_storage_configuration(u, sid).await?
        }
        (&Method::POST, Some(op @ ("mount_special" | "unmount_special"))) => {
            let (fstype, mp, opts) = (
                p.get("fstype").unwrap_or_default().to_string(),
                p.get("mount_point").unwrap_or_default().to_string(),
                p.get("mount_options").map(String::from),
            );
            let what = format!("{op} {mp}");
            region
                .edit_storage(u, sid, &what, |m, _, _| {
                    if op == "mount_special" {
                        m.mount_special(&fstype, &mp, opts.as_deref()).map(drop)
                    } else {
                        m.unmount_special(&mp)
                    }
                })
                .await?;
            region.machine_for(u, sid).await?
        }
        (&Method::POST, Some("clear_default_gateways")) => {
            region.clear_default_gateways(u, sid).await?
        }
        (&Method::GET, Some("get_curtin_config")) => {
            // Ingot's equivalent of curtin's configuration: what the agent installs from, as
            // JSON (which is YAML too), with the machine's secret left out.
            let c = region
                .installation_config(u, sid, &format!("{}/MAAS", r.base))
                .await?;
            let text = serde_json::to_string_pretty(&c).map_err(|e| crate::bad(e.to_string()))?;
            return Ok(
                ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
            );
        }
        (&Method::GET, Some("query_power_state")) => {
            return ok_json(json!({"state": region.query_power_state(u, sid).await?}));
        }
        (&Method::GET, Some("power_parameters")) => {
            return ok_json(Value::Object(region.power_parameters(u, sid).await?));
        }
        (&Method::GET, Some("get_token")) => {
            return ok_json(
                region
                    .machine_token(u, sid, false)
                    .await?
                    .map(|t| render::machine_credentials(&t))
                    .unwrap_or(Value::Null),
            );
        }
        (&Method::POST, Some("regenerate_token")) => {
            return ok_json(
                region
                    .machine_token(u, sid, true)
                    .await?
                    .map(|t| render::machine_credentials(&t))
                    .unwrap_or(Value::Null),
            );
        }
        (&Method::GET, Some("details")) => {
            let m = region.machine_for(u, sid).await?;
            return details(app, m.id).await;
        }
        (&Method::POST, Some("read_bmc_inventory")) => region.read_bmc_inventory(u, sid).await?,
        (&Method::PUT, None) => region.update_machine(u, sid, &p).await?,
        (&Method::DELETE, None) => {
            region.delete_machine(u, sid).await?;
            return no_content();
        }
        (&Method::POST, Some(op)) => {
            let opts = forms::action_options(&p)?;
            match op {
                "commission" => act(Action::Commission, opts).await?,
                "test" => act(Action::Test, opts).await?,
                "abort" => act(Action::Abort, opts).await?,
                "deploy" => region.deploy(u, sid, &p, &opts).await?,
                "release" => {
                    let opts = region.release_options(&p).await?;
                    act(Action::Release, opts).await?
                }
                "mark_broken" => act(Action::MarkBroken, opts).await?,
                "mark_fixed" => act(Action::MarkFixed, opts).await?,
                "rescue_mode" => act(Action::RescueMode, opts).await?,
                "exit_rescue_mode" => act(Action::ExitRescueMode, opts).await?,
                "lock" => act(Action::Lock, opts).await?,
                "unlock" => act(Action::Unlock, opts).await?,
                "power_on" => act(Action::PowerOn, opts).await?,
                "power_off" => act(Action::PowerOff, opts).await?,
                "override_failed_testing" => act(Action::OverrideFailedTesting, opts).await?,
                "set_workload_annotations" | "set_owner_data" => {
                    region.set_workload_annotations(u, sid, &p).await?
                }
                _ => return Err(unknown_op(r)),
            }
        }
        _ => return Err(unknown_op(r)),
    };
    machine_json(app, &m).await
}

#[cfg(test)]
mod tests {
    use super::bson_binaries;

    /// Decode a flat BSON document of binary and null elements (what a BSON reader such as
    /// python's `bson.BSON.decode` reads): `(key, Some(bytes) | None)` in order.
    fn decode(doc: &[u8]) -> Vec<(String, Option<Vec<u8>>)> {
        let total = i32::from_le_bytes(doc[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, doc.len(), "the length prefix is the document's");
        assert_eq!(doc[total - 1], 0, "a document ends with NUL");
        let mut out = Vec::new();
        let mut i = 4;
        while doc[i] != 0 {
            let kind = doc[i];
            let end = i + 1 + doc[i + 1..].iter().position(|b| *b == 0).unwrap();
            let key = String::from_utf8(doc[i + 1..end].to_vec()).unwrap();
            i = end + 1;
            match kind {
                0x0A => out.push((key, None)),
                0x05 => {
                    let n = i32::from_le_bytes(doc[i..i + 4].try_into().unwrap()) as usize;
                    assert_eq!(doc[i + 4], 0, "generic binary subtype");
                    out.push((key, Some(doc[i + 5..i + 5 + n].to_vec())));
                    i += 5 + n;
                }
                k => panic!("unexpected element type {k:#x}"),
            }
        }
        assert_eq!(i, total - 1);
        out
    }

    #[test]
    fn details_are_bson_binaries_or_nulls() {
        let xml = "<?xml version=\"1.0\"?><list><node id=\"x\"/></list>".as_bytes();
        type Fields<'a> = &'a [(&'a str, Option<&'a [u8]>)];
        let table: &[(Fields, &[u8])] = &[
            (
                &[("lshw", None), ("lldp", None)],
                b"\x11\x00\x00\x00\x0alshw\x00\x0alldp\x00\x00",
            ),
            (
                &[("lshw", Some(b"ab")), ("lldp", None)],
                b"\x18\x00\x00\x00\x05lshw\x00\x02\x00\x00\x00\x00ab\x0alldp\x00\x00",
            ),
            (
                &[("lshw", Some(b""))],
                b"\x10\x00\x00\x00\x05lshw\x00\x00\x00\x00\x00\x00\x00",
            ),
        ];
        for (fields, want) in table {
            let got = bson_binaries(fields);
            assert_eq!(&got[..], *want, "{fields:?}");
            let back: Vec<(String, Option<Vec<u8>>)> = fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec)))
                .collect();
            assert_eq!(decode(&got), back);
        }
        let doc = bson_binaries(&[("lshw", Some(xml)), ("lldp", Some(b"<lldp/>"))]);
        assert_eq!(
            decode(&doc),
            vec![
                ("lshw".to_string(), Some(xml.to_vec())),
                ("lldp".to_string(), Some(b"<lldp/>".to_vec()))
            ]
        );
    }
}
