//! The webhook driver against a small webhook server run by the test: it keeps a power state,
//! counts the on / off calls it receives and can demand a bearer token.

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use ingot_power::contract::{self, Observer};
use ingot_power::webhook::Webhook;
use ingot_power::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Hook {
    on: AtomicBool,
    /// Power-changing calls received (POST /on, POST /off).
    calls: AtomicUsize,
    /// When set, every request must carry `Authorization: Bearer <token>`.
    token: Option<String>,
    /// The last Authorization header seen.
    last_auth: Mutex<Option<String>>,
}

impl Hook {
    fn check(&self, h: &HeaderMap) -> Result<(), StatusCode> {
        let auth = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        *self.last_auth.lock().unwrap() = auth.clone();
        match &self.token {
            Some(t) if auth.as_deref() != Some(format!("Bearer {t}").as_str()) => {
                Err(StatusCode::UNAUTHORIZED)
            }
            _ => Ok(()),
        }
    }
}

type S = State<Arc<Hook>>;

async fn on(State(h): S, hd: HeaderMap) -> Result<&'static str, StatusCode> {
    h.check(&hd)?;
    h.calls.fetch_add(1, Ordering::SeqCst);
    h.on.store(true, Ordering::SeqCst);
    Ok("ok")
}

async fn off(State(h): S, hd: HeaderMap) -> Result<&'static str, StatusCode> {
    h.check(&hd)?;
    h.calls.fetch_add(1, Ordering::SeqCst);
    h.on.store(false, Ordering::SeqCst);
    Ok("ok")
}

async fn query(State(h): S, hd: HeaderMap) -> Result<String, StatusCode> {
    h.check(&hd)?;
    let s = if h.on.load(Ordering::SeqCst) {
        "running"
    } else {
        "stopped"
    };
    Ok(format!("{{\"name\": \"vm1\", \"status\": \"{s}\"}}"))
}

async fn garbage(State(h): S, hd: HeaderMap) -> Result<&'static str, StatusCode> {
    h.check(&hd)?;
    Ok("<html>the machine is feeling fine</html>")
}

async fn broken() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "database on fire")
}

/// Start the webhook server; returns its base URL and state.
async fn serve(token: Option<&str>) -> (String, Arc<Hook>) {
    let hook = Arc::new(Hook {
        token: token.map(str::to_string),
        ..Default::default()
    });
    let app = Router::new()
        .route("/on", post(on))
        .route("/off", post(off))
        .route("/query", get(query))
        .route("/garbage", get(garbage))
        .route("/broken", get(broken).post(broken))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hook)
}

