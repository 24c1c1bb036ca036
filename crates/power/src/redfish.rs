//! `redfish` driver: DMTF Redfish over HTTP(S), as MAAS's `redfish` power type.
//!
//! * Authentication: when the service root advertises a session service
//!   (`SessionService` / `Links.Sessions`), a session is opened (`X-Auth-Token`) and closed again
//!   when the driver is dropped; otherwise, or when session creation fails for any reason other
//!   than refused credentials, HTTP basic auth is used.
//! * The system is `node_id` (a member id of `/redfish/v1/Systems`, or a full `@odata.id`), else
//!   the first member of `/redfish/v1/Systems`.
//! * Power changes are `ComputerSystem.Reset` actions (the target advertised in the system's
//!   `Actions` when there is one); BMCs apply them seconds later, so the driver polls
//!   `PowerState` until it reads what was asked for (transient `Timeout` if it never does).
//! * `PowerState` `On`/`PoweringOn`/`Paused` read as on, `Off`/`PoweringOff` as off; anything
//!   else is a protocol error.

use crate::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::Mutex;

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a power change may take to show in `PowerState`.
const DEFAULT_POLL_DEADLINE: Duration = Duration::from_secs(30);
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
const SYSTEMS: &str = "/redfish/v1/Systems";
const SERVICE_ROOT: &str = "/redfish/v1/";

/// The raw `PowerState` of a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    On,
    Off,
    PoweringOn,
    PoweringOff,
    Paused,
}

impl Raw {
    fn parse(s: &str) -> Option<Raw> {
        Some(match s {
            "On" => Raw::On,
            "Off" => Raw::Off,
            "PoweringOn" => Raw::PoweringOn,
            "PoweringOff" => Raw::PoweringOff,
            "Paused" => Raw::Paused,
            _ => return None,
        })
    }

    fn state(self) -> PowerState {
        match self {
            Raw::On | Raw::PoweringOn | Raw::Paused => PowerState::On,
            Raw::Off | Raw::PoweringOff => PowerState::Off,
        }
    }
}

#[derive(Debug, Clone)]
enum Auth {
    /// Not decided yet (the service root has not been read).
    Unknown,
    /// No credentials, or basic auth.
    Basic,
    /// A Redfish session: the token and the session resource to delete at the end.
    Session {
        token: String,
        location: Option<Url>,
    },
}

/// What the driver learnt about the system.
#[derive(Debug, Clone)]
struct System {
    uri: Url,
    reset_target: Url,
    /// `ResetType@Redfish.AllowableValues`, when the BMC lists them.
    allowed: Option<Vec<String>>,
}

pub struct Redfish {
    client: reqwest::Client,
    base: Url,
    user: String,
    pass: String,
    node_id: Option<String>,
    poll_deadline: Duration,
    poll_interval: Duration,
    auth: Mutex<Auth>,
    system: Mutex<Option<System>>,
}

fn param<'a>(params: &'a Params, key: &str) -> &'a str {
    params
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
}

pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s.to_string()
    }
}

/// A reqwest error, sorted into the driver's kinds, with its causes spelled out.
pub(crate) fn http_error(what: &str, e: &reqwest::Error) -> PowerError {
    let mut msg = format!("{what}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    if e.is_timeout() {
        PowerError::Timeout(msg)
    } else if e.is_connect() {
        PowerError::Unreachable(msg)
    } else if e.is_decode() || e.is_body() {
        PowerError::Protocol(msg)
    } else {
        // Connection reset or closed mid-request and the like: worth another try.
        PowerError::Unreachable(msg)
    }
}

