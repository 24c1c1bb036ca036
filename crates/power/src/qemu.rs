//! `qemu` driver: a virtual machine's power, through its QMP socket.
//!
//! `power_address` names the QMP socket: a unix socket path (`/run/vm1.qmp`, optionally written
//! `unix:/run/vm1.qmp`) or `host:port` for TCP (optionally `tcp:host:port`).
//!
//! The VM is expected to run with `-S -no-shutdown`, so that QEMU outlives the guest and a
//! stopped VM is a VM with its power off:
//! * `query-status` `running` is on; `prelaunch`, `paused`, `shutdown`, `guest-panicked`,
//!   `suspended` (and every other state whose vCPUs do not run) are off.
//! * power on: nothing when running; otherwise `system_reset` (unless the VM is in `prelaunch`,
//!   i.e. freshly reset already) then `cont`, so the guest boots from scratch like a real
//!   machine powered on.
//! * power off: `stop` then `system_reset`; the VM waits in `prelaunch` for the next power on.
//! * soft off: `system_powerdown` (an ACPI power button press) when running.
//! * power cycle: `system_reset` when running, a power on otherwise.
//! * boot device: QMP has no boot-order command; the HMP `boot_set n` / `boot_set c` (through
//!   `human-monitor-command`) sets the firmware boot order for the following boots of this QEMU
//!   process. It is not one-shot: `persistent == false` still sets it until it is set again.
//!   Devices with an explicit `bootindex` take precedence over it (QEMU's rule).
//!
//! One connection per operation (a QMP server socket serves one client at a time): connect,
//! read the greeting, `qmp_capabilities`, the commands, disconnect. Asynchronous events arriving
//! meanwhile are skipped. Every operation has a deadline (5 s by default).

use crate::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use async_trait::async_trait;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};

/// How long one whole operation (connect, handshake, commands) may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest QMP message accepted, in bytes (QEMU's answers here are a few hundred bytes).
const MAX_LINE: u64 = 1 << 20;

/// Where the QMP socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QmpAddress {
    Unix(PathBuf),
    /// `host:port`, as given (an IPv6 host in brackets).
    Tcp(String),
}

impl QmpAddress {
    /// Parse a `power_address`: `unix:PATH`, `tcp:HOST:PORT`, `HOST:PORT` (a numeric port and no
    /// `/`), or else a unix socket path.
    pub fn parse(s: &str) -> Result<QmpAddress, PowerError> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(PowerError::BadParams(
                    "power_address 'unix:' names no socket".into(),
                ));
            }
            return Ok(QmpAddress::Unix(PathBuf::from(path)));
        }
        if let Some(hp) = s.strip_prefix("tcp:") {
            return match Self::host_port(hp) {
                Some(a) => Ok(a),
                None => Err(PowerError::BadParams(format!(
                    "power_address '{s}' is not tcp:HOST:PORT"
                ))),
            };
        }
        if s.is_empty() {
            return Err(PowerError::BadParams("power_address is empty".into()));
        }
        if !s.contains('/') {
            if let Some(a) = Self::host_port(s) {
                return Ok(a);
            }
        }
        Ok(QmpAddress::Unix(PathBuf::from(s)))
    }

    fn host_port(s: &str) -> Option<QmpAddress> {
        let (host, port) = s.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if bare.is_empty() || port == 0 || bare.chars().any(|c| c.is_whitespace() || c == '/') {
            return None;
        }
        Some(QmpAddress::Tcp(format!("{host}:{port}")))
    }
}

impl std::fmt::Display for QmpAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QmpAddress::Unix(p) => write!(f, "unix:{}", p.display()),
            QmpAddress::Tcp(hp) => write!(f, "tcp:{hp}"),
        }
    }
}

/// The driver for one VM.
#[derive(Debug, Clone)]
pub struct Qemu {
    addr: QmpAddress,
    timeout: Duration,
}

