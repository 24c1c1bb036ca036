#![recursion_limit = "256"]
//! The HTTP edge: MAAS API 2.0 at `/MAAS/api/2.0/`, the metadata API at `/MAAS/metadata/`,
//! and `/MAAS/accounts/authenticate/`. Requests are decoded the way MAAS clients send them
//! (query strings, urlencoded, multipart with base64 parts); every error is mapped to one
//! HTTP status here and nowhere else.

mod boot;
mod boot_resources;
mod boot_sources;
mod clone;
pub mod describe;
mod metadata;
mod network;
pub mod rack;
pub mod render;
mod scripts;
mod storage;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ingot_core::actions::{Action, ActionError, ActionOptions};
use ingot_core::settings::SettingError;
use ingot_core::storage::StorageError;
use ingot_core::Status;
use ingot_region::model::{Machine, MachineFilter, NamedKind, StoreError, User};
use ingot_region::{forms, Principal, Region, RegionError};
use ingot_wire::{FilePart, Params};
use serde_json::{json, Value};
use std::sync::Arc;

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
    /// Imports images from the boot sources (one import at a time, in the background).
    pub importer: Arc<ingot_region::images::Importer>,
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
    let app = Arc::new(App {
        region,
        images_dir,
        ipxe_dir: std::path::PathBuf::from("/usr/lib/ipxe"),
        agent_binary: default_agent_binary(),
        importer: Default::default(),
    });
    Router::new().fallback(dispatch).with_state(app)
}

// ------------------------------------------------------------------------------ errors

/// An error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub RegionError);

impl From<RegionError> for ApiError {
    fn from(e: RegionError) -> Self {
        ApiError(e)
    }
}
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(RegionError::Store(e))
    }
}
impl From<ingot_wire::WireError> for ApiError {
    fn from(e: ingot_wire::WireError) -> Self {
        ApiError(e.into())
    }
}

fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            RegionError::Fields(f) => (StatusCode::BAD_REQUEST, axum::Json(f)).into_response(),
            RegionError::BadRequest(m) => text(StatusCode::BAD_REQUEST, m),
            RegionError::Unauthorized(m) => {
                let mut r = text(StatusCode::UNAUTHORIZED, m);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("OAuth realm=\"OAuth\""),
                );
                r
            }
            RegionError::Forbidden(m) => text(StatusCode::FORBIDDEN, m),
            RegionError::NotFound(m) => text(StatusCode::NOT_FOUND, m),
            RegionError::Conflict(m) => text(StatusCode::CONFLICT, m),
            RegionError::TooLarge(m) => text(StatusCode::PAYLOAD_TOO_LARGE, m),
            RegionError::Unavailable(m) => {
                let mut r = text(StatusCode::SERVICE_UNAVAILABLE, m);
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            RegionError::Action(e) => {
                let status = match e {
                    ActionError::NotPermitted(_) => StatusCode::FORBIDDEN,
                    ActionError::WrongStatus(_) => StatusCode::CONFLICT,
                    ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
                };
                text(status, e.to_string())
            }
            RegionError::Storage(StorageError::Field(f, m)) => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({ f: [m] }))).into_response()
            }
            RegionError::Storage(StorageError::NotFound(m)) => text(StatusCode::NOT_FOUND, m),
            RegionError::Storage(StorageError::Invalid(m)) => text(StatusCode::BAD_REQUEST, m),
            RegionError::Setting(e @ SettingError::Unknown { .. }) => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"name": [e.to_string()]})),
            )
                .into_response(),
            RegionError::Setting(SettingError::Invalid(m)) => {
                (StatusCode::BAD_REQUEST, axum::Json(json!({"value": [m]}))).into_response()
            }
            RegionError::Store(StoreError::NotFound) => {
                text(StatusCode::NOT_FOUND, "Not found.".into())
            }
            RegionError::Store(StoreError::Conflict) => text(
                StatusCode::CONFLICT,
                "The object was changed concurrently; try again.".into(),
            ),
            RegionError::Store(StoreError::Duplicate(m)) => text(StatusCode::CONFLICT, m),
            RegionError::Store(e) => {
                tracing::error!("internal error: {e}");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Internal error: {e}"),
                )
            }
        }
    }
}