impl Redfish {
    pub fn from_params(params: &Params) -> Result<Self, PowerError> {
        let addr = param(params, "power_address");
        if addr.is_empty() {
            return Err(PowerError::BadParams("power_address is required".into()));
        }
        let with_scheme = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("https://{addr}")
        };
        let base = Url::parse(&with_scheme)
            .map_err(|e| PowerError::BadParams(format!("power_address '{addr}': {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none_or(str::is_empty) {
            return Err(PowerError::BadParams(format!(
                "power_address '{addr}' is not an http[s]://host[:port] address"
            )));
        }
        let verify = param(params, "power_verify_ssl").eq_ignore_ascii_case("y");
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .danger_accept_invalid_certs(!verify)
            .no_proxy()
            .build()
            .map_err(|e| PowerError::BadParams(format!("cannot build the HTTP client: {e}")))?;
        let node_id = Some(param(params, "node_id"))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(Redfish {
            client,
            base,
            user: param(params, "power_user").to_string(),
            pass: params
                .get("power_pass")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            node_id,
            poll_deadline: DEFAULT_POLL_DEADLINE,
            poll_interval: DEFAULT_POLL_INTERVAL,
            auth: Mutex::new(Auth::Unknown),
            system: Mutex::new(None),
        })
    }

    /// How long to wait for a power change to show, and how often to look.
    pub fn with_polling(mut self, deadline: Duration, interval: Duration) -> Self {
        self.poll_deadline = deadline;
        self.poll_interval = interval;
        self
    }

    /// Whether the driver talks to the BMC through a Redfish session (after the first request).
    pub async fn uses_session(&self) -> bool {
        matches!(*self.auth.lock().await, Auth::Session { .. })
    }

    pub(crate) fn url(&self, path: &str) -> Result<Url, PowerError> {
        self.base
            .join(path)
            .map_err(|e| PowerError::Protocol(format!("bad resource path '{path}': {e}")))
    }

    /// One request, without authentication handling: (status, headers, body).
    async fn raw(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        auth: &Auth,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), PowerError> {
        let what = format!("{method} {}", url.path());
        let mut req = self
            .client
            .request(method, url.clone())
            .header("Accept", "application/json");
        match auth {
            Auth::Session { token, .. } => req = req.header("X-Auth-Token", token),
            _ if !self.user.is_empty() || !self.pass.is_empty() => {
                req = req.basic_auth(&self.user, Some(&self.pass))
            }
            _ => {}
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| http_error(&what, &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| http_error(&what, &e))?;
        Ok((status, headers, bytes.to_vec()))
    }

    /// Decide how to authenticate: open a session when the service offers one.
    async fn login(&self) -> Result<Auth, PowerError> {
        if self.user.is_empty() {
            return Ok(Auth::Basic);
        }
        let root_url = self.url(SERVICE_ROOT)?;
        let (status, _, body) = self
            .raw(Method::GET, &root_url, None, &Auth::Unknown)
            .await?;
        let root: Value = match status {
            s if s.is_success() => serde_json::from_slice(&body).map_err(|_| {
                PowerError::Protocol(format!("the service root is not JSON: {}", snippet(&body)))
            })?,
            s if s.is_server_error() => {
                return Err(PowerError::Busy(format!("GET {SERVICE_ROOT}: HTTP {s}")))
            }
            // Some BMCs protect the root too: basic auth will tell.
            _ => return Ok(Auth::Basic),
        };
        let sessions = root
            .pointer("/Links/Sessions/@odata.id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                root.pointer("/SessionService/@odata.id")
                    .and_then(Value::as_str)
                    .map(|s| format!("{}/Sessions", s.trim_end_matches('/')))
            });
        let Some(sessions) = sessions else {
            return Ok(Auth::Basic);
        };
        let url = self.url(&sessions)?;
        let creds = json!({"UserName": self.user, "Password": self.pass});
        let (status, headers, body) = match self
            .raw(Method::POST, &url, Some(&creds), &Auth::Unknown)
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                tracing::debug!(
                    "redfish {}: session login failed ({e}); using basic auth",
                    self.base
                );
                return Ok(Auth::Basic);
            }
        };
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(PowerError::Auth(format!(
                "session login as '{}' refused: HTTP {status} {}",
                self.user,
                snippet(&body)
            )));
        }
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty());
        match (status.is_success(), token) {
            (true, Some(token)) => {
                let location = headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| self.base.join(l).ok())
                    .or_else(|| {
                        serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
                            v.get("@odata.id")
                                .and_then(Value::as_str)
                                .and_then(|p| self.base.join(p).ok())
                        })
                    });
                Ok(Auth::Session {
                    token: token.to_string(),
                    location,
                })
            }
            _ => {
                tracing::debug!("redfish {}: session login answered HTTP {status} without a token; using basic auth", self.base);
                Ok(Auth::Basic)
            }
        }
    }

    /// An authenticated request. A session that expired is reopened once. Server errors and
    /// 429 are `Busy`.
    async fn request(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>), PowerError> {
        let (status, bytes) = self.request_any(method.clone(), url, body).await?;
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(PowerError::Busy(format!(
                "{method} {}: HTTP {status} {}",
                url.path(),
                snippet(&bytes)
            )));
        }
        Ok((status, bytes))
    }

    /// [`Redfish::request`] without sorting the answer's status: every status but refused
    /// credentials is returned to the caller.
    pub(crate) async fn request_any(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>), PowerError> {
        let mut retried = false;
        loop {
            let auth = {
                let mut guard = self.auth.lock().await;
                if matches!(*guard, Auth::Unknown) {
                    *guard = self.login().await?;
                }
                guard.clone()
            };
            let (status, _, bytes) = self.raw(method.clone(), url, body, &auth).await?;
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                if let (Auth::Session { .. }, false, StatusCode::UNAUTHORIZED) =
                    (&auth, retried, status)
                {
                    retried = true;
                    *self.auth.lock().await = Auth::Unknown;
                    continue;
                }
                return Err(PowerError::Auth(format!(
                    "{method} {} as '{}': HTTP {status}",
                    url.path(),
                    self.user
                )));
            }
            return Ok((status, bytes));
        }
    }

    /// GET a resource as JSON; `not_found` is the error for a 404.
    pub(crate) async fn get_json(
        &self,
        url: &Url,
        not_found: impl FnOnce() -> PowerError,
    ) -> Result<Value, PowerError> {
        let (status, body) = self.request(Method::GET, url, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(not_found());
        }
        if !status.is_success() {
            return Err(PowerError::Protocol(format!(
                "GET {}: HTTP {status} {}",
                url.path(),
                snippet(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|_| {
            PowerError::Protocol(format!("GET {}: not JSON: {}", url.path(), snippet(&body)))
        })
    }

    /// The system's URI (found once, then remembered).
    pub(crate) async fn system_uri(&self) -> Result<Url, PowerError> {
        if let Some(s) = self.system.lock().await.as_ref() {
            return Ok(s.uri.clone());
        }
        match &self.node_id {
            Some(id) if id.starts_with('/') || id.contains("://") => self.url(id),
            Some(id) => self.url(&format!("{SYSTEMS}/{id}")),
            None => {
                let url = self.url(SYSTEMS)?;
                let list = self
                    .get_json(&url, || {
                        PowerError::Unsupported(format!("{} has no {SYSTEMS}", self.base))
                    })
                    .await?;
                let first = list
                    .get("Members")
                    .and_then(Value::as_array)
                    .ok_or_else(|| PowerError::Protocol(format!("{SYSTEMS} has no Members list")))?
                    .first()
                    .ok_or_else(|| {
                        PowerError::BadParams(format!("{} lists no systems", self.base))
                    })?;
                let id = first
                    .get("@odata.id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        PowerError::Protocol(format!("a member of {SYSTEMS} has no @odata.id"))
                    })?;
                self.url(id)
            }
        }
    }

    /// Read the system resource, remembering where its reset action is.
    async fn system(&self) -> Result<(Value, System), PowerError> {
        let uri = self.system_uri().await?;
        let doc = self
            .get_json(&uri, || {
                PowerError::BadParams(format!(
                    "no such system: {} (node_id {})",
                    uri.path(),
                    self.node_id.as_deref().unwrap_or("not set")
                ))
            })
            .await?;
        let action = doc.pointer("/Actions/#ComputerSystem.Reset");
        let reset_target = match action.and_then(|a| a.get("target")).and_then(Value::as_str) {
            Some(t) => self.url(t)?,
            None => self.url(&format!(
                "{}/Actions/ComputerSystem.Reset",
                uri.path().trim_end_matches('/')
            ))?,
        };
        let allowed = action
            .and_then(|a| a.get("ResetType@Redfish.AllowableValues"))
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            });
        let sys = System {
            uri,
            reset_target,
            allowed,
        };
        *self.system.lock().await = Some(sys.clone());
        Ok((doc, sys))
    }

    async fn raw_state(&self) -> Result<(Raw, System), PowerError> {
        let (doc, sys) = self.system().await?;
        let ps = doc
            .get("PowerState")
            .ok_or_else(|| PowerError::Protocol(format!("{} has no PowerState", sys.uri.path())))?;
        let raw = ps.as_str().and_then(Raw::parse).ok_or_else(|| {
            PowerError::Protocol(format!("{} has an unknown PowerState {ps}", sys.uri.path()))
        })?;
        Ok((raw, sys))
    }

    fn allows(sys: &System, reset_type: &str) -> bool {
        sys.allowed
            .as_ref()
            .is_none_or(|a| a.iter().any(|t| t == reset_type))
    }

    /// POST a `ComputerSystem.Reset` action.
    async fn reset(&self, sys: &System, reset_type: &str) -> Result<(), PowerError> {
        if !Self::allows(sys, reset_type) {
            return Err(PowerError::Unsupported(format!(
                "the BMC does not offer ResetType {reset_type} (it offers {:?})",
                sys.allowed.as_deref().unwrap_or(&[])
            )));
        }
        let (status, body) = self
            .request(
                Method::POST,
                &sys.reset_target,
                Some(&json!({"ResetType": reset_type})),
            )
            .await?;
        match status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                Err(PowerError::Unsupported(format!(
                    "POST {} (ResetType {reset_type}): HTTP {status} {}",
                    sys.reset_target.path(),
                    snippet(&body)
                )))
            }
            // 409: the BMC is in the middle of another change.
            StatusCode::CONFLICT => Err(PowerError::Busy(format!(
                "POST {} (ResetType {reset_type}): HTTP {status} {}",
                sys.reset_target.path(),
                snippet(&body)
            ))),
            _ => Err(PowerError::Protocol(format!(
                "POST {} (ResetType {reset_type}): HTTP {status} {}",
                sys.reset_target.path(),
                snippet(&body)
            ))),
        }
    }

    /// Poll `PowerState` until `done` holds, within the poll deadline.
    async fn wait_until(&self, what: &str, done: impl Fn(Raw) -> bool) -> Result<Raw, PowerError> {
        let end = tokio::time::Instant::now() + self.poll_deadline;
        loop {
            let (raw, _) = self.raw_state().await?;
            if done(raw) {
                return Ok(raw);
            }
            if tokio::time::Instant::now() + self.poll_interval > end {
                return Err(PowerError::Timeout(format!(
                    "the system was still {raw:?} {:?} after asking for {what}",
                    self.poll_deadline
                )));
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    async fn turn_on(&self, raw: Raw, sys: &System) -> Result<(), PowerError> {
        if raw == Raw::PoweringOff {
            // Let the power-off finish before asking for on.
            self.wait_until("off", |r| r == Raw::Off).await?;
        }
        self.reset(sys, "On").await?;
        self.wait_until("on", |r| r.state() == PowerState::On)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl PowerDriver for Redfish {
    async fn power_on(&self) -> Result<(), PowerError> {
        let (raw, sys) = self.raw_state().await?;
        match raw.state() {
            // Already on (or on its way): never touch it.
            PowerState::On => Ok(()),
            _ => self.turn_on(raw, &sys).await,
        }
    }

    async fn power_off(&self) -> Result<(), PowerError> {
        let (raw, sys) = self.raw_state().await?;
        if raw == Raw::Off {
            return Ok(());
        }
        self.reset(&sys, "ForceOff").await?;
        self.wait_until("off", |r| r == Raw::Off).await.map(|_| ())
    }

    async fn power_soft(&self) -> Result<(), PowerError> {
        let (raw, sys) = self.raw_state().await?;
        if raw.state() == PowerState::Off {
            return Ok(());
        }
        // The OS decides when (and whether) it shuts down: the request is not followed up.
        self.reset(&sys, "GracefulShutdown").await
    }

    async fn power_cycle(&self) -> Result<(), PowerError> {
        let (raw, sys) = self.raw_state().await?;
        if raw.state() == PowerState::Off {
            return self.turn_on(raw, &sys).await;
        }
        if Self::allows(&sys, "ForceRestart") {
            self.reset(&sys, "ForceRestart").await?;
        } else if Self::allows(&sys, "PowerCycle") {
            self.reset(&sys, "PowerCycle").await?;
        } else {
            self.reset(&sys, "ForceOff").await?;
            self.wait_until("off", |r| r == Raw::Off).await?;
            self.reset(&sys, "On").await?;
        }
        // Many BMCs read On throughout a restart; some go Off first and come back.
        self.wait_until("on", |r| r.state() == PowerState::On)
            .await
            .map(|_| ())
    }

    async fn query(&self) -> Result<PowerState, PowerError> {
        self.raw_state().await.map(|(raw, _)| raw.state())
    }

    async fn set_boot_device(&self, dev: BootDevice, persistent: bool) -> Result<(), PowerError> {
        let uri = self.system_uri().await?;
        let target = match dev {
            BootDevice::Pxe => "Pxe",
            BootDevice::Disk => "Hdd",
        };
        let enabled = if persistent { "Continuous" } else { "Once" };
        let body = json!({"Boot": {"BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": enabled}});
        let (status, resp) = self.request(Method::PATCH, &uri, Some(&body)).await?;
        match status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(PowerError::BadParams(format!(
                "no such system: {}",
                uri.path()
            ))),
            StatusCode::METHOD_NOT_ALLOWED => Err(PowerError::Unsupported(format!(
                "PATCH {}: HTTP {status}",
                uri.path()
            ))),
            StatusCode::CONFLICT => Err(PowerError::Busy(format!(
                "PATCH {}: HTTP {status} {}",
                uri.path(),
                snippet(&resp)
            ))),
            _ => Err(PowerError::Protocol(format!(
                "PATCH {} (boot {target} {enabled}): HTTP {status} {}",
                uri.path(),
                snippet(&resp)
            ))),
        }
    }
}

impl Drop for Redfish {
    /// Close the session, if one was opened (BMCs have few session slots).
    fn drop(&mut self) {
        let Ok(mut auth) = self.auth.try_lock() else {
            return;
        };
        let Auth::Session {
            token,
            location: Some(location),
        } = std::mem::replace(&mut *auth, Auth::Unknown)
        else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let req = self.client.delete(location).header("X-Auth-Token", token);
        handle.spawn(async move {
            if let Err(e) = req.send().await {
                tracing::debug!("redfish: closing the session failed: {e}");
            }
        });
    }
}