impl Qemu {
    /// From MAAS-style parameters: `power_address` (required).
    pub fn from_params(params: &Params) -> Result<Self, PowerError> {
        let addr = match params.get("power_address") {
            Some(Value::String(s)) => QmpAddress::parse(s)?,
            Some(_) => {
                return Err(PowerError::BadParams(
                    "power_address must be a string".into(),
                ))
            }
            None => {
                return Err(PowerError::BadParams(
                    "power_address (the QMP socket) is required".into(),
                ))
            }
        };
        Ok(Qemu {
            addr,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    pub fn new(addr: QmpAddress) -> Qemu {
        Qemu {
            addr,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Change the per-operation deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Qemu {
        self.timeout = timeout;
        self
    }

    pub fn address(&self) -> &QmpAddress {
        &self.addr
    }

    /// Run `act` on a fresh QMP session, within the operation's deadline.
    async fn run(&self, act: Act) -> Result<Option<PowerState>, PowerError> {
        let work = async {
            let mut s = Session::connect(&self.addr).await?;
            act.apply(&mut s).await
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(PowerError::Timeout(format!(
                "{} on {} took more than {:?} (is another client holding the QMP socket?)",
                act.name(),
                self.addr,
                self.timeout
            ))),
        }
    }
}

/// QEMU run states (`query-status`), sorted into on and off.
fn state_of(status: &Value) -> Result<(String, PowerState), PowerError> {
    let name = status.get("status").and_then(Value::as_str);
    let running = status.get("running").and_then(Value::as_bool);
    let state = match (name, running) {
        (Some("running"), _) => PowerState::On,
        (Some("paused" | "prelaunch" | "shutdown" | "guest-panicked" | "suspended"), _) => {
            PowerState::Off
        }
        (Some(_), Some(true)) => PowerState::On,
        (Some(_), Some(false)) => PowerState::Off,
        (Some(_), None) => PowerState::Unknown,
        (None, _) => {
            return Err(PowerError::Protocol(format!(
                "query-status answered without a status: {status}"
            )))
        }
    };
    Ok((name.unwrap_or_default().to_string(), state))
}

/// One driver operation, as QMP commands.
#[derive(Debug, Clone, Copy)]
enum Act {
    On,
    Off,
    Soft,
    Cycle,
    Query,
    /// `boot_set` with this boot order (`n` network, `c` first disk).
    Boot(&'static str),
}

impl Act {
    fn name(self) -> &'static str {
        match self {
            Act::On => "power on",
            Act::Off => "power off",
            Act::Soft => "soft power off",
            Act::Cycle => "power cycle",
            Act::Query => "query",
            Act::Boot(_) => "set boot device",
        }
    }

    async fn apply(self, s: &mut Session) -> Result<Option<PowerState>, PowerError> {
        match self {
            Act::Query => Ok(Some(s.status().await?.1)),
            Act::On => {
                let (name, state) = s.status().await?;
                if state != PowerState::On {
                    s.start(&name).await?;
                }
                Ok(None)
            }
            Act::Off => {
                s.execute("stop", None).await?;
                s.execute("system_reset", None).await?;
                Ok(None)
            }
            Act::Soft => {
                // An ACPI button press queued on a stopped VM would fire at its next power on.
                if s.status().await?.1 == PowerState::On {
                    s.execute("system_powerdown", None).await?;
                }
                Ok(None)
            }
            Act::Cycle => {
                let (name, state) = s.status().await?;
                if state == PowerState::On {
                    s.execute("system_reset", None).await?;
                } else {
                    s.start(&name).await?;
                }
                Ok(None)
            }
            Act::Boot(order) => {
                let args = json!({ "command-line": format!("boot_set {order}") });
                let out = match s.execute("human-monitor-command", Some(args)).await {
                    Ok(v) => v,
                    Err(PowerError::Protocol(m) | PowerError::Unsupported(m)) => {
                        return Err(PowerError::Unsupported(format!("boot_set {order}: {m}")))
                    }
                    Err(e) => return Err(e),
                };
                // HMP reports failures as text ("Error: ..."), not as QMP errors.
                let text = out.as_str().unwrap_or_default().trim();
                if text.starts_with("boot device list now set to") {
                    Ok(None)
                } else {
                    let text = if text.is_empty() { "no answer" } else { text };
                    Err(PowerError::Unsupported(format!("boot_set {order}: {text}")))
                }
            }
        }
    }
}

fn done(r: Result<Option<PowerState>, PowerError>) -> Result<(), PowerError> {
    r.map(|_| ())
}

#[async_trait]
impl PowerDriver for Qemu {
    async fn power_on(&self) -> Result<(), PowerError> {
        done(self.run(Act::On).await)
    }

    async fn power_off(&self) -> Result<(), PowerError> {
        done(self.run(Act::Off).await)
    }

    async fn power_soft(&self) -> Result<(), PowerError> {
        done(self.run(Act::Soft).await)
    }

    async fn power_cycle(&self) -> Result<(), PowerError> {
        done(self.run(Act::Cycle).await)
    }

    async fn query(&self) -> Result<PowerState, PowerError> {
        match self.run(Act::Query).await? {
            Some(state) => Ok(state),
            None => Err(PowerError::Protocol("query-status gave no state".into())),
        }
    }

    async fn set_boot_device(&self, dev: BootDevice, persistent: bool) -> Result<(), PowerError> {
        let order = match dev {
            BootDevice::Pxe => "n",
            BootDevice::Disk => "c",
        };
        if !persistent {
            tracing::debug!(
                "qemu {}: boot order '{order}' lasts until changed (QEMU has no one-shot boot_set)",
                self.addr
            );
        }
        done(self.run(Act::Boot(order)).await)
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One QMP connection, past the capabilities negotiation.
struct Session {
    io: BufReader<Box<dyn Io>>,
    next_id: u64,
    addr: String,
}

impl Session {
    async fn connect(addr: &QmpAddress) -> Result<Session, PowerError> {
        let unreachable = |e: std::io::Error| {
            PowerError::Unreachable(format!("cannot connect to the QMP socket {addr}: {e}"))
        };
        let io: Box<dyn Io> = match addr {
            QmpAddress::Unix(p) => Box::new(UnixStream::connect(p).await.map_err(unreachable)?),
            QmpAddress::Tcp(hp) => {
                let s = TcpStream::connect(hp.as_str()).await.map_err(unreachable)?;
                // Small request/answer exchanges: do not wait to fill packets.
                let _ = s.set_nodelay(true);
                Box::new(s)
            }
        };
        let mut s = Session {
            io: BufReader::new(io),
            next_id: 0,
            addr: addr.to_string(),
        };
        let greeting = s.read_message().await?;
        if greeting.get("QMP").is_none() {
            return Err(PowerError::Protocol(format!(
                "{} did not greet like a QMP server: {}",
                s.addr,
                Value::Object(greeting)
            )));
        }
        s.execute("qmp_capabilities", None).await?;
        Ok(s)
    }

    /// The run state, by name, and what it means for power.
    async fn status(&mut self) -> Result<(String, PowerState), PowerError> {
        let v = self.execute("query-status", None).await?;
        state_of(&v)
    }

    /// Start a VM that is not running: reset it first unless it sits freshly reset in
    /// `prelaunch`, so the guest boots from scratch.
    async fn start(&mut self, state: &str) -> Result<(), PowerError> {
        if state != "prelaunch" {
            self.execute("system_reset", None).await?;
        }
        self.execute("cont", None).await?;
        Ok(())
    }

    /// The next JSON object from the server.
    async fn read_message(&mut self) -> Result<Map<String, Value>, PowerError> {
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut self.io)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| PowerError::Unreachable(format!("reading from {}: {e}", self.addr)))?;
            if n == 0 {
                return Err(PowerError::Unreachable(format!(
                    "{} closed the QMP connection",
                    self.addr
                )));
            }
            if line.last() != Some(&b'\n') {
                return Err(if n as u64 >= MAX_LINE {
                    PowerError::Protocol(format!(
                        "{} sent a message longer than {MAX_LINE} bytes",
                        self.addr
                    ))
                } else {
                    // Every QMP message ends with a newline: the connection broke mid-message.
                    PowerError::Unreachable(format!(
                        "{} closed the QMP connection in the middle of a message",
                        self.addr
                    ))
                });
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let v: Value = serde_json::from_slice(&line).map_err(|e| {
                let text = String::from_utf8_lossy(&line);
                let text: String = text.trim().chars().take(200).collect();
                PowerError::Protocol(format!(
                    "{} sent something that is not JSON ({e}): {text:?}",
                    self.addr
                ))
            })?;
            return match v {
                Value::Object(m) => Ok(m),
                other => Err(PowerError::Protocol(format!(
                    "{} sent a JSON message that is not an object: {other}",
                    self.addr
                ))),
            };
        }
    }

    /// Run one command; answer its `return` value. Events that arrive meanwhile are skipped.
    async fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, PowerError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut req = json!({ "execute": command, "id": id });
        if let (Some(args), Some(obj)) = (arguments, req.as_object_mut()) {
            obj.insert("arguments".into(), args);
        }
        let mut bytes = req.to_string().into_bytes();
        bytes.push(b'\n');
        let write = async {
            self.io.get_mut().write_all(&bytes).await?;
            self.io.get_mut().flush().await
        };
        write
            .await
            .map_err(|e| PowerError::Unreachable(format!("writing to {}: {e}", self.addr)))?;
        loop {
            let mut m = self.read_message().await?;
            if m.contains_key("event") {
                tracing::trace!(
                    "qemu {}: event {:?} while waiting for {command}",
                    self.addr,
                    m.get("event")
                );
                continue;
            }
            if let Some(got) = m.get("id") {
                if got != &json!(id) {
                    return Err(PowerError::Protocol(format!(
                        "{} answered id {got} to {command} (id {id})",
                        self.addr
                    )));
                }
            }
            if let Some(v) = m.remove("return") {
                return Ok(v);
            }
            if let Some(err) = m.get("error") {
                let class = err.get("class").and_then(Value::as_str).unwrap_or("?");
                let desc = err.get("desc").and_then(Value::as_str).unwrap_or("");
                return Err(match class {
                    "CommandNotFound" => PowerError::Unsupported(format!("{command}: {desc}")),
                    _ => PowerError::Protocol(format!(
                        "{command} failed on {}: {class}: {desc}",
                        self.addr
                    )),
                });
            }
            return Err(PowerError::Protocol(format!(
                "{} answered {command} with {}",
                self.addr,
                Value::Object(m)
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let u = |p: &str| Ok(QmpAddress::Unix(PathBuf::from(p)));
        let t = |a: &str| Ok(QmpAddress::Tcp(a.to_string()));
        assert_eq!(QmpAddress::parse("/run/vm.qmp"), u("/run/vm.qmp"));
        assert_eq!(QmpAddress::parse("unix:/run/vm.qmp"), u("/run/vm.qmp"));
        assert_eq!(QmpAddress::parse("vm.qmp"), u("vm.qmp"));
        assert_eq!(QmpAddress::parse("10.0.0.5:4444"), t("10.0.0.5:4444"));
        assert_eq!(QmpAddress::parse("tcp:vmhost:4444"), t("vmhost:4444"));
        assert_eq!(QmpAddress::parse("[::1]:4444"), t("[::1]:4444"));
        assert!(matches!(
            QmpAddress::parse(""),
            Err(PowerError::BadParams(_))
        ));
        assert!(matches!(
            QmpAddress::parse("unix:"),
            Err(PowerError::BadParams(_))
        ));
        assert!(matches!(
            QmpAddress::parse("tcp:nohost"),
            Err(PowerError::BadParams(_))
        ));
    }

    #[test]
    fn states() {
        let st =
            |s: &str| state_of(&json!({ "status": s, "running": s == "running" })).map(|x| x.1);
        assert_eq!(st("running"), Ok(PowerState::On));
        for s in [
            "paused",
            "prelaunch",
            "shutdown",
            "guest-panicked",
            "suspended",
            "io-error",
        ] {
            assert_eq!(st(s), Ok(PowerState::Off), "{s}");
        }
        assert!(matches!(state_of(&json!({})), Err(PowerError::Protocol(_))));
    }
}
