//! What the region's tests share: a region on a fresh in-process SQLite with an administrator
//! and a user, form parameters, the kind of a refusal, and a new machine.
#![allow(dead_code)]

use ingot_region::forms;
use ingot_region::model::{Machine, User};
use ingot_region::{Principal, Region, RegionError};
use ingot_store::Store;
use ingot_wire::Params;

pub struct Lab {
    pub region: Region,
    pub admin: User,
    pub user: User,
    /// Where the region's SQLite file is (`region.sqlite`).
    pub dir: tempfile::TempDir,
}

pub async fn lab() -> Lab {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("region.sqlite").display());
    let region = Region::new(Store::open(&url).await.expect("open the database"));
    let admin = region
        .create_admin("admin", "pw-admin", "admin@example.com")
        .await
        .expect("admin");
    let user = region
        .create_user("alice", "pw-alice", "alice@example.com", false)
        .await
        .expect("user");
    Lab {
        region,
        admin,
        user,
        dir,
    }
}

pub fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (*k, v.as_bytes().to_vec()))
        .collect()
}

/// The kind of a refusal, as the API will show it.
pub fn kind(e: &RegionError) -> String {
    match e {
        RegionError::Fields(f) => {
            format!("field {}", f.keys().cloned().collect::<Vec<_>>().join(","))
        }
        RegionError::BadRequest(_) => "bad request".into(),
        RegionError::Unauthorized(_) => "unauthorized".into(),
        RegionError::Forbidden(_) => "forbidden".into(),
        RegionError::NotFound(_) => "not found".into(),
        RegionError::Conflict(_) => "conflict".into(),
        RegionError::Setting(ingot_core::settings::SettingError::Unknown { .. }) => {
            "field name".into()
        }
        RegionError::Setting(_) => "field value".into(),
        RegionError::Action(_) => "action".into(),
        RegionError::Storage(_) => "storage".into(),
        RegionError::Unavailable(_) => "unavailable".into(),
        other => format!("{other:?}"),
    }
}

pub async fn machine(l: &Lab, mac: &str) -> Machine {
    let who = Principal::User(l.admin.clone());
    let p = params(&[
        ("architecture", "amd64/generic"),
        ("mac_addresses", mac),
        ("power_type", "manual"),
    ]);
    forms::create_machine(&l.region, &who, &p)
        .await
        .expect("create a machine")
        .machine
}

/// `action` on machine `system_id` as the administrator, with the default options.
pub async fn act(
    l: &Lab,
    system_id: &str,
    action: ingot_core::actions::Action,
) -> Result<Machine, RegionError> {
    l.region
        .act(
            &l.admin,
            system_id,
            action,
            &ingot_core::actions::ActionOptions::default(),
            None,
        )
        .await
}
