//! `scripts/` (user and built-in commissioning/testing scripts) and a machine's script results
//! in MAAS's `node-script-results` shape (`nodes/{id}/results/`, also under `machines/`).

use crate::{bad, no_content, not_found, ok_json, unknown_op, App, Req, Res};
use axum::http::{header, Method};
use axum::response::IntoResponse;
use base64::Engine as _;
use ingot_core::scripts::{HardwareType, ResultStatus, ScriptType};
use ingot_region::commissioning::ScriptView;
use ingot_region::model::{Machine, ScriptResult, User};
use serde_json::{json, Value};

const API: &str = crate::render::API;

fn script_json(s: &ScriptView, include_script: bool) -> Value {
    let m = &s.meta;
    let mut v = json!({
        "id": s.id, "name": m.name, "title": m.title, "description": m.description,
        "tags": m.tags, "type": m.script_type.number(), "type_name": m.script_type.name(),
        "hardware_type": m.hardware_type.number(), "hardware_type_name": m.hardware_type.name(),
        "parallel": m.parallel.number(),
        "parallel_name": match m.parallel.number() { 0 => "Disabled", 1 => "Run along other instances of this script", _ => "Run along any other script." },
        "timeout": format_timeout(m.timeout), "destructive": m.destructive, "default": s.builtin,
        "may_reboot": m.may_reboot, "recommission": m.recommission,
        "apply_configured_networking": m.apply_configured_networking,
        "for_hardware": m.for_hardware, "parameters": m.parameters, "results": m.results,
        "packages": m.packages, "version": s.version,
        "resource_uri": format!("{API}/scripts/{}/", m.name),
    });
    if include_script {
        v["script"] = match &s.body {
            Some(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            None => Value::Null,
        };
    }
    v
}

fn format_timeout(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let ty = match p.get("type") {
                Some(t) => Some(ScriptType::parse(t).ok_or_else(|| {
                    bad(format!(
                        "'{t}' is not a script type (commissioning, testing, release, deployment)."
                    ))
                })?),
                None => None,
            };
            let hw = match p.get("hardware_type") {
                Some(t) => Some(HardwareType::parse(t).ok_or_else(|| {
                    bad(format!(
                        "'{t}' is not a hardware type (node, cpu, memory, storage, network, gpu)."
                    ))
                })?),
                None => None,
            };
            let tags: Vec<String> = p
                .get("filters")
                .map(|f| {
                    f.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let include = p.get_bool("include_script")?.unwrap_or(false);
            let out: Vec<Value> = app
                .region
                .list_scripts()
                .await?
                .iter()
                .filter(|s| ty.is_none_or(|t| s.meta.script_type == t))
                .filter(|s| hw.is_none_or(|h| s.meta.hardware_type == h))
                .filter(|s| {
                    tags.is_empty()
                        || tags
                            .iter()
                            .any(|t| &s.meta.name == t || s.meta.tags.contains(t))
                })
                .map(|s| script_json(s, include))
                .collect();
            ok_json(Value::Array(out))
        }
        (&Method::POST, None) => {
            let s = app.region.create_script(u, &p, &r.files).await?;
            ok_json(script_json(&s, false))
        }
        _ => Err(unknown_op(r)),
    }
}

pub(crate) async fn item(app: &App, r: &Req, u: &User, name: &str) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let s = app.region.get_script(name).await?;
            ok_json(script_json(
                &s,
                p.get_bool("include_script")?.unwrap_or(false),
            ))
        }
        (&Method::GET, Some("download")) => {
            let s = app.region.get_script(name).await?;
            let Some(body) = s.body else {
                return Err(not_found(format!(
                    "'{name}' is built into ingot-agent; it has no text to download."
                )));
            };
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
        }
        (&Method::PUT, None) => {
            let s = app.region.update_script(u, name, &p, &r.files).await?;
            ok_json(script_json(&s, false))
        }
        (&Method::DELETE, None) => {
            app.region.delete_script(u, name).await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}

/// Set numbering: one current set per machine and type (`machine id × 8 + type`).
fn set_id(m: &Machine, set: &str) -> i64 {
    m.id * 8 + set_type(set)
}

fn set_type(set: &str) -> i64 {
    match set {
        "commissioning" => 0,
        "installation" => 1,
        "testing" => 2,
        "release" => 3,
        _ => 4,
    }
}

fn ms_time(ms: Option<i64>) -> Value {
    ms.map(|t| Value::String(crate::render::iso_time(t)))
        .unwrap_or(Value::Null)
}

pub(crate) fn runtime(r: &ScriptResult) -> String {
    match (r.started, r.ended) {
        (Some(a), Some(b)) if b >= a => {
            let s = (b - a) / 1000;
            format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
        }
        _ => r.runtime.clone(),
    }
}

fn result_json(r: &ScriptResult, include_output: bool) -> Value {
    let st = ResultStatus::from_number(r.status);
    let mut v = json!({
        "id": r.id, "name": r.name, "created": crate::render::iso_time(r.created),
        "updated": crate::render::iso_time(r.updated),
        "status": r.status, "status_name": st.map(|s| s.label()).unwrap_or("Unknown"),
        "exit_status": r.exit_status, "started": ms_time(r.started), "ended": ms_time(r.ended),
        "runtime": runtime(r), "starttime": r.started.map(|t| t as f64 / 1000.0),
        "endtime": r.ended.map(|t| t as f64 / 1000.0), "estimated_runtime": format_timeout(r.timeout_secs.max(0) as u64),
        "parameters": {}, "script_id": r.script_id, "script_revision_id": null,
        "suppressed": false, "hardware_type": r.hardware_type,
        "hardware_type_name": HardwareType::from_number(r.hardware_type).map(|h| h.name()).unwrap_or("node"),
    });
    if include_output {
        let enc = |b: &Option<Vec<u8>>| {
            Value::String(
                base64::engine::general_purpose::STANDARD.encode(b.as_deref().unwrap_or(&[])),
            )
        };
        v["output"] = enc(&r.output);
        v["stdout"] = enc(&r.stdout);
        v["stderr"] = enc(&r.stderr);
        v["result"] = enc(&r.result);
    }
    v
}

