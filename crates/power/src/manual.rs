//! `manual`: no control. The machine is powered by a person; its state is unknown.

use crate::{BootDevice, PowerDriver, PowerError, PowerState};
use async_trait::async_trait;

pub struct Manual;

#[async_trait]
impl PowerDriver for Manual {
    async fn power_on(&self) -> Result<(), PowerError> {
        Ok(())
    }
    async fn power_off(&self) -> Result<(), PowerError> {
        Ok(())
    }
    async fn power_cycle(&self) -> Result<(), PowerError> {
        Ok(())
    }
    async fn query(&self) -> Result<PowerState, PowerError> {
        Ok(PowerState::Unknown)
    }
    async fn set_boot_device(&self, _: BootDevice, _: bool) -> Result<(), PowerError> {
        Ok(())
    }
}