fn params(kv: &[(&str, &str)]) -> Params {
    kv.iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

fn hook_params(base: &str, extra: &[(&str, &str)]) -> Params {
    let mut p = params(&[
        ("power_on_uri", &format!("{base}/on")),
        ("power_off_uri", &format!("{base}/off")),
        ("power_query_uri", &format!("{base}/query")),
    ]);
    p.extend(params(extra));
    p
}

struct HookObserver(Arc<Hook>);

#[async_trait]
impl Observer for HookObserver {
    async fn changes(&self) -> usize {
        self.0.calls.load(Ordering::SeqCst)
    }
    async fn actual_on(&self) -> Option<bool> {
        Some(self.0.on.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn contract_with_bearer_token() {
    let (base, hook) = serve(Some("s3cret")).await;
    let d = Webhook::from_params(&hook_params(
        &base,
        &[
            ("power_token", "s3cret"),
            ("power_user", "ignored"),
            ("power_pass", "ignored"),
        ],
    ))
    .unwrap();
    contract::check(&d, &HookObserver(hook.clone()), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        hook.last_auth.lock().unwrap().as_deref(),
        Some("Bearer s3cret")
    );
    // The build() route reaches the same driver.
    let d =
        ingot_power::build("webhook", &hook_params(&base, &[("power_token", "s3cret")])).unwrap();
    assert_eq!(d.query().await, Ok(PowerState::On));
}

#[tokio::test]
async fn power_on_while_on_sends_nothing_and_cycle_is_off_then_on() {
    let (base, hook) = serve(None).await;
    let d = Webhook::from_params(&hook_params(&base, &[])).unwrap();
    d.power_on().await.unwrap();
    assert_eq!(hook.calls.load(Ordering::SeqCst), 1);
    d.power_on().await.unwrap();
    d.power_on().await.unwrap();
    assert_eq!(
        hook.calls.load(Ordering::SeqCst),
        1,
        "power_on on a running machine called the webhook"
    );
    d.power_cycle().await.unwrap();
    assert_eq!(
        hook.calls.load(Ordering::SeqCst),
        3,
        "a cycle while on is off + on"
    );
    assert!(hook.on.load(Ordering::SeqCst));
    d.power_off().await.unwrap();
    d.power_cycle().await.unwrap();
    assert_eq!(
        hook.calls.load(Ordering::SeqCst),
        5,
        "a cycle while off is just on"
    );
    assert!(hook.on.load(Ordering::SeqCst));
}

#[tokio::test]
async fn basic_auth_is_sent() {
    let (base, hook) = serve(None).await;
    let d = Webhook::from_params(&hook_params(
        &base,
        &[("power_user", "admin"), ("power_pass", "pw")],
    ))
    .unwrap();
    assert_eq!(d.query().await, Ok(PowerState::Off));
    // base64("admin:pw")
    assert_eq!(
        hook.last_auth.lock().unwrap().as_deref(),
        Some("Basic YWRtaW46cHc=")
    );
}

#[tokio::test]
async fn wrong_or_missing_token_is_auth() {
    let (base, hook) = serve(Some("s3cret")).await;
    let d = Webhook::from_params(&hook_params(&base, &[("power_token", "wrong")])).unwrap();
    let t = Instant::now();
    assert!(
        matches!(d.query().await, Err(PowerError::Auth(_))),
        "query with a wrong token"
    );
    assert!(
        matches!(d.power_off().await, Err(PowerError::Auth(_))),
        "power_off with a wrong token"
    );
    assert!(
        matches!(d.power_on().await, Err(PowerError::Auth(_))),
        "power_on with a wrong token"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let d = Webhook::from_params(&hook_params(&base, &[])).unwrap();
    assert!(
        matches!(d.power_off().await, Err(PowerError::Auth(_))),
        "power_off without a token"
    );
    assert_eq!(hook.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn garbage_query_body_is_protocol_error() {
    let (base, _) = serve(None).await;
    let mut p = hook_params(&base, &[]);
    p.insert(
        "power_query_uri".into(),
        Value::String(format!("{base}/garbage")),
    );
    let d = Webhook::from_params(&p).unwrap();
    match d.query().await {
        Err(PowerError::Protocol(m)) => assert!(
            m.contains("feeling fine"),
            "the message should quote the body: {m}"
        ),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    // And power_on, which queries first, fails the same way rather than guessing.
    assert!(matches!(d.power_on().await, Err(PowerError::Protocol(_))));
}

#[tokio::test]
async fn server_error_is_busy() {
    let (base, _) = serve(None).await;
    let broken = format!("{base}/broken");
    let d = Webhook::from_params(&params(&[
        ("power_on_uri", &broken),
        ("power_off_uri", &broken),
        ("power_query_uri", &broken),
    ]))
    .unwrap();
    for r in [d.power_off().await, d.query().await.map(|_| ())] {
        match r {
            Err(e @ PowerError::Busy(_)) => assert!(e.is_transient()),
            other => panic!("expected Busy, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn custom_regexes_and_no_query_uri() {
    let (base, hook) = serve(None).await;
    // Regexes of the user's choosing.
    let d = Webhook::from_params(&hook_params(
        &base,
        &[
            ("power_on_regex", r#""status": "run"#),
            ("power_off_regex", "stop"),
        ],
    ))
    .unwrap();
    assert_eq!(d.query().await, Ok(PowerState::Off));
    // Without a query URI: query is unsupported, power_on just posts, boot device unsupported.
    let d = Webhook::from_params(&params(&[
        ("power_on_uri", &format!("{base}/on")),
        ("power_off_uri", &format!("{base}/off")),
    ]))
    .unwrap();
    assert!(matches!(d.query().await, Err(PowerError::Unsupported(_))));
    d.power_on().await.unwrap();
    assert!(hook.on.load(Ordering::SeqCst));
    assert!(matches!(
        d.set_boot_device(BootDevice::Pxe, false).await,
        Err(PowerError::Unsupported(_))
    ));
}

#[tokio::test]
async fn bad_params_and_unreachable() {
    assert!(matches!(
        Webhook::from_params(&params(&[("power_off_uri", "http://127.0.0.1:1/off")])),
        Err(PowerError::BadParams(_))
    ));
    assert!(matches!(
        Webhook::from_params(&params(&[
            ("power_on_uri", "nonsense"),
            ("power_off_uri", "http://x/off")
        ])),
        Err(PowerError::BadParams(_))
    ));
    let bad_re = params(&[
        ("power_on_uri", "http://x/on"),
        ("power_off_uri", "http://x/off"),
        ("power_on_regex", "("),
    ]);
    assert!(matches!(
        Webhook::from_params(&bad_re),
        Err(PowerError::BadParams(_))
    ));
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let d = Webhook::from_params(&hook_params(&base, &[])).unwrap();
    let t = Instant::now();
    match d.power_off().await {
        Err(e @ (PowerError::Unreachable(_) | PowerError::Timeout(_))) => assert!(e.is_transient()),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
