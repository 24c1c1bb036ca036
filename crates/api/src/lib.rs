#![recursion_limit = "256"]
//! The HTTP edge: MAAS API 2.0 at `/MAAS/api/2.0/`, the metadata API at `/MAAS/metadata/`,
//! and `/MAAS/accounts/authenticate/`. Requests are decoded the way MAAS clients send them
//! (query strings, urlencoded, multipart with base64 parts); every error is mapped to one
//! HTTP status here and nowhere else.

mod absent;
mod boot;
mod boot_resources;
mod boot_sources;
mod catalog;
mod clone;
mod devices;
mod dns;
mod errors;
mod events;
mod files;
mod live;
mod machine_list;
mod machines;
mod metadata;
pub mod metrics;
mod network;
mod nodes;
pub mod rack;
mod raids;
pub mod render;
mod repositories;
mod reserved_ips;
mod route_table;
mod routes;
mod scripts;
mod settings;
mod storage;
mod ui;
mod ui_account;
mod ui_add;
mod ui_catalog;
mod ui_clone;
mod ui_controllers;
mod ui_forms;
mod ui_images;
mod ui_machine;
mod ui_machine_change;
mod ui_machines;
mod ui_network;
mod ui_scripts;
mod ui_settings;
mod users;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
pub use errors::ApiError;
use events::events;
use ingot_region::model::User;
use ingot_region::{Principal, Region, RegionError};
use ingot_wire::{FilePart, Params};
use machines::{machine_filter, machines_json};
use serde_json::Value;
use std::sync::Arc;
use users::login;

/// Largest request body accepted (result uploads can be large).
const MAX_BODY: usize = 64 * 1024 * 1024;

pub struct App {
    pub region: Region,
    /// Where `ingot images build` stores ephemeral images (content-addressed).
    pub images_dir: Option<std::path::PathBuf>,
    /// Where Debian's iPXE loaders are (served to UEFI HTTP clients).
    pub ipxe_dir: std::path::PathBuf,
    /// The `ingot-agent` executable served as `/MAAS/maas-run-scripts` (register-machine,
    /// report-results, hardware sync on running machines).
    pub agent_binary: std::path::PathBuf,
    /// The UI's live stream, started by its first listener ([`live`]).
    pub feed: std::sync::OnceLock<tokio::sync::broadcast::Sender<live::Touch>>,
    /// Request durations by handler ([`metrics`]).
    pub http: metrics::Http,
    /// More of `/MAAS/metrics` in the text format (the binary adds its rack's counters).
    pub extra_metrics: Option<metrics::Extra>,
    /// A region serving TLS that also serves plain HTTP on this port, for machines (their
    /// firmware's iPXE has no HTTPS): what racks are told to send machines to.
    pub machine_port: Option<u16>,
}

/// `INGOT_AGENT_BINARY`, else `ingot-agent` next to this program.
fn default_agent_binary() -> std::path::PathBuf {
    std::env::var_os("INGOT_AGENT_BINARY")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .map(|e| e.with_file_name("ingot-agent"))
        })
        .unwrap_or_default()
}

/// Build the router for a region.
pub fn router(region: Region) -> Router {
    router_with(region, None)
}

/// The router, serving boot images from `images_dir`.
pub fn router_with(region: Region, images_dir: Option<std::path::PathBuf>) -> Router {
    router_serving(region, images_dir, None, None)
}

/// The router, with `extra` appended to `/MAAS/metrics`, and with `machine_port` when the
/// region serves TLS and plain HTTP for machines on that port (`App::machine_port`).
pub fn router_serving(
    region: Region,
    images_dir: Option<std::path::PathBuf>,
    extra: Option<metrics::Extra>,
    machine_port: Option<u16>,
) -> Router {
    let app = Arc::new(App {
        region,
        images_dir,
        ipxe_dir: std::path::PathBuf::from("/usr/lib/ipxe"),
        agent_binary: default_agent_binary(),
        feed: std::sync::OnceLock::new(),
        http: metrics::Http::default(),
        extra_metrics: extra,
        machine_port,
    });
    Router::new().fallback(dispatch).with_state(app)
}

type Res = Result<Response, ApiError>;

fn ok_json(v: Value) -> Res {
    Ok(axum::Json(v).into_response())
}

fn no_content() -> Res {
    // With a Content-Type, as MAAS (Django) sends it: the `maas` CLI reads the header of
    // every answer and exits 2 after a delete without one.
    Ok((
        StatusCode::NO_CONTENT,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
    )
        .into_response())
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(RegionError::BadRequest(msg.into()))
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError(RegionError::NotFound(msg.into()))
}

fn forbidden(msg: impl Into<String>) -> ApiError {
    ApiError(RegionError::Forbidden(msg.into()))
}

