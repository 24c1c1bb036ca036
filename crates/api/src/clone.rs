//! `POST machines/?op=clone`: the report of `Region::clone_machines` as JSON. All destinations
//! cloned → 200 `{"source", "cloned", "failed": {}}`. Any destination not cloned is the
//! region's `CloneFailed`, answered by `errors.rs` (400 in MAAS's form-error shape).

use crate::{ok_json, App, Res};
use ingot_region::clone::CloneReport;
use ingot_region::model::User;
use ingot_wire::Params;
use serde_json::{json, Map, Value};

pub(crate) async fn clone_machines(app: &App, u: &User, p: &Params) -> Res {
    let report = app.region.clone_machines(u, p).await?;
    ok_json(report_json(&report, None))
}

/// The report: `source`, `cloned` (those that did change) and `failed` (system_id → cause),
/// with `destinations` (one message per failed destination, naming it and the cause) when
/// given, so that the MAAS CLI shows the failure and scripts can tell which machines changed.
pub(crate) fn report_json(report: &CloneReport, destinations: Option<Vec<String>>) -> Value {
    let failed: Map<String, Value> = report
        .failed
        .iter()
        .map(|f| (f.system_id.clone(), Value::String(f.cause.clone())))
        .collect();
    let mut v = json!({
        "source": report.source,
        "cloned": report.cloned,
        "failed": failed,
    });
    if let Some(d) = destinations {
        v["destinations"] = json!(d);
    }
    v
}
