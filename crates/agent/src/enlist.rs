//! Enlistment: the anonymous `POST {url}/api/2.0/machines/` a new machine makes.

use std::time::Duration;

/// What enlistment reports about the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enlistment {
    /// Debian architecture (`amd64`).
    pub architecture: String,
    /// MACs of the physical NICs; the boot MAC (when known) first.
    pub mac_addresses: Vec<String>,
    pub hardware_uuid: Option<String>,
}

impl Enlistment {
    /// Orders `macs` so that `boot_mac` (when it is among them) comes first.
    pub fn new(
        architecture: String,
        mut macs: Vec<String>,
        boot_mac: Option<&str>,
        hardware_uuid: Option<String>,
    ) -> Self {
        if let Some(boot) = boot_mac {
            if let Some(i) = macs.iter().position(|m| m == boot) {
                let m = macs.remove(i);
                macs.insert(0, m);
            }
        }
        Enlistment {
            architecture,
            mac_addresses: macs,
            hardware_uuid,
        }
    }
}

/// A request ready to send: where to and its `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRequest {
    pub url: String,
    pub body: String,
}

/// The enlistment request: `architecture`, one `mac_addresses` per MAC, `hardware_uuid`,
/// `commission=true`.
pub fn enlist_request(base_url: &str, e: &Enlistment) -> FormRequest {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("architecture", &e.architecture);
    for mac in &e.mac_addresses {
        form.append_pair("mac_addresses", mac);
    }
    if let Some(uuid) = &e.hardware_uuid {
        form.append_pair("hardware_uuid", uuid);
    }
    form.append_pair("commission", "true");
    FormRequest {
        url: format!("{}/api/2.0/machines/", base_url.trim_end_matches('/')),
        body: form.finish(),
    }
}

/// What the region answered to an enlistment (the reduced machine object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub system_id: Option<String>,
    pub status_name: Option<String>,
    /// Present when the region wants the enlistment's built-in commissioning scripts run
    /// now: the machine's credentials, `consumer_key:token_key:token_secret`.
    pub token: Option<String>,
}

impl Answer {
    /// Reads what it can; an answer that is not the expected JSON yields nothing to do.
    pub fn parse(body: &str) -> Answer {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Answer {
            system_id: field("system_id"),
            status_name: field("status_name"),
            token: field("enlistment_token"),
        }
    }
}

/// How a POST ended.
#[derive(Debug)]
pub enum PostError {
    /// The region answered with an error status (not retried unless 5xx).
    Status(u16, String),
    /// Still could not connect (or timed out) after every attempt.
    Unreachable(String),
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Status(s, body) => write!(f, "region answered {s}: {body}"),
            PostError::Unreachable(e) => write!(f, "region unreachable: {e}"),
        }
    }
}

/// POSTs the form anonymously, retrying connection errors, timeouts and 5xx answers with
/// exponential back-off (`first_delay`, doubled each time) up to `attempts` times. Returns the
/// response body on success.
pub async fn post_form(
    req: &FormRequest,
    attempts: u32,
    first_delay: Duration,
) -> Result<String, PostError> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("ingot-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PostError::Unreachable(e.to_string()))?;
    let mut delay = first_delay;
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        let sent = client
            .post(&req.url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(req.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                if status.is_success() {
                    return Ok(body);
                }
                if !status.is_server_error() {
                    return Err(PostError::Status(status.as_u16(), body));
                }
                last = format!("{status}: {body}");
            }
            Err(e) => last = format!("{e:#}"),
        }
        if attempt < attempts {
            tracing::warn!(attempt, error = %last, retry_in = ?delay, "POST {} failed", req.url);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
    Err(PostError::Unreachable(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_enlist_request() {
        let e = Enlistment::new(
            "amd64".into(),
            vec!["52:54:00:00:00:01".into(), "52:54:00:00:00:02".into()],
            Some("52:54:00:00:00:02"),
            Some("8c2a1e3f-0000-4000-8000-000000000001".into()),
        );
        let r = enlist_request("http://10.0.0.1:5240/MAAS/", &e);
        assert_eq!(r.url, "http://10.0.0.1:5240/MAAS/api/2.0/machines/");
        assert_eq!(
            r.body,
            "architecture=amd64&mac_addresses=52%3A54%3A00%3A00%3A00%3A02&mac_addresses=52%3A54%3A00%3A00%3A00%3A01\
             &hardware_uuid=8c2a1e3f-0000-4000-8000-000000000001&commission=true"
        );
        let pairs: Vec<(String, String)> = form_urlencoded::parse(r.body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let macs: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == "mac_addresses")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(macs, ["52:54:00:00:00:02", "52:54:00:00:00:01"]);
    }

    #[test]
    fn reads_the_enlistment_answer() {
        let a = Answer::parse(
            r#"{"system_id": "abc123", "status_name": "Commissioning", "enlistment_token": "c:k:s"}"#,
        );
        assert_eq!(a.system_id.as_deref(), Some("abc123"));
        assert_eq!(a.status_name.as_deref(), Some("Commissioning"));
        assert_eq!(a.token.as_deref(), Some("c:k:s"));
        // A machine the region already knew: no credentials, nothing more to do.
        let a = Answer::parse(r#"{"system_id": "abc123", "status_name": "New"}"#);
        assert_eq!(a.token, None);
        assert_eq!(Answer::parse("<html>"), Answer::default());
    }

    #[test]
    fn without_uuid_or_boot_mac() {
        let e = Enlistment::new(
            "arm64".into(),
            vec!["aa:bb:cc:dd:ee:ff".into()],
            Some("11:11:11:11:11:11"),
            None,
        );
        let r = enlist_request("http://r/MAAS", &e);
        assert_eq!(
            r.body,
            "architecture=arm64&mac_addresses=aa%3Abb%3Acc%3Add%3Aee%3Aff&commission=true"
        );
    }

    #[tokio::test]
    async fn unreachable_region_is_retried_then_reported() {
        // A port nothing listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let req = FormRequest {
            url: format!("http://127.0.0.1:{port}/MAAS/api/2.0/machines/"),
            body: String::new(),
        };
        let t = std::time::Instant::now();
        let err = post_form(&req, 3, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, PostError::Unreachable(_)), "{err}");
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "two back-offs: 50 + 100 ms"
        );
    }
}
