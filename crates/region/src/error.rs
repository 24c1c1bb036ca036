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
