//! `qemu` driver (being written).

use crate::{BootDevice, Params, PowerDriver, PowerError, PowerState};
use async_trait::async_trait;

pub struct Qemu;

impl Qemu {
    pub fn from_params(_params: &Params) -> Result<Self, PowerError> {
        Err(PowerError::Unsupported("the qemu driver is not available yet".into()))
    }
}

#[async_trait]
impl PowerDriver for Qemu {
    async fn power_on(&self) -> Result<(), PowerError> {
        Err(PowerError::Unsupported("qemu".into()))
    }
    async fn power_off(&self) -> Result<(), PowerError> {
        Err(PowerError::Unsupported("qemu".into()))
    }
    async fn power_cycle(&self) -> Result<(), PowerError> {
        Err(PowerError::Unsupported("qemu".into()))
    }
    async fn query(&self) -> Result<PowerState, PowerError> {
        Err(PowerError::Unsupported("qemu".into()))
    }
    async fn set_boot_device(&self, _: BootDevice, _: bool) -> Result<(), PowerError> {
        Err(PowerError::Unsupported("qemu".into()))
    }
}