// ------------------------------------------------------------------------------ requests

/// A decoded request.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub base: String,
    pub auth: Option<String>,
    pub query: Params,
    pub body: Params,
    pub files: Vec<FilePart>,
    pub raw: Bytes,
    pub headers: axum::http::HeaderMap,
    /// Held while a large body is in memory (see [`LARGE_BODIES`]).
    pub _large: Option<tokio::sync::SemaphorePermit<'static>>,
    /// A boot resource's `content` written to disk as it arrived (never in `files`).
    pub spooled: Option<boot_resources::Spooled>,
    /// The operation named in the path, MAAS's `…/op-<name>/` form of `?op=<name>`.
    pub path_op: Option<String>,
}

/// Bodies above this size count against [`LARGE_BODIES`].
const LARGE_BODY: u64 = 64 * 1024;

/// How many large request bodies (result uploads with inventories, scripts) are read and
/// processed at once; the rest wait with their data in the kernel's socket buffers. Bounds the
/// region's memory when a thousand machines upload at the same moment.
static LARGE_BODIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(32);

impl Req {
    pub fn op(&self) -> Option<&str> {
        self.query
            .get("op")
            .or_else(|| self.body.get("op"))
            .or(self.path_op.as_deref())
            .filter(|o| !o.is_empty())
    }
    /// Query and body parameters together, without `op`.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        for (k, v) in self.query.iter().chain(self.body.iter()) {
            if k != "op" {
                p.push(k, v.to_vec());
            }
        }
        p
    }
}

/// A request's head, decoded, with its body's parameters left empty.
fn req_head(parts: axum::http::request::Parts) -> Req {
    let hdr = |n: header::HeaderName| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let host = hdr(header::HOST).unwrap_or_else(|| "localhost:5240".into());
    let scheme = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|s| *s == "https" || *s == "http")
        .unwrap_or("http");
    let (path, path_op) = match routes::path_op(parts.uri.path()) {
        Some((path, op)) => (path, Some(op)),
        None => (parts.uri.path().to_string(), None),
    };
    Req {
        base: format!("{scheme}://{host}"),
        auth: hdr(header::AUTHORIZATION),
        query: ingot_wire::parse_urlencoded(parts.uri.query().unwrap_or("").as_bytes()),
        path,
        path_op,
        method: parts.method,
        body: Params::new(),
        files: Vec::new(),
        raw: Bytes::new(),
        headers: parts.headers,
        _large: None,
        spooled: None,
    }
}

/// A refused body is read (and dropped) for a while longer, so that the client, still
/// sending, reads the answer rather than a reset connection. A client that waits for
/// `100 Continue` has sent nothing: it reads the answer as it is.
pub(crate) fn drain_refused(headers: &axum::http::HeaderMap, body: axum::body::Body) {
    use http_body_util::BodyExt;
    let waits = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    if waits {
        return;
    }
    tokio::spawn(async move {
        let mut body = body;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(Ok(_)) = body.frame().await {}
        })
        .await;
    });
}

async fn read_req(req: Request) -> Result<Req, ApiError> {
    let (parts, body) = req.into_parts();
    let hdr = |n: header::HeaderName| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let too_large = || {
        ApiError(RegionError::TooLarge(format!(
            "The request body is larger than {} MiB.",
            MAX_BODY >> 20
        )))
    };
    // Refuse by the declared length before reading anything.
    if hdr(header::CONTENT_LENGTH)
        .and_then(|l| l.trim().parse::<u64>().ok())
        .is_some_and(|l| l > MAX_BODY as u64)
    {
        drain_refused(&parts.headers, body);
        return Err(too_large());
    }
    // A large (or unannounced) body waits for its turn before it is read.
    let large = match hdr(header::CONTENT_LENGTH).and_then(|l| l.trim().parse::<u64>().ok()) {
        Some(l) if l <= LARGE_BODY => None,
        _ if parts.method == axum::http::Method::GET => None,
        _ => LARGE_BODIES.acquire().await.ok(),
    };
    let raw = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            // A body over the limit (chunked, or lying about its length) is 413 too.
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(x) = src {
                if x.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large());
                }
                src = x.source();
            }
            return Err(bad(format!("Could not read the request body: {e}")));
        }
    };
    let content_type = hdr(header::CONTENT_TYPE);
    let full = if (content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json"))
        && (parts.uri.path().contains("/metadata/status/")
            || parts.uri.path().starts_with("/MAAS/rack/")))
        || (parts.method == Method::PUT
            && boot_resources::is_raw_upload(parts.uri.path(), content_type.as_deref()))
    {
        // Boot resource chunks are the file's bytes, read whole by their handler.
        // cloud-init status events and rack reports are JSON documents, read whole by their handlers.
        ingot_wire::Multipart::default()
    } else {
        ingot_wire::decode_body_full(content_type.as_deref(), &raw)?
    };
    let mut r = req_head(parts);
    r.body = full.params;
    r.files = full.files;
    r.raw = raw;
    r._large = large;
    Ok(r)
}

