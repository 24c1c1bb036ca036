//! Power control: one driver interface, the drivers, and [`PowerControl`], which runs driver
//! operations with at most one in flight per BMC and retries transient failures with backoff
//! and jitter inside a deadline. Authentication, unsupported-operation and bad-parameter errors
//! fail at once.
//!
//! Semantics every driver keeps (checked by the contract tests in `tests/`):
//! * `power_on` means *ensure on*: it never cycles a machine that is already on.
//! * `power_cycle` is its own verb: a reset when on, a power-on when off.
//! * `query` answers on / off (or unknown where the BMC cannot tell); failures are errors, sorted
//!   into transient and permanent kinds.

pub mod contract;
pub mod ipmi;
pub mod manual;
pub mod qemu;
pub mod redfish;
pub mod redfish_inventory;
pub mod schema;
pub mod webhook;

use async_trait::async_trait;
pub use ingot_core::PowerState;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Driver parameters, by MAAS's names (`power_address`, `power_user`, …).
pub type Params = Map<String, Value>;

/// Where the machine boots next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootDevice {
    Pxe,
    Disk,
}

/// Why a power operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowerError {
    /// The BMC did not answer in time (transient).
    #[error("the BMC did not answer in time: {0}")]
    Timeout(String),
    /// The BMC is busy or temporarily refusing (transient).
    #[error("the BMC is busy: {0}")]
    Busy(String),
    /// The BMC cannot be reached right now: connection refused, no route (transient).
    #[error("cannot reach the BMC: {0}")]
    Unreachable(String),
    /// Wrong user, password or key (permanent).
    #[error("the BMC refused the credentials: {0}")]
    Auth(String),
    /// The BMC or driver cannot do this (permanent).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The power parameters are missing or malformed (permanent).
    #[error("invalid power parameters: {0}")]
    BadParams(String),
    /// The BMC answered something that makes no sense (permanent).
    #[error("unexpected answer from the BMC: {0}")]
    Protocol(String),
}

impl PowerError {
    /// Worth retrying: the same call may succeed in a moment.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PowerError::Timeout(_) | PowerError::Busy(_) | PowerError::Unreachable(_)
        )
    }
}

/// A power driver bound to one BMC (or one machine behind a BMC).
#[async_trait]
pub trait PowerDriver: Send + Sync {
    /// Ensure the machine is on. Never cycles a machine that is already on.
    async fn power_on(&self) -> Result<(), PowerError>;
    /// Hard power off.
    async fn power_off(&self) -> Result<(), PowerError>;
    /// Soft (ACPI) power off.
    async fn power_soft(&self) -> Result<(), PowerError> {
        Err(PowerError::Unsupported("soft power off".into()))
    }
    /// Reset a running machine, or power on one that is off.
    async fn power_cycle(&self) -> Result<(), PowerError>;
    /// The current power state.
    async fn query(&self) -> Result<PowerState, PowerError>;
    /// Where the machine boots next: once (`persistent == false`) or from now on.
    async fn set_boot_device(&self, dev: BootDevice, persistent: bool) -> Result<(), PowerError>;
}

/// An operation [`PowerControl`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    On,
    Off,
    Soft,
    Cycle,
    Query,
    Boot(BootDevice),
}

/// Build the driver for `power_type` with `params`. Unknown types are `BadParams`.
pub fn build(power_type: &str, params: &Params) -> Result<Box<dyn PowerDriver>, PowerError> {
    match power_type {
        "manual" => Ok(Box::new(manual::Manual)),
        "ipmi" => Ok(Box::new(ipmi::Ipmi::from_params(params)?)),
        "redfish" => Ok(Box::new(redfish::Redfish::from_params(params)?)),
        "webhook" => Ok(Box::new(webhook::Webhook::from_params(params)?)),
        "qemu" => Ok(Box::new(qemu::Qemu::from_params(params)?)),
        other => Err(PowerError::BadParams(format!(
            "unknown power type '{other}'"
        ))),
    }
}

/// The identity of the BMC behind a machine: operations on one BMC are never concurrent.
pub fn bmc_key(power_type: &str, params: &Params) -> String {
    let s = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match power_type {
        "webhook" => format!("webhook:{}", s("power_on_uri")),
        other => format!("{other}:{}", s("power_address")),
    }
}

/// How transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Give up retrying after this long (the last error is returned).
    pub deadline: Duration,
    /// First back-off; doubled each time up to `max_backoff`, with ±50 % jitter.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            deadline: Duration::from_secs(60),
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// Runs power operations: one in flight per BMC, transient failures retried with back-off
/// and jitter within the policy's deadline, permanent ones returned at once.
#[derive(Default, Debug)]
pub struct PowerControl {
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub policy: RetryPolicy,
    /// Operations finished, (driver, operation, "ok" or "error") → count (for the metrics).
    counts: std::sync::Mutex<std::collections::BTreeMap<(String, &'static str, &'static str), u64>>,
}

impl PowerControl {
    pub fn new(policy: RetryPolicy) -> PowerControl {
        PowerControl {
            locks: Default::default(),
            policy,
            counts: Default::default(),
        }
    }

