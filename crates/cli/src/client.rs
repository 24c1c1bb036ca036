//! Sending requests.

use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};

use crate::error::{CliError, Result};
use crate::oauth::Credentials;
use crate::request::PreparedRequest;

/// A response, fully read.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether the body is declared as JSON (`application/json`, `...+json`).
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|ct| {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
    }

    /// The body as text for messages, cut to `limit` characters.
    pub fn snippet(&self, limit: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        if text.chars().count() > limit {
            let cut: String = text.chars().take(limit).collect();
            format!("{cut}...")
        } else {
            text.to_string()
        }
    }
}

/// An HTTP client for one server.
pub struct Client {
    inner: reqwest::Client,
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The message of an error and all its causes.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        cur = c.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

fn connection_error(url: &str, e: &reqwest::Error) -> CliError {
    let mut message = error_chain(e);
    match ingot_tls::refusal(e) {
        Some(ingot_tls::Refusal::Trusted(why)) => message = why,
        Some(ingot_tls::Refusal::WebRoots(why)) => {
            message = format!(
                "the server's certificate is refused ({why}): log in again with \
                 '--cacerts FILE', the CA that signed it, or with '-k' to skip the check"
            )
        }
        None => {}
    }
    if e.is_timeout() {
        message = format!("timed out ({message})");
    }
    CliError::Connection {
        url: url.to_string(),
        message,
    }
}

impl Client {
    /// A client for requests to `server` that trusts its certificate as `trust` says (proxies
    /// from the environment are used, except for loopback servers).
    pub fn for_server(server: &Url, trust: &ingot_tls::Trust) -> Result<Client> {
        let mut builder = trust
            .client_builder()
            .map_err(|e| CliError::Client(e.to_string()))?
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("ingot-cli/", env!("CARGO_PKG_VERSION")));
        if is_loopback(server) {
            builder = builder.no_proxy();
        }
        let inner = builder
            .build()
            .map_err(|e| CliError::Client(error_chain(&e)))?;
        Ok(Client { inner })
    }

    /// Send `req`, signed with `credentials` when given, and read the whole response.
    pub async fn send(
        &self,
        req: &PreparedRequest,
        credentials: Option<&Credentials>,
    ) -> Result<Response> {
        let method = Method::from_bytes(req.method.as_bytes()).map_err(|_| {
            CliError::Usage(format!(
                "invalid HTTP method '{}' in the API description",
                req.method
            ))
        })?;
        let url = Url::parse(&req.url)
            .map_err(|e| CliError::Usage(format!("invalid URL '{}': {e}", req.url)))?;
        let mut builder = self.inner.request(method, url).header(
            ACCEPT,
            HeaderValue::from_static("application/json, */*;q=0.5"),
        );
        if let Some(creds) = credentials {
            let value = HeaderValue::from_str(&creds.authorization_now())
                .map_err(|_| CliError::InvalidApiKey)?;
            builder = builder.header(AUTHORIZATION, value);
        }
        if let Some(ct) = &req.content_type {
            let value = HeaderValue::from_str(ct)
                .map_err(|_| CliError::Usage(format!("invalid content type '{ct}'")))?;
            builder = builder.header(CONTENT_TYPE, value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|e| connection_error(&req.url, &e))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .map_err(|e| connection_error(&req.url, &e))?
            .to_vec();
        Ok(Response {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            content_type,
            body,
        })
    }

    /// A plain `GET` (optionally signed).
    pub async fn get(&self, url: &Url, credentials: Option<&Credentials>) -> Result<Response> {
        let req = PreparedRequest {
            method: "GET".to_string(),
            url: url.to_string(),
            content_type: None,
            body: None,
        };
        self.send(&req, credentials).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        let l = |s: &str| Url::parse(s).map(|u| is_loopback(&u)).unwrap_or(false);
        assert!(l("http://127.0.0.1:5240/MAAS/"));
        assert!(l("http://127.3.2.1/"));
        assert!(l("http://[::1]:80/"));
        assert!(l("http://LOCALHOST/"));
        assert!(!l("http://10.0.0.1/"));
        assert!(!l("http://example.com/"));
    }

    #[test]
    fn json_content_types() {
        let r = |ct: Option<&str>| Response {
            status: 200,
            reason: "OK".into(),
            content_type: ct.map(str::to_string),
            body: Vec::new(),
        };
        assert!(r(Some("application/json")).is_json());
        assert!(r(Some("Application/JSON; charset=utf-8")).is_json());
        assert!(r(Some("application/problem+json")).is_json());
        assert!(!r(Some("text/plain")).is_json());
        assert!(!r(None).is_json());
    }
}
