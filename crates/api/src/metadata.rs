//! The metadata API machines speak (`/MAAS/metadata/`), authenticated by the machine's token.

use crate::{bad, forbidden, no_content, not_found, ApiError, App, Req, Res};
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use ingot_core::signal::StatusEvent;
use ingot_region::model::Machine;
use serde_json::Value;

const VERSIONS: &[&str] = &["latest", "2012-03-01"];

fn plain(s: impl Into<String>) -> Res {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        s.into(),
    )
        .into_response())
}

async fn machine_of(app: &App, r: &Req) -> Result<Machine, ApiError> {
    let who = app.region.authenticate(r.auth.as_deref()).await?;
    let op = r.op().map(|o| format!("?op={o}")).unwrap_or_default();
    Ok(app
        .region
        .metadata_machine(&who, &format!("{} {}{op}", r.method, r.path))
        .await?)
}

pub(crate) async fn handle(app: &App, r: &Req, rest: &[&str]) -> Res {
    match rest {
        [] => plain("2012-03-01\nlatest\n"),
        ["status", sid] => {
            if r.method != Method::POST {
                return Err(bad("Use POST to send status events."));
            }
            let m = machine_of(app, r).await?;
            if m.system_id != *sid {
                return Err(forbidden("These credentials belong to another machine."));
            }
            let v: Value = serde_json::from_slice(&r.raw)
                .map_err(|e| bad(format!("Invalid JSON status event: {e}")))?;
            let s = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let ev = StatusEvent {
                event_type: s("event_type"),
                origin: s("origin"),
                name: s("name"),
                description: s("description"),
                result: v.get("result").and_then(Value::as_str).map(String::from),
            };
            if ev.event_type.is_empty() || ev.name.is_empty() {
                return Err(bad("A status event needs event_type and name."));
            }
            app.region.status_event(m.id, &ev).await?;
            no_content()
        }
        [ver, rest @ ..] if VERSIONS.contains(ver) => versioned(app, r, rest).await,
        _ => Err(not_found(format!(
            "Unknown metadata version or path: {}",
            r.path
        ))),
    }
}

async fn versioned(app: &App, r: &Req, rest: &[&str]) -> Res {
    let m = machine_of(app, r).await?;
    match rest {
        [] => match (&r.method, r.op()) {
            (&Method::GET, None) => plain(if m.status == ingot_core::Status::Deploying {
                "meta-data\nuser-data\n"
            } else {
                "meta-data\n"
            }),
            (&Method::POST, Some("signal")) => {
                let mut params = r.body.clone();
                params.merge(r.query.clone());
                app.region.signal(m.id, &params, &r.files).await?;
                plain("OK")
            }
            (&Method::POST, Some(op @ ("netboot_on" | "netboot_off"))) => {
                app.region.set_netboot(&m, op == "netboot_on").await?;
                plain("OK")
            }
            _ => Err(bad(format!(
                "Unrecognised signature: method={} op={}",
                r.method,
                r.op().unwrap_or("None")
            ))),
        },
        // What the agent runs now (Ingot's JSON index of the current result sets).
        ["maas-scripts"] => crate::ok_json(app.region.scripts_to_run(&m).await?),
        // What the deploying agent installs (`core::deploy::DeployConfig`); the image URL is
        // built from the base the iPXE script gives as `ingot.url`.
        ["deploy-config"] if r.method == Method::GET => {
            let c = app
                .region
                .deploy_config(m.id, &format!("{}/MAAS", r.base))
                .await?;
            crate::ok_json(serde_json::to_value(&c).map_err(|e| bad(e.to_string()))?)
        }
        ["meta-data"] => plain("instance-id\nlocal-hostname\npublic-keys\nvendor-data\n"),
        ["meta-data", item] => match *item {
            "instance-id" => plain(m.system_id.clone()),
            "local-hostname" => plain(format!("{}.{}", m.hostname, m.domain)),
            "public-keys" => {
                let keys = app.region.public_keys(&m).await?;
                plain(keys.join("\n"))
            }
            "vendor-data" => plain(app.region.vendor_data(&m, &r.base).await?),
            other => Err(not_found(format!("Unknown metadata attribute: {other}"))),
        },
        ["user-data"] => match app.region.user_data(&m).await? {
            Some(ud) => Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/octet-stream")],
                ud,
            )
                .into_response()),
            None => Err(not_found("No user data for this machine.")),
        },
        _ => Err(not_found(format!("Unknown metadata path: {}", r.path))),
    }
}