    /// Operations finished: ((driver, operation, outcome), count).
    pub fn counts(&self) -> Vec<((String, &'static str, &'static str), u64)> {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn count(&self, key: &str, op: Op, ok: bool) {
        let driver = key.split(':').next().unwrap_or(key).to_string();
        let op = match op {
            Op::On => "on",
            Op::Off => "off",
            Op::Soft => "soft_off",
            Op::Cycle => "cycle",
            Op::Query => "query",
            Op::Boot(_) => "boot_device",
        };
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry((driver, op, if ok { "ok" } else { "error" }))
            .or_default() += 1;
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(key.to_string()).or_default().clone()
    }

    /// Run `f` while holding the lock of the BMC `key`, once (no retries): for requests that
    /// are not power operations, such as reading the hardware inventory.
    pub async fn exclusive<T>(&self, key: &str, f: impl std::future::Future<Output = T>) -> T {
        let lock = self.lock_for(key);
        let _guard = lock.lock().await;
        f.await
    }

    /// Run `op` on the machine's BMC. Returns the power state for `Query`.
    pub async fn run(
        &self,
        power_type: &str,
        params: &Params,
        op: Op,
    ) -> Result<Option<PowerState>, PowerError> {
        let driver = build(power_type, params)?;
        self.run_with(&bmc_key(power_type, params), driver.as_ref(), op)
            .await
    }

    /// Run `op` on an already built driver, under the lock for `key`.
    pub async fn run_with(
        &self,
        key: &str,
        driver: &dyn PowerDriver,
        op: Op,
    ) -> Result<Option<PowerState>, PowerError> {
        self.run_within(key, driver, op, self.policy.deadline).await
    }

    /// As [`PowerControl::run_with`], retrying transient failures only until `deadline`
    /// (an interactive query should not wait as long as a background operation).
    pub async fn run_within(
        &self,
        key: &str,
        driver: &dyn PowerDriver,
        op: Op,
        deadline: Duration,
    ) -> Result<Option<PowerState>, PowerError> {
        let lock = self.lock_for(key);
        let _guard = lock.lock().await;
        let start = tokio::time::Instant::now();
        let mut backoff = self.policy.first_backoff;
        loop {
            let r = match op {
                Op::On => driver.power_on().await.map(|_| None),
                Op::Off => driver.power_off().await.map(|_| None),
                Op::Soft => driver.power_soft().await.map(|_| None),
                Op::Cycle => driver.power_cycle().await.map(|_| None),
                Op::Query => driver.query().await.map(Some),
                Op::Boot(d) => driver.set_boot_device(d, false).await.map(|_| None),
            };
            match r {
                Err(e) if e.is_transient() && start.elapsed() + backoff < deadline => {
                    let jitter = 0.5 + rand::random::<f64>();
                    let wait = backoff.mul_f64(jitter);
                    tracing::debug!("{key}: {e}; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.policy.max_backoff);
                }
                other => {
                    self.count(key, op, other.is_ok());
                    return other;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A driver that fails with `err` the first `fail` times, counting calls and overlaps.
    struct Flaky {
        fail: usize,
        err: PowerError,
        calls: AtomicUsize,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
    }

    impl Flaky {
        fn new(fail: usize, err: PowerError) -> Flaky {
            Flaky {
                fail,
                err,
                calls: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
            }
        }
        async fn step(&self) -> Result<(), PowerError> {
            let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.fail {
                Err(self.err.clone())
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl PowerDriver for Flaky {
        async fn power_on(&self) -> Result<(), PowerError> {
            self.step().await
        }
        async fn power_off(&self) -> Result<(), PowerError> {
            self.step().await
        }
        async fn power_cycle(&self) -> Result<(), PowerError> {
            self.step().await
        }
        async fn query(&self) -> Result<PowerState, PowerError> {
            self.step().await.map(|_| PowerState::On)
        }
        async fn set_boot_device(&self, _: BootDevice, _: bool) -> Result<(), PowerError> {
            self.step().await
        }
    }

    fn fast() -> PowerControl {
        PowerControl::new(RetryPolicy {
            deadline: Duration::from_secs(2),
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        })
    }

    #[tokio::test]
    async fn transient_errors_are_retried() {
        let d = Flaky::new(3, PowerError::Timeout("t".into()));
        assert_eq!(
            fast().run_with("k", &d, Op::Query).await,
            Ok(Some(PowerState::On))
        );
        assert_eq!(d.calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn permanent_errors_fail_at_once() {
        for e in [
            PowerError::Auth("a".into()),
            PowerError::Unsupported("u".into()),
            PowerError::Protocol("p".into()),
            PowerError::BadParams("b".into()),
        ] {
            let d = Flaky::new(100, e.clone());
            assert_eq!(fast().run_with("k", &d, Op::On).await, Err(e));
            assert_eq!(d.calls.load(Ordering::SeqCst), 1);
        }
    }

    #[tokio::test]
    async fn transient_errors_give_up_at_the_deadline() {
        let d = Flaky::new(usize::MAX, PowerError::Busy("b".into()));
        let pc = PowerControl::new(RetryPolicy {
            deadline: Duration::from_millis(300),
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        });
        let t = std::time::Instant::now();
        assert!(matches!(
            pc.run_with("k", &d, Op::Off).await,
            Err(PowerError::Busy(_))
        ));
        assert!(
            t.elapsed() < Duration::from_millis(600),
            "{:?}",
            t.elapsed()
        );
        assert!(d.calls.load(Ordering::SeqCst) > 2);
    }

    #[tokio::test]
    async fn one_operation_in_flight_per_bmc() {
        let pc = Arc::new(fast());
        let d = Arc::new(Flaky::new(0, PowerError::Busy("b".into())));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (pc, d) = (pc.clone(), d.clone());
                tokio::spawn(async move { pc.run_with("same-bmc", d.as_ref(), Op::Query).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(d.max_in_flight.load(Ordering::SeqCst), 1);
        // Different BMCs do run concurrently.
        let d2 = Arc::new(Flaky::new(0, PowerError::Busy("b".into())));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (pc, d) = (pc.clone(), d2.clone());
                tokio::spawn(
                    async move { pc.run_with(&format!("bmc{i}"), d.as_ref(), Op::Query).await },
                )
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(d2.max_in_flight.load(Ordering::SeqCst) > 1);
    }
}
