//! `POST machines/?op=clone`: the report of `Region::clone_machines` as JSON. All destinations
//! cloned → 200 `{"source", "cloned", "failed": {}}`. Any destination not cloned → 400 in
//! MAAS's form-error shape (`destinations`: one message per failed destination, naming it and
//! the cause) with `cloned` (those that did change) and `failed` (system_id → cause), so that
//! the MAAS CLI shows the failure and scripts can tell which machines changed.

use crate::{ok_json, App, Res};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ingot_region::model::User;
use ingot_wire::Params;
use serde_json::{json, Map, Value};

pub(crate) async fn clone_machines(app: &App, u: &User, p: &Params) -> Res {
    let report = app.region.clone_machines(u, p).await?;
    let failed: Map<String, Value> = report
        .failed
        .iter()
        .map(|f| (f.system_id.clone(), Value::String(f.cause.clone())))
        .collect();
    if report.failed.is_empty() {
        return ok_json(json!({
            "source": report.source,
            "cloned": report.cloned,
            "failed": failed,
        }));
    }
    let messages: Vec<String> = report.failed.iter().map(|f| f.message()).collect();
    Ok((
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "destinations": messages,
            "source": report.source,
            "cloned": report.cloned,
            "failed": failed,
        })),
    )
        .into_response())
}
