//! `nodes/{id}/raids/` and `nodes/{id}/raid/{id}/`: a machine's RAID arrays in MAAS's shape
//! (the rules are `ingot_core::storage::raid`'s).

use crate::storage::{block_device_json, human, model_of, volumes};
use crate::{forms_id, no_content, not_found, ok_json, unknown_op, App, Req, Res};
use axum::http::Method;
use ingot_core::deploy::RaidLevel;
use ingot_core::storage::raid::RaidChange;
use ingot_core::storage::{StorageModel, Volume};
use ingot_region::model::{Machine, User};
use ingot_region::RegionError;
use serde_json::{json, Value};

pub(crate) fn raid_json(model: &StorageModel, m: &Machine, id: i64) -> Value {
    let Some(r) = model.raid(id) else {
        return Value::Null;
    };
    let sid = &m.system_id;
    let size = model.raid_size(id);
    let devs = |v: &[Volume]| {
        v.iter()
            .map(|d| block_device_json(model, m, *d))
            .collect::<Vec<_>>()
    };
    json!({
        "id": r.id, "uuid": r.uuid, "name": r.name, "level": r.level.as_str(),
        "devices": devs(&r.devices), "spare_devices": devs(&r.spares),
        "size": size, "human_size": human(size),
        "virtual_device": block_device_json(model, m, Volume::Raid(id)),
        "system_id": sid,
        "resource_uri": format!("{}/nodes/{sid}/raid/{id}/", crate::render::API),
    })
}

fn level(p: &ingot_wire::Params) -> Result<RaidLevel, RegionError> {
    let v = p.get("level").map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err(RegionError::field("level", "This field is required."));
    }
    RaidLevel::parse(v).ok_or_else(|| {
        RegionError::field(
            "level",
            format!(
                "Select a valid choice. {v} is not one of the available choices: {}.",
                RaidLevel::ALL.map(|l| l.as_str()).join(", ")
            ),
        )
    })
}

fn text(p: &ingot_wire::Params, n: &str) -> Option<String> {
    p.get(n)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}

/// `nodes/{id}/raids/` (id None) and `nodes/{id}/raid/{id}/`.
pub(crate) async fn raids(app: &App, r: &Req, u: &User, sid: &str, id: Option<&str>) -> Res {
    let reg = &app.region;
    let m = reg.machine_for(u, sid).await?;
    let model = model_of(&m);
    let p = r.params();
    let Some(id) = id else {
        return match (&r.method, r.op()) {
            (&Method::GET, None) => ok_json(Value::Array(
                model
                    .raids
                    .iter()
                    .map(|x| raid_json(&model, &m, x.id))
                    .collect(),
            )),
            (&Method::POST, None) => {
                let level = level(&p)?;
                let devices = volumes(&model, &p, "block_devices", "partitions")?;
                let spares = volumes(&model, &p, "spare_devices", "spare_partitions")?;
                let name = text(&p, "name");
                let raid_uuid = text(&p, "uuid");
                let (rid, _) = reg
                    .create_in_storage(
                        u,
                        sid,
                        &format!("Created a {} RAID", level.as_str()),
                        |m, gen, _| {
                            m.create_raid(name.as_deref(), raid_uuid, level, &devices, &spares, gen)
                        },
                    )
                    .await?;
                let m = reg.machine_for(u, sid).await?;
                ok_json(raid_json(&model_of(&m), &m, rid))
            }
            _ => Err(unknown_op(r)),
        };
    };
    let rid = forms_id(id)?;
    if model.raid(rid).is_none() {
        return Err(not_found("No RAID matches the given query."));
    }
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(raid_json(&model, &m, rid)),
        (&Method::PUT, None) => {
            let change = RaidChange {
                name: text(&p, "name"),
                uuid: text(&p, "uuid"),
                add_devices: volumes(&model, &p, "add_block_devices", "add_partitions")?,
                remove_devices: volumes(&model, &p, "remove_block_devices", "remove_partitions")?,
                add_spares: volumes(&model, &p, "add_spare_devices", "add_spare_partitions")?,
                remove_spares: volumes(
                    &model,
                    &p,
                    "remove_spare_devices",
                    "remove_spare_partitions",
                )?,
            };
            reg.edit_storage(u, sid, "Updated a RAID", |m, _, _| {
                m.update_raid(rid, &change)
            })
            .await?;
            let m = reg.machine_for(u, sid).await?;
            ok_json(raid_json(&model_of(&m), &m, rid))
        }
        (&Method::DELETE, None) => {
            reg.edit_storage(u, sid, "Deleted a RAID", |m, _, _| m.delete_raid(rid))
                .await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}