/// One request, noting whether it may have changed the database (its answer when the
/// database goes away depends on it: `errors.rs`).
async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    ingot_region::model::witness::watching_writes(serve_one(app, req)).await
}

async fn serve_one(app: Arc<App>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let res = if boot_resources::is_streamed_upload(&req) {
        boot_resources::streamed_create(&app, req).await
    } else {
        match read_req(req).await {
            Ok(r) => route(&app, &r).await,
            Err(e) => Err(e),
        }
    };
    let resp = res.unwrap_or_else(|e| e.into_response());
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    app.http
        .observe(&path, &method, resp.status(), started.elapsed());
    resp
}

async fn route(app: &App, r: &Req) -> Res {
    let path = r.path.clone();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["MAAS", "api", "2.0", rest @ ..] => api(app, r, rest).await,
        ["MAAS", "metadata", rest @ ..] => metadata::handle(app, r, rest).await,
        ["MAAS", "accounts", "authenticate"] if r.method == Method::POST => login(app, r).await,
        ["MAAS", "accounts", what @ ("login" | "logout")] => ui::accounts(app, r, what).await,
        ["MAAS", "r", rest @ ..] => ui::pages(app, r, rest).await,
        ["MAAS", "boot", "ipxe"] if r.method == Method::GET => boot::script(app, r).await,
        ["MAAS", "rack", rest @ ..] => rack::handle(app, r, rest).await,
        ["MAAS", "metrics"] if r.method == Method::GET => metrics::serve(app).await,
        ["MAAS", "healthz"] if r.method == Method::GET => metrics::healthz(),
        ["MAAS", "readyz"] if r.method == Method::GET => metrics::readyz(app).await,
        // HEAD too: UEFI HTTP boot (EDK2's HttpBootDxe) asks for a file's size with HEAD
        // before it fetches it.
        ["MAAS", "boot", "images", sha] if r.method == Method::GET || r.method == Method::HEAD => {
            boot::image(app, r, sha, &r.headers).await
        }
        ["MAAS", "boot", "files", name] if r.method == Method::GET || r.method == Method::HEAD => {
            boot::loader(app, r, name, &r.headers).await
        }
        ["MAAS", "maas-run-scripts"] if r.method == Method::GET => {
            boot::run_scripts_program(app, &r.headers).await
        }
        // The web UI (the API is at /MAAS/api/2.0/).
        ["MAAS"] | [] if r.method == Method::GET || r.method == Method::HEAD => Ok(ui::to_ui()),
        _ => Err(not_found(format!("Nothing at {}", r.path))),
    }
}

fn unknown_op(r: &Req) -> ApiError {
    bad(format!(
        "Unrecognised signature: method={} op={}",
        r.method,
        r.op().unwrap_or("None")
    ))
}

/// A numeric id from the path; anything else is simply not found.
pub(crate) fn forms_id(s: &str) -> Result<i64, ApiError> {
    s.parse()
        .map_err(|_| not_found(format!("No object with id '{s}'.")))
}

fn need_user(who: &Principal) -> Result<&User, ApiError> {
    match who {
        Principal::User(u) => Ok(u),
        Principal::Anonymous => Err(ApiError(RegionError::Unauthorized(
            "Authentication credentials were not provided.".into(),
        ))),
        Principal::Machine { .. } => Err(forbidden(
            "Machine credentials only give access to that machine's metadata.",
        )),
    }
}

// ------------------------------------------------------------------------------ API 2.0

async fn api(app: &App, r: &Req, rest: &[&str]) -> Res {
    // Credentials, when given, are checked even where none are needed: machine credentials
    // give nothing here, not even what anonymous callers get.
    // Without an Authorization header, a UI session's cookie (with its CSRF token for a
    // change) may say who calls.
    let session = match r.auth {
        None => ui::api_principal(app, r).await?,
        Some(_) => None,
    };
    let who = match session {
        Some(who) => Ok(who),
        None => app.region.authenticate(r.auth.as_deref()).await,
    };
    let who = match who {
        Ok(who) => who,
        // As MAAS: `version/` answers even credentials that do not verify (Juju's client reads
        // it first, then finds out whether its key is good from `users/?op=whoami`).
        Err(RegionError::Unauthorized(_)) if rest == ["version"] => Principal::Anonymous,
        Err(e) => return Err(e.into()),
    };
    if let Principal::Machine { .. } = who {
        return Err(forbidden(
            "Machine credentials only give access to that machine's metadata.",
        ));
    }
    routes::serve(app, r, &who, rest).await
}
