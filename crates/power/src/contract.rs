//! The driver contract, as one check that every driver's tests run against a real BMC (or
//! simulator). Each driver's test supplies an [`Observer`]: what the BMC side itself saw.

use crate::{BootDevice, PowerDriver, PowerError, PowerState};
use async_trait::async_trait;
use std::time::Duration;

/// What a test can see at the BMC, without going through the driver.
#[async_trait]
pub trait Observer: Send + Sync {
    /// How many power-changing operations (on, off, reset) the BMC has carried out so far.
    async fn changes(&self) -> usize;
    /// The BMC's own power state, if the observer can read it.
    async fn actual_on(&self) -> Option<bool>;
}

async fn wait_for(d: &dyn PowerDriver, want: PowerState, settle: Duration) -> Result<(), String> {
    let end = tokio::time::Instant::now() + settle;
    loop {
        let got = d.query().await.map_err(|e| format!("query failed: {e}"))?;
        if got == want {
            return Ok(());
        }
        if !matches!(got, PowerState::On | PowerState::Off) {
            return Err(format!(
                "query answered {got:?}; a controllable driver answers on or off"
            ));
        }
        if tokio::time::Instant::now() > end {
            return Err(format!(
                "still {got:?} {settle:?} after asking for {want:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn actual(obs: &dyn Observer, want: bool, step: &str) -> Result<(), String> {
    match obs.actual_on().await {
        Some(a) if a != want => Err(format!(
            "{step}: the BMC says power is {} but the driver says {}",
            on_off(a),
            on_off(want)
        )),
        _ => Ok(()),
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Run the contract. `settle` is how long the BMC may take to apply a change (Redfish BMCs
/// apply resets seconds later).
pub async fn check(
    d: &dyn PowerDriver,
    obs: &dyn Observer,
    settle: Duration,
) -> Result<(), String> {
    let e = |step: &'static str| move |err: PowerError| format!("{step}: {err}");
    // Off, and seen off.
    d.power_off().await.map_err(e("power_off"))?;
    wait_for(d, PowerState::Off, settle).await?;
    actual(obs, false, "after power_off").await?;
    // On, and seen on.
    d.power_on().await.map_err(e("power_on from off"))?;
    wait_for(d, PowerState::On, settle).await?;
    actual(obs, true, "after power_on").await?;
    // power_on on a running machine changes nothing: it never cycles it.
    let before = obs.changes().await;
    d.power_on().await.map_err(e("power_on while on"))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for(d, PowerState::On, settle).await?;
    let after = obs.changes().await;
    if after != before {
        return Err(format!(
            "power_on on a running machine changed its power {} time(s)",
            after - before
        ));
    }
    // power_cycle is its own verb: it resets a running machine.
    d.power_cycle().await.map_err(e("power_cycle while on"))?;
    wait_for(d, PowerState::On, settle).await?;
    if obs.changes().await <= after {
        return Err("power_cycle on a running machine did not reset it".into());
    }
    // From off, power_cycle powers on.
    d.power_off().await.map_err(e("power_off"))?;
    wait_for(d, PowerState::Off, settle).await?;
    d.power_cycle().await.map_err(e("power_cycle while off"))?;
    wait_for(d, PowerState::On, settle).await?;
    actual(obs, true, "after power_cycle from off").await?;
    // Boot device: PXE once (or a clear Unsupported).
    match d.set_boot_device(BootDevice::Pxe, false).await {
        Ok(()) | Err(PowerError::Unsupported(_)) => {}
        Err(err) => return Err(format!("set_boot_device(Pxe): {err}")),
    }
    Ok(())
}