type Res = Result<Response, ApiError>;

fn ok_json(v: Value) -> Res {
    Ok(axum::Json(v).into_response())
}

fn no_content() -> Res {
    Ok(StatusCode::NO_CONTENT.into_response())
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
    Req {
        base: format!("{scheme}://{host}"),
        auth: hdr(header::AUTHORIZATION),
        query: ingot_wire::parse_urlencoded(parts.uri.query().unwrap_or("").as_bytes()),
        path: parts.uri.path().to_string(),
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

async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
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
    resp
}

async fn route(app: &App, r: &Req) -> Res {
    let path = r.path.clone();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["MAAS", "api", "2.0", rest @ ..] => api(app, r, rest).await,
        ["MAAS", "metadata", rest @ ..] => metadata::handle(app, r, rest).await,
        ["MAAS", "accounts", "authenticate"] if r.method == Method::POST => login(app, r).await,
        ["MAAS", "boot", "ipxe"] if r.method == Method::GET => boot::script(app, r).await,
        ["MAAS", "rack", rest @ ..] => rack::handle(app, r, rest).await,
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
        ["MAAS"] | [] => Ok(text(
            StatusCode::OK,
            "Ingot region: API at /MAAS/api/2.0/\n".into(),
        )),
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

fn need_admin(u: &User) -> Result<(), ApiError> {
    if u.is_admin {
        Ok(())
    } else {
        Err(forbidden("This action needs administrator rights."))
    }
}

async fn login(app: &App, r: &Req) -> Res {
    let p = r.params();
    let u = app
        .region
        .login(
            p.get("username").unwrap_or_default(),
            p.get("password").unwrap_or_default(),
        )
        .await?;
    let t = app
        .region
        .create_user_token(&u, p.get("consumer").unwrap_or_default())
        .await?;
    ok_json(
        json!({"consumer_key": t.consumer_key, "token_key": t.token_key, "token_secret": t.token_secret, "name": t.name}),
    )
}

// ------------------------------------------------------------------------------ API 2.0

async fn api(app: &App, r: &Req, rest: &[&str]) -> Res {
    // Credentials, when given, are checked even where none are needed: machine credentials
    // give nothing here, not even what anonymous callers get.
    let who = app.region.authenticate(r.auth.as_deref()).await?;
    if let Principal::Machine { .. } = who {
        return Err(forbidden(
            "Machine credentials only give access to that machine's metadata.",
        ));
    }
    match rest {
        ["describe"] => return ok_json(describe::describe(&r.base)),
        ["version"] => {
            return ok_json(json!({
                "version": "3.5.0",
                "subversion": format!("ingot-{}", env!("CARGO_PKG_VERSION")),
                "capabilities": ["networks-management", "static-ipaddresses", "ipv6-deployment-ubuntu", "devices-management", "storage-deployment-ubuntu", "network-deployment-ubuntu", "authenticate-api"],
            }))
        }
        _ => {}
    }
    match rest {
        ["machines"] => machines(app, r, &who).await,
        ["machines", sid] => machine(app, r, need_user(&who)?, sid).await,
        ["users"] => users(app, r, need_user(&who)?).await,
        ["users", name] => user_item(app, r, need_user(&who)?, name).await,
        ["account"] => account(app, r, need_user(&who)?).await,
        ["account", "prefs", "sshkeys"] => sshkeys(app, r, need_user(&who)?, None).await,
        ["account", "prefs", "sshkeys", id] => sshkeys(app, r, need_user(&who)?, Some(id)).await,
        ["tags"] => tags(app, r, need_user(&who)?).await,
        ["tags", name] => tag_item(app, r, need_user(&who)?, name).await,
        ["zones"] => named_coll(app, r, need_user(&who)?, NamedKind::Zone).await,
        ["zones", name] => named_item(app, r, need_user(&who)?, NamedKind::Zone, name).await,
        ["resourcepools"] => named_coll(app, r, need_user(&who)?, NamedKind::Pool).await,
        ["resourcepool", id] => named_item(app, r, need_user(&who)?, NamedKind::Pool, id).await,
        ["events"] => events(app, r, need_user(&who)?).await,
        ["maas"] => config(app, r, need_user(&who)?).await,
        ["fabrics", rest @ ..] => network::fabrics(app, r, need_user(&who)?, rest).await,
        ["subnets"] => network::subnets(app, r, need_user(&who)?, None).await,
        ["subnets", id] => network::subnets(app, r, need_user(&who)?, Some(id)).await,
        ["ipaddresses"] => network::ipaddresses(app, r, need_user(&who)?).await,
        ["ipranges"] => network::ipranges(app, r, need_user(&who)?, None).await,
        ["ipranges", id] => network::ipranges(app, r, need_user(&who)?, Some(id)).await,
        ["static-routes"] => network::static_routes(app, r, need_user(&who)?, None).await,
        ["static-routes", id] => network::static_routes(app, r, need_user(&who)?, Some(id)).await,
        ["netboot-timeline"] => network::timeline(app, r, need_user(&who)?).await,
        ["rackcontrollers"] => {
            need_user(&who)?;
            rack::rack_controllers(app, r).await
        }
        ["rackcontrollers", id] => rack::rack_controller(app, r, need_user(&who)?, id).await,
        ["regioncontrollers"] => rack::region_controllers(app, r, need_user(&who)?, None).await,
        ["regioncontrollers", id] => {
            rack::region_controllers(app, r, need_user(&who)?, Some(id)).await
        }
        ["scripts"] => scripts::collection(app, r, need_user(&who)?).await,
        ["scripts", name] => scripts::item(app, r, need_user(&who)?, name).await,
        ["nodes", sid, "interfaces"] => {
            network::interfaces(app, r, need_user(&who)?, sid, None).await
        }
        ["nodes", sid, "interfaces", id] => {
            network::interfaces(app, r, need_user(&who)?, sid, Some(id)).await
        }
        ["nodes" | "machines", sid, "blockdevices"] => {
            storage::block_devices(app, r, need_user(&who)?, sid, None).await
        }
        ["nodes" | "machines", sid, "blockdevices", id] => {
            storage::block_devices(app, r, need_user(&who)?, sid, Some(id)).await
        }
        ["nodes" | "machines", sid, "blockdevices", disk, "partitions"] => {
            storage::partitions(app, r, need_user(&who)?, sid, disk, None).await
        }
        ["nodes" | "machines", sid, "blockdevices", disk, "partition" | "partitions", id] => {
            storage::partitions(app, r, need_user(&who)?, sid, disk, Some(id)).await
        }
        ["nodes" | "machines", sid, "volume-groups"] => {
            storage::volume_groups(app, r, need_user(&who)?, sid, None).await
        }
        ["nodes" | "machines", sid, "volume-group" | "volume-groups", id] => {
            storage::volume_groups(app, r, need_user(&who)?, sid, Some(id)).await
        }
        ["nodes" | "machines", sid, "bcache-cache-sets"] => {
            storage::cache_sets(app, r, need_user(&who)?, sid, None).await
        }
        ["nodes" | "machines", sid, "bcache-cache-set" | "bcache-cache-sets", id] => {
            storage::cache_sets(app, r, need_user(&who)?, sid, Some(id)).await
        }
        ["nodes" | "machines", sid, "bcaches"] => {
            storage::bcaches(app, r, need_user(&who)?, sid, None).await
        }
        ["nodes" | "machines", sid, "bcache" | "bcaches", id] => {
            storage::bcaches(app, r, need_user(&who)?, sid, Some(id)).await
        }
        ["nodes", sid, "results"] | ["machines", sid, "results"] => {
            scripts::results(app, r, need_user(&who)?, sid, None).await
        }
        ["nodes", sid, "results", id] | ["machines", sid, "results", id] => {
            scripts::results(app, r, need_user(&who)?, sid, Some(id)).await
        }
        ["boot-sources"] => boot_sources::collection(app, r, need_user(&who)?).await,
        ["boot-sources", id] => boot_sources::item(app, r, need_user(&who)?, id).await,
        ["boot-sources", id, "selections"] => {
            boot_sources::selections(app, r, need_user(&who)?, id, None).await
        }
        ["boot-sources", id, "selections", sel] => {
            boot_sources::selections(app, r, need_user(&who)?, id, Some(sel)).await
        }
        ["boot-resources"] => boot_resources::collection(app, r, need_user(&who)?).await,
        ["boot-resources", id] => boot_resources::item(app, r, need_user(&who)?, id, None).await,
        ["boot-resources", id, "upload", file] => {
            boot_resources::item(app, r, need_user(&who)?, id, Some(file)).await
        }
        ["power-types"] => {
            need_user(&who)?;
            ok_json(ingot_region::power::power_types_json())
        }
        _ => Err(not_found(format!("Unknown API endpoint: {}", r.path))),
    }
}

/// A list of machines as a JSON response, serialised without an intermediate tree.
fn machines_json(ms: &[Machine]) -> Res {
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        render::machines_bytes(ms),
    )
        .into_response())
}

