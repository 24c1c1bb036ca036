//! `/MAAS/metrics` in Prometheus's text format (unauthenticated, as MAAS serves it): request
//! durations per handler, method and status class; machines by status, deployments waiting
//! for a slot, status changes, expired deadlines, power operations by driver and outcome, the
//! database pool (the region's, `ingot_region::metrics`); and what the binary adds (its rack's
//! DHCP, TFTP and DNS counters). `/MAAS/healthz` says the process serves; `/MAAS/readyz` that
//! its database answers (503 with `Retry-After` when it does not).

use crate::{App, Res};
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::Arc;
use std::time::Duration;

/// More text for `/MAAS/metrics`, made at each scrape.
pub type Extra = Arc<dyn Fn() -> String + Send + Sync>;

/// Request durations, kept for the life of the process.
pub struct Http {
    registry: Registry,
    requests: HistogramVec,
}

impl Default for Http {
    fn default() -> Self {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "ingot_http_request_duration_seconds",
                "Time to answer an HTTP request, by handler, method and status class.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["handler", "method", "code"],
        )
        .expect("a valid histogram");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        Http { registry, requests }
    }
}

/// What serves `path`, as a label: the API handler's name, else the part of Ingot.
fn handler_label(path: &str) -> &'static str {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["MAAS", "api", "2.0", "describe"] => "describe",
        ["MAAS", "api", "2.0", ..] => crate::routes::handler_name(path).unwrap_or("unknown"),
        ["MAAS", "metadata", ..] => "metadata",
        ["MAAS", "r", ..] | ["MAAS", "accounts", ..] | ["MAAS"] | [] => "ui",
        ["MAAS", "rack", ..] => "rack",
        ["MAAS", "boot", ..] | ["MAAS", "maas-run-scripts"] => "boot",
        ["MAAS", "metrics"] => "metrics",
        ["MAAS", "healthz"] => "healthz",
        ["MAAS", "readyz"] => "readyz",
        _ => "unknown",
    }
}

impl Http {
    pub(crate) fn observe(&self, path: &str, method: &Method, code: StatusCode, took: Duration) {
        let class = match code.as_u16() / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        self.requests
            .with_label_values(&[handler_label(path), method.as_str(), class])
            .observe(took.as_secs_f64());
    }
}

fn text(families: &[prometheus::proto::MetricFamily]) -> String {
    let mut out = Vec::new();
    // Encoding into a Vec cannot fail for well-formed families.
    let _ = TextEncoder::new().encode(families, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

fn gauge(r: &Registry, name: &str, help: &str, v: i64) -> prometheus::Result<()> {
    let g = IntGauge::new(name, help)?;
    g.set(v);
    r.register(Box::new(g))
}

/// The region's figures as metric families, read now.
async fn region_families(app: &App) -> Result<Vec<prometheus::proto::MetricFamily>, String> {
    let m = app.region.metrics().await.map_err(|e| e.to_string())?;
    let build = || -> prometheus::Result<Registry> {
        let r = Registry::new();
        let machines = IntGaugeVec::new(
            Opts::new("ingot_machines", "Machines by status."),
            &["status"],
        )?;
        for (status, n) in &m.machines {
            machines.with_label_values(&[status]).set(*n);
        }
        r.register(Box::new(machines))?;
        gauge(
            &r,
            "ingot_deploy_queue_depth",
            "Deployments waiting for a slot (max_concurrent_deployments).",
            m.deploy_queue,
        )?;
        let tr = IntCounterVec::new(
            Opts::new(
                "ingot_transitions_total",
                "Status changes this process committed, by from and to status.",
            ),
            &["from", "to"],
        )?;
        for ((from, to), n) in &m.transitions {
            tr.with_label_values(&[from, to]).inc_by(*n);
        }
        r.register(Box::new(tr))?;
        let exp = prometheus::IntCounter::new(
            "ingot_deadline_expiries_total",
            "Machines failed by this process because a deadline passed.",
        )?;
        exp.inc_by(m.deadline_expiries);
        r.register(Box::new(exp))?;
        let power = IntCounterVec::new(
            Opts::new(
                "ingot_power_operations_total",
                "Power operations finished, by driver, operation and outcome.",
            ),
            &["driver", "operation", "outcome"],
        )?;
        for ((driver, op, outcome), n) in &m.power {
            power
                .with_label_values(&[driver.as_str(), op, outcome])
                .inc_by(*n);
        }
        r.register(Box::new(power))?;
        gauge(
            &r,
            "ingot_power_queue_depth",
            "Power operations queued or under way (paced power-ons wait here).",
            m.power_queue,
        )?;
        gauge(
            &r,
            "ingot_db_pool_connections",
            "Database connections open.",
            i64::from(m.db_pool.0),
        )?;
        gauge(
            &r,
            "ingot_db_pool_idle_connections",
            "Database connections open and idle.",
            i64::try_from(m.db_pool.1).unwrap_or(i64::MAX),
        )?;
        Ok(r)
    };
    build().map(|r| r.gather()).map_err(|e| e.to_string())
}

pub(crate) async fn serve(app: &App) -> Res {
    let mut body = text(&app.http.registry.gather());
    match region_families(app).await {
        Ok(f) => body.push_str(&text(&f)),
        // The database away: what the process knows still goes out, and says so.
        Err(e) => tracing::warn!("metrics without the region's figures: {e}"),
    }
    if let Some(extra) = &app.extra_metrics {
        body.push_str(&extra());
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

pub(crate) fn healthz() -> Res {
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok\n",
    )
        .into_response())
}

pub(crate) async fn readyz(app: &App) -> Res {
    Ok(match app.region.ready().await {
        Ok(()) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "ready\n".to_string(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::RETRY_AFTER, "5"),
            ],
            format!("the database does not answer: {e}\n"),
        )
            .into_response(),
    })
}
