//! `webhook` driver, as MAAS's: power on / off are POSTs to `power_on_uri` / `power_off_uri`;
//! the state is a GET of `power_query_uri` whose body is matched against `power_on_regex` and
//! `power_off_regex`. `power_token` is sent as `Authorization: Bearer`, else `power_user` /
//! `power_pass` as basic auth.

use crate::redfish::http_error;
use crate::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use async_trait::async_trait;
use regex::Regex;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::time::Duration;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Defaults of MAAS's webhook driver.
pub const DEFAULT_ON_REGEX: &str = r"status.*\:.*running";
pub const DEFAULT_OFF_REGEX: &str = r"status.*\:.*stopped";
/// `power_cycle` waits this long for the machine to read off before powering it on again.
const CYCLE_OFF_DEADLINE: Duration = Duration::from_secs(30);
const CYCLE_POLL_INTERVAL: Duration = Duration::from_millis(500);

enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

pub struct Webhook {
    client: reqwest::Client,
    on_uri: Url,
    off_uri: Url,
    query_uri: Option<Url>,
    on_re: Regex,
    off_re: Regex,
    auth: Auth,
    cycle_off_deadline: Duration,
}

fn param<'a>(params: &'a Params, key: &str) -> &'a str {
    params
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
}

fn uri(params: &Params, key: &str) -> Result<Option<Url>, PowerError> {
    let s = param(params, key);
    if s.is_empty() {
        return Ok(None);
    }
    let u = Url::parse(s).map_err(|e| PowerError::BadParams(format!("{key} '{s}': {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(PowerError::BadParams(format!(
            "{key} '{s}' is not an http(s) URI"
        )));
    }
    Ok(Some(u))
}

fn regex(params: &Params, key: &str, default: &str) -> Result<Regex, PowerError> {
    let s = Some(param(params, key))
        .filter(|s| !s.is_empty())
        .unwrap_or(default);
    Regex::new(s).map_err(|e| PowerError::BadParams(format!("{key} '{s}': {e}")))
}

fn snippet(body: &str) -> String {
    let s = body.trim();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s.to_string()
    }
}

impl Webhook {
    pub fn from_params(params: &Params) -> Result<Self, PowerError> {
        let on_uri = uri(params, "power_on_uri")?
            .ok_or_else(|| PowerError::BadParams("power_on_uri is required".into()))?;
        let off_uri = uri(params, "power_off_uri")?
            .ok_or_else(|| PowerError::BadParams("power_off_uri is required".into()))?;
        let query_uri = uri(params, "power_query_uri")?;
        let on_re = regex(params, "power_on_regex", DEFAULT_ON_REGEX)?;
        let off_re = regex(params, "power_off_regex", DEFAULT_OFF_REGEX)?;
        let token = param(params, "power_token");
        let user = param(params, "power_user");
        let pass = params
            .get("power_pass")
            .and_then(Value::as_str)
            .unwrap_or("");
        let auth = if !token.is_empty() {
            Auth::Bearer(token.to_string())
        } else if !user.is_empty() || !pass.is_empty() {
            Auth::Basic(user.to_string(), pass.to_string())
        } else {
            Auth::None
        };
        let verify = param(params, "power_verify_ssl").eq_ignore_ascii_case("y");
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .danger_accept_invalid_certs(!verify)
            .build()
            .map_err(|e| PowerError::BadParams(format!("cannot build the HTTP client: {e}")))?;
        Ok(Webhook {
            client,
            on_uri,
            off_uri,
            query_uri,
            on_re,
            off_re,
            auth,
            cycle_off_deadline: CYCLE_OFF_DEADLINE,
        })
    }

    /// How long `power_cycle` waits for the machine to read off before powering it on.
    pub fn with_cycle_deadline(mut self, deadline: Duration) -> Self {
        self.cycle_off_deadline = deadline;
        self
    }

    /// One request; the body of a 2xx answer, else the error the status means.
    async fn call(&self, method: Method, url: &Url) -> Result<String, PowerError> {
        let what = format!("{method} {url}");
        let mut req = self.client.request(method, url.clone());
        req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
        };
        let resp = req.send().await.map_err(|e| http_error(&what, &e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| http_error(&what, &e))?;
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(PowerError::Auth(format!("{what}: HTTP {status}")))
            }
            s if s.is_server_error()
                || s == StatusCode::TOO_MANY_REQUESTS
                || s == StatusCode::CONFLICT =>
            {
                Err(PowerError::Busy(format!(
                    "{what}: HTTP {status} {}",
                    snippet(&body)
                )))
            }
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Err(PowerError::BadParams(
                format!("{what}: HTTP {status} {}", snippet(&body)),
            )),
            _ => Err(PowerError::Protocol(format!(
                "{what}: HTTP {status} {}",
                snippet(&body)
            ))),
        }
    }

    async fn on(&self) -> Result<(), PowerError> {
        self.call(Method::POST, &self.on_uri).await.map(|_| ())
    }

    async fn off(&self) -> Result<(), PowerError> {
        self.call(Method::POST, &self.off_uri).await.map(|_| ())
    }
}

#[async_trait]
impl PowerDriver for Webhook {
    async fn power_on(&self) -> Result<(), PowerError> {
        if self.query_uri.is_some() && self.query().await? == PowerState::On {
            return Ok(());
        }
        self.on().await
    }

    async fn power_off(&self) -> Result<(), PowerError> {
        self.off().await
    }

    async fn power_cycle(&self) -> Result<(), PowerError> {
        if self.query_uri.is_none() {
            // Without a way to look, a cycle is off then on.
            self.off().await?;
            return self.on().await;
        }
        if self.query().await? == PowerState::On {
            self.off().await?;
            let end = tokio::time::Instant::now() + self.cycle_off_deadline;
            while self.query().await? != PowerState::Off {
                if tokio::time::Instant::now() + CYCLE_POLL_INTERVAL > end {
                    return Err(PowerError::Timeout(format!(
                        "still on {:?} after the power-off of a cycle",
                        self.cycle_off_deadline
                    )));
                }
                tokio::time::sleep(CYCLE_POLL_INTERVAL).await;
            }
        }
        self.on().await
    }

    async fn query(&self) -> Result<PowerState, PowerError> {
        let Some(url) = &self.query_uri else {
            return Err(PowerError::Unsupported(
                "no power_query_uri: the webhook cannot report the power state".into(),
            ));
        };
        let body = self.call(Method::GET, url).await?;
        if self.on_re.is_match(&body) {
            Ok(PowerState::On)
        } else if self.off_re.is_match(&body) {
            Ok(PowerState::Off)
        } else {
            Err(PowerError::Protocol(format!(
                "GET {url}: the answer matches neither power_on_regex ({}) nor power_off_regex ({}): {}",
                self.on_re.as_str(),
                self.off_re.as_str(),
                snippet(&body)
            )))
        }
    }

    async fn set_boot_device(&self, _: BootDevice, _: bool) -> Result<(), PowerError> {
        Err(PowerError::Unsupported(
            "a webhook cannot set the boot device".into(),
        ))
    }
}