/// Filters of `GET machines/`.
fn machine_filter(p: &Params) -> Result<(MachineFilter, Vec<String>, Vec<String>), ApiError> {
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

async fn machines(app: &App, r: &Req, who: &Principal) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::POST, None) => {
            let c = forms::create_machine(&app.region, who, &p).await?;
            match who {
                Principal::User(_) => ok_json(render::machine(&c.machine)),
                _ => ok_json(render::machine_anon(
                    &c.machine,
                    c.enlistment_token.as_ref(),
                )),
            }
        }
        (&Method::GET, Some("is_registered")) => {
            let mac = p.get("mac_address").ok_or_else(|| {
                ApiError(RegionError::field("mac_address", "This field is required."))
            })?;
            let mac = ingot_core::ids::normalize_mac(mac).ok_or_else(|| {
                ApiError(RegionError::field(
                    "mac_address",
                    "Enter a valid MAC address.",
                ))
            })?;
            ok_json(json!(app.region.is_registered(&mac).await?))
        }
        (&Method::POST, Some("accept")) if matches!(who, Principal::Anonymous) => Err(ApiError(
            RegionError::Unauthorized("Authentication required.".into()),
        )),
        _ => {
            let u = need_user(who)?;
            match (&r.method, r.op()) {
                (&Method::GET, None) => {
                    let (f, arch, tags) = machine_filter(&p)?;
                    let mut ms = app.region.list_machines(u, f).await?;
                    ms.retain(|m| {
                        (arch.is_empty()
                            || arch.iter().any(|a| {
                                ingot_core::constraints::arch_matches(
                                    a,
                                    m.architecture.as_deref().unwrap_or(""),
                                )
                            }))
                            && tags.iter().all(|t| m.tags.contains(t))
                    });
                    machines_json(&ms)
                }
                (&Method::GET, Some("list_allocated")) => {
                    let ms = app
                        .region
                        .list_machines(
                            u,
                            MachineFilter {
                                owner_id: Some(u.id),
                                ..Default::default()
                            },
                        )
                        .await?;
                    machines_json(&ms)
                }
                (&Method::GET, Some("power_parameters")) => {
                    need_admin(u)?;
                    let ms = app
                        .region
                        .list_machines(
                            u,
                            MachineFilter {
                                system_ids: forms::list(&p, "id"),
                                ..Default::default()
                            },
                        )
                        .await?;
                    let mut out = serde_json::Map::new();
                    for m in ms {
                        out.insert(
                            m.system_id.clone(),
                            Value::Object(app.region.open_power_params(&m)?),
                        );
                    }
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
                    ok_json(render::allocated_machine(&m, &matched))
                }
                (&Method::POST, Some("release")) => bulk_release(app, u, &p).await,
                (&Method::POST, Some("clone")) => clone::clone_machines(app, u, &p).await,
                (&Method::POST, Some("accept")) | (&Method::POST, Some("accept_all")) => {
                    need_admin(u)?;
                    let ids = if r.op() == Some("accept_all") {
                        app.region
                            .list_machines(
                                u,
                                MachineFilter {
                                    statuses: vec![Status::New],
                                    ..Default::default()
                                },
                            )
                            .await?
                            .into_iter()
                            .map(|m| m.system_id)
                            .collect()
                    } else {
                        forms::list(&p, "machines")
                    };
                    let mut out = Vec::new();
                    for id in ids {
                        let m = app
                            .region
                            .act(u, &id, Action::Commission, &ActionOptions::default(), None)
                            .await?;
                        out.push(render::machine(&m));
                    }
                    ok_json(Value::Array(out))
                }
                _ => Err(unknown_op(r)),
            }
        }
    }
}

