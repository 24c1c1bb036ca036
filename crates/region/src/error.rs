use std::collections::BTreeMap;

/// Every way a region operation can fail: the region's own refusals, and the domain errors of
/// the core and the store it passes on. The API edge maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    /// 400 with a `{field: [messages]}` body.
    #[error("invalid fields: {0:?}")]
    Fields(BTreeMap<String, Vec<String>>),
    /// 400 with a plain message.
    #[error("{0}")]
    BadRequest(String),
    /// 401
    #[error("{0}")]
    Unauthorized(String),
    /// 403
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409
    #[error("{0}")]
    Conflict(String),
    /// 413: the request body is larger than the region accepts.
    #[error("{0}")]
    TooLarge(String),
    /// 503: try again (e.g. the database kept changing under us).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] ingot_store::StoreError),
    /// The core refused an action on a machine.
    #[error(transparent)]
    Action(#[from] ingot_core::ActionError),
    /// A storage layout or edit is not possible.
    #[error(transparent)]
    Storage(#[from] ingot_core::storage::StorageError),
    /// A setting's name or value was refused.
    #[error(transparent)]
    Setting(#[from] ingot_core::settings::SettingError),
    /// A BMC did not do what was asked.
    #[error(transparent)]
    Power(#[from] PowerFailure),
    /// Some destinations of a clone were left as they were (the report says which, and which
    /// did change).
    #[error("{} destination(s) not cloned", .0.failed.len())]
    CloneFailed(Box<crate::clone::CloneReport>),
}

/// A BMC did not do what was asked: what was being done, and why it failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {cause}")]
pub struct PowerFailure {
    pub what: String,
    pub cause: String,
    /// The driver refused the machine's power parameters (the caller can correct them); else
    /// the BMC failed or did not answer (trying again later may work).
    pub bad_parameters: bool,
}

impl PowerFailure {
    pub fn new(what: impl Into<String>, e: &ingot_power::PowerError) -> PowerFailure {
        PowerFailure {
            what: what.into(),
            cause: e.to_string(),
            bad_parameters: matches!(e, ingot_power::PowerError::BadParams(_)),
        }
    }
}

impl RegionError {
    pub fn field(name: &str, msg: impl Into<String>) -> RegionError {
        let mut m = BTreeMap::new();
        m.insert(name.to_string(), vec![msg.into()]);
        RegionError::Fields(m)
    }
}

impl From<ingot_wire::WireError> for RegionError {
    fn from(e: ingot_wire::WireError) -> Self {
        match e {
            ingot_wire::WireError::InvalidField { field, message } => {
                RegionError::field(&field, message)
            }
            ingot_wire::WireError::TooLarge(m) => RegionError::TooLarge(m),
            other => RegionError::BadRequest(other.to_string()),
        }
    }
}

/// Collects field errors for a form.
#[derive(Debug, Default)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(msg.into());
    }
    pub fn check(self) -> Result<(), RegionError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(RegionError::Fields(self.0))
        }
    }
}