fn set_json(m: &Machine, set: &str, rs: &[&ScriptResult], include_output: bool) -> Value {
    let agg = ingot_core::scripts::aggregate(
        rs.iter()
            .filter_map(|r| ResultStatus::from_number(r.status)),
    );
    let started = rs.iter().filter_map(|r| r.started).min();
    let ended = if rs.iter().all(|r| r.ended.is_some()) {
        rs.iter().filter_map(|r| r.ended).max()
    } else {
        None
    };
    json!({
        "id": set_id(m, set), "system_id": m.system_id, "type": set_type(set), "type_name": set,
        "status": agg.map(|s| s.number()).unwrap_or(-1),
        "status_name": agg.map(|s| s.label()).unwrap_or("Unknown"),
        "started": ms_time(started), "ended": ms_time(ended),
        "last_ping": ms_time(rs.iter().map(|r| r.updated).max()),
        "results": rs.iter().map(|r| result_json(r, include_output)).collect::<Vec<_>>(),
        "resource_uri": format!("{API}/nodes/{}/results/{}/", m.system_id, set_id(m, set)),
    })
}

/// `GET nodes/{id}/results/` (filters: type, hardware_type, filters=name|tag, include_output)
/// and `GET nodes/{id}/results/{set}/` (set id or current-commissioning | current-testing |
/// current-installation | current-release), `op=download` (output=combined|stdout|stderr|result).
pub(crate) async fn results(app: &App, r: &Req, u: &User, sid: &str, id: Option<&str>) -> Res {
    if r.method != Method::GET {
        return Err(unknown_op(r));
    }
    let p = r.params();
    let (m, all) = app.region.machine_results(u, sid).await?;
    let include = p.get_bool("include_output")?.unwrap_or(false);
    let names: Vec<String> = p
        .get("filters")
        .map(|f| {
            f.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let hw = match p.get("hardware_type") {
        Some(t) => Some(
            HardwareType::parse(t).ok_or_else(|| bad(format!("'{t}' is not a hardware type.")))?,
        ),
        None => None,
    };
    let keep = |x: &&ScriptResult| {
        (names.is_empty() || names.contains(&x.name))
            && hw.is_none_or(|h| x.hardware_type == h.number())
    };
    let sets = ["commissioning", "testing", "installation", "release"];
    match id {
        None => {
            let want_type = p.get("type").map(|t| t.trim().to_ascii_lowercase());
            if let Some(t) = &want_type {
                if !sets.contains(&t.as_str()) {
                    return Err(bad(format!(
                        "'{t}' is not a result type (commissioning, testing, installation, release)."
                    )));
                }
            }
            let out: Vec<Value> = sets
                .iter()
                .filter(|s| want_type.as_deref().is_none_or(|t| t == **s))
                .filter_map(|s| {
                    let rs: Vec<&ScriptResult> = all
                        .iter()
                        .filter(|x| x.result_set == *s)
                        .filter(keep)
                        .collect();
                    (!rs.is_empty()).then(|| set_json(&m, s, &rs, include))
                })
                .collect();
            ok_json(Value::Array(out))
        }
        Some(id) => {
            let set = match id.strip_prefix("current-") {
                Some(s) if sets.contains(&s) => s.to_string(),
                Some(_) => return Err(not_found(format!("No result set '{id}'."))),
                None => {
                    let n: i64 = id
                        .parse()
                        .map_err(|_| not_found(format!("No result set '{id}'.")))?;
                    sets.iter()
                        .find(|s| set_id(&m, s) == n)
                        .map(|s| s.to_string())
                        .ok_or_else(|| not_found(format!("No result set {n} for this machine.")))?
                }
            };
            let rs: Vec<&ScriptResult> = all
                .iter()
                .filter(|x| x.result_set == set)
                .filter(keep)
                .collect();
            if r.op() == Some("download") {
                let which = p.get("output").unwrap_or("combined");
                let mut text = Vec::new();
                for x in &rs {
                    let part = match which {
                        "combined" | "all" => &x.output,
                        "stdout" => &x.stdout,
                        "stderr" => &x.stderr,
                        "result" => &x.result,
                        other => {
                            return Err(bad(format!(
                                "output must be combined, stdout, stderr or result, not '{other}'"
                            )))
                        }
                    };
                    if rs.len() > 1 {
                        text.extend_from_slice(
                            format!("{} {}\n", x.name, "-".repeat(40)).as_bytes(),
                        );
                    }
                    text.extend_from_slice(part.as_deref().unwrap_or(&[]));
                    if rs.len() > 1 {
                        text.push(b'\n');
                    }
                }
                return Ok(
                    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
                );
            }
            if r.op().is_some() {
                return Err(unknown_op(r));
            }
            if rs.is_empty() && all.iter().all(|x| x.result_set != set) {
                return Err(not_found(format!("No {set} results for this machine.")));
            }
            ok_json(set_json(&m, &set, &rs, include))
        }
    }
}