/// Release several machines: all are checked before any is changed.
async fn bulk_release(app: &App, u: &User, p: &Params) -> Res {
    let ids = forms::list(p, "machines");
    ok_json(json!(app.region.release_machines(u, &ids, p).await?))
}

/// BSON document with the given keys set to null (no lshw/lldp data is gathered yet).
fn bson_nulls(keys: &[&str]) -> Vec<u8> {
    let mut body = Vec::new();
    for k in keys {
        body.push(0x0A);
        body.extend_from_slice(k.as_bytes());
        body.push(0);
    }
    let total = (4 + body.len() + 1) as i32;
    let mut out = total.to_le_bytes().to_vec();
    out.extend(body);
    out.push(0);
    out
}

async fn machine(app: &App, r: &Req, u: &User, sid: &str) -> Res {
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
        (&Method::GET, Some("query_power_state")) => {
            return ok_json(json!({"state": region.query_power_state(u, sid).await?}));
        }
        (&Method::GET, Some("power_parameters")) => {
            need_admin(u)?;
            let m = region.machine_for(u, sid).await?;
            return ok_json(Value::Object(region.open_power_params(&m)?));
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
            region.machine_for(u, sid).await?;
            return Ok((
                [(header::CONTENT_TYPE, "application/bson")],
                bson_nulls(&["lshw", "lldp"]),
            )
                .into_response());
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
    ok_json(render::machine(&m))
}

async fn users(app: &App, r: &Req, u: &User) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let us = app.region.list_users().await?;
            ok_json(Value::Array(us.iter().map(render::user).collect()))
        }
        (&Method::GET, Some("whoami")) => ok_json(render::user(u)),
        (&Method::POST, None) => {
            need_admin(u)?;
            let p = r.params();
            let name = p.get("username").unwrap_or_default();
            let admin = p.get_bool("is_superuser")?.unwrap_or(false);
            let nu = app
                .region
                .create_user(
                    name,
                    p.get("password").unwrap_or_default(),
                    p.get("email").unwrap_or_default(),
                    admin,
                )
                .await?;
            ok_json(render::user(&nu))
        }
        _ => Err(unknown_op(r)),
    }
}

async fn user_item(app: &App, r: &Req, u: &User, name: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render::user(&app.region.user_named(name).await?)),
        (&Method::DELETE, None) => {
            app.region.delete_user(u, name).await?;
            no_content()
        }
        _ => {
            app.region.user_named(name).await?;
            Err(unknown_op(r))
        }
    }
}

async fn account(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::POST, Some("create_authorisation_token")) => {
            let t = app
                .region
                .create_user_token(u, p.get("name").unwrap_or_default())
                .await?;
            ok_json(
                json!({"consumer_key": t.consumer_key, "token_key": t.token_key, "token_secret": t.token_secret, "name": t.name}),
            )
        }
        (&Method::POST, Some("delete_authorisation_token")) => {
            app.region.delete_user_token(u, p.get("token_key")).await?;
            no_content()
        }
        (&Method::GET, Some("list_authorisation_tokens")) => {
            let ts = app.region.user_tokens(u).await?;
            ok_json(Value::Array(ts.iter().map(render::token).collect()))
        }
        _ => Err(unknown_op(r)),
    }
}

async fn sshkeys(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let key_json = |id: i64, key: &str| json!({"id": id, "key": key, "keysource": null, "resource_uri": format!("{}/account/prefs/sshkeys/{id}/", render::API)});
    match (id, &r.method) {
        (None, &Method::GET) => {
            let ks = app.region.sshkeys(u).await?;
            ok_json(Value::Array(
                ks.iter().map(|(i, k)| key_json(*i, k)).collect(),
            ))
        }
        (None, &Method::POST) => {
            let p = r.params();
            let (id, key) = app
                .region
                .add_sshkey(u, p.get("key").unwrap_or_default())
                .await?;
            ok_json(key_json(id, &key))
        }
        (Some(id), &Method::GET) => {
            let (id, k) = app.region.sshkey(u, id).await?;
            ok_json(key_json(id, &k))
        }
        (Some(id), &Method::DELETE) => {
            app.region.delete_sshkey(u, id).await?;
            no_content()
        }
        (Some(id), _) => {
            app.region.sshkey(u, id).await?;
            Err(unknown_op(r))
        }
        _ => Err(unknown_op(r)),
    }
}

/// What a tag request sends.
fn tag_fields(p: &Params) -> ingot_region::catalog::TagFields<'_> {
    ingot_region::catalog::TagFields {
        name: p.get("name"),
        comment: p.get("comment"),
        kernel_opts: p.get("kernel_opts"),
        definition: p.get("definition"),
    }
}

async fn tags(app: &App, r: &Req, u: &User) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(Value::Array(
            app.region
                .list_tags()
                .await?
                .iter()
                .map(render::tag)
                .collect(),
        )),
        (&Method::POST, None) => {
            let p = r.params();
            ok_json(render::tag(
                &app.region.create_tag(u, &tag_fields(&p)).await?,
            ))
        }
        _ => Err(unknown_op(r)),
    }
}

async fn tag_item(app: &App, r: &Req, u: &User, name: &str) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render::tag(&app.region.tag(name).await?)),
        (&Method::PUT, None) => {
            let t = app.region.update_tag(u, name, &tag_fields(&p)).await?;
            ok_json(render::tag(&t))
        }
        (&Method::DELETE, None) => {
            app.region.delete_tag(u, name).await?;
            no_content()
        }
        (&Method::GET, Some("machines")) | (&Method::GET, Some("nodes")) => {
            let t = app.region.tag(name).await?;
            let mut ms = app
                .region
                .list_machines(u, MachineFilter::default())
                .await?;
            ms.retain(|m| m.tags.contains(&t.name));
            machines_json(&ms)
        }
        (&Method::POST, Some("update_nodes")) => {
            let (add, remove) = (forms::list(&p, "add"), forms::list(&p, "remove"));
            let (added, removed) = app.region.tag_update_nodes(u, name, &add, &remove).await?;
            ok_json(json!({"added": added, "removed": removed}))
        }
        _ => {
            app.region.tag(name).await?;
            Err(unknown_op(r))
        }
    }
}

fn render_named(kind: NamedKind, n: &ingot_region::model::Named) -> Value {
    match kind {
        NamedKind::Zone => render::zone(n),
        NamedKind::Pool => render::pool(n),
    }
}

async fn named_coll(app: &App, r: &Req, u: &User, kind: NamedKind) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(Value::Array(
            app.region
                .list_named(kind)
                .await?
                .iter()
                .map(|n| render_named(kind, n))
                .collect(),
        )),
        (&Method::POST, None) => {
            let p = r.params();
            let n = app
                .region
                .create_named(
                    u,
                    kind,
                    p.get("name").unwrap_or_default(),
                    p.get("description").unwrap_or_default(),
                )
                .await?;
            ok_json(render_named(kind, &n))
        }
        _ => Err(unknown_op(r)),
    }
}

async fn named_item(app: &App, r: &Req, u: &User, kind: NamedKind, key: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render_named(kind, &app.region.named(kind, key).await?)),
        (&Method::PUT, None) => {
            let p = r.params();
            let n = app
                .region
                .update_named(u, kind, key, p.get("name"), p.get("description"))
                .await?;
            ok_json(render_named(kind, &n))
        }
        (&Method::DELETE, None) => {
            app.region.delete_named(u, kind, key).await?;
            no_content()
        }
        _ => {
            app.region.named(kind, key).await?;
            Err(unknown_op(r))
        }
    }
}

const LEVELS: &[&str] = &["DEBUG", "INFO", "WARNING", "ERROR"];

async fn events(app: &App, r: &Req, u: &User) -> Res {
    if r.method != Method::GET || r.op() != Some("query") {
        return Err(unknown_op(r));
    }
    let p = r.params();
    let level = p.get("level").unwrap_or("INFO").to_ascii_uppercase();
    let levels: Vec<&str> = if level == "AUDIT" {
        vec!["AUDIT"]
    } else {
        let i = LEVELS.iter().position(|l| *l == level).ok_or_else(|| {
            ApiError(RegionError::field(
                "level",
                format!(
                    "'{level}' is not a valid level: use DEBUG, INFO, WARNING, ERROR or AUDIT."
                ),
            ))
        })?;
        LEVELS[i..].to_vec()
    };
    let limit = p.get_i64("limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError(RegionError::field(
            "limit",
            "Must be between 1 and 1000.",
        )));
    }
    let before = p.get_i64("before")?;
    let after = p.get_i64("after")?;
    let mut ids = forms::list(&p, "id");
    let hostnames = forms::list(&p, "hostname");
    let macs = forms::list(&p, "mac_address");
    if !hostnames.is_empty() || !macs.is_empty() || !u.is_admin {
        let (f, _, _) = machine_filter(&Params::from_iter(
            hostnames
                .iter()
                .map(|h| ("hostname".to_string(), h.clone().into_bytes()))
                .chain(
                    macs.iter()
                        .map(|m| ("mac_address".to_string(), m.clone().into_bytes())),
                ),
        ))?;
        let visible: Vec<String> = app
            .region
            .list_machines(u, f)
            .await?
            .into_iter()
            .map(|m| m.system_id)
            .collect();
        if ids.is_empty() {
            ids = visible;
        } else {
            ids.retain(|i| visible.contains(i));
        }
        if ids.is_empty() {
            return ok_json(json!({"count": 0, "events": [], "next_uri": null, "prev_uri": null}));
        }
    }
    let evs = app
        .region
        .events(&ids, &levels, before, after, limit)
        .await?;
    let q = |k: &str, v: i64| {
        let mut qp: Vec<(String, String)> = vec![
            ("op".into(), "query".into()),
            ("level".into(), level.clone()),
            ("limit".into(), limit.to_string()),
        ];
        for i in &ids {
            qp.push(("id".into(), i.clone()));
        }
        qp.push((k.into(), v.to_string()));
        let pairs: Vec<(&str, &str)> = qp.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        format!(
            "{}{}/events/?{}",
            r.base,
            render::API,
            ingot_wire::encode_urlencoded(&pairs)
        )
    };
    let next = evs.last().map(|e| q("before", e.id));
    let prev = evs.first().map(|e| q("after", e.id));
    ok_json(
        json!({"count": evs.len(), "events": evs.iter().map(render::event).collect::<Vec<_>>(), "next_uri": next, "prev_uri": prev}),
    )
}

async fn config(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    let name = p.get("name").unwrap_or_default();
    match (&r.method, r.op()) {
        (&Method::GET, Some("get_config")) => ok_json(match app.region.get_config(name).await? {
            ingot_core::settings::Value::Int(v) => json!(v),
            ingot_core::settings::Value::Bool(v) => json!(v),
            ingot_core::settings::Value::Text(v) => json!(v),
        }),
        (&Method::POST, Some("set_config")) => {
            app.region
                .set_config(u, name, p.get("value").unwrap_or_default())
                .await?;
            ok_json(Value::Null)
        }
        _ => {
            // Who may change settings is checked before what they sent.
            if r.method != Method::GET {
                need_admin(u)?;
            }
            ingot_core::settings::find(name).map_err(|e| ApiError(e.into()))?;
            Err(unknown_op(r))
        }
    }
}
