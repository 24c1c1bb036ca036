//! Storage in MAAS 2.0's shape: `nodes/{id}/blockdevices/` (physical disks, logical volumes,
//! bcaches), `…/blockdevices/{id}/partitions/`, `…/volume-groups/`, `…/bcache-cache-sets/`,
//! `…/bcaches/` (collections plural, items singular as MAAS has them; both accepted), and the
//! block-device JSON the machine object embeds. RAIDs: [`crate::raids`].

use crate::{bad, forms_id, no_content, not_found, ok_json, unknown_op, App, Req, Res};
use axum::http::Method;
use ingot_core::deploy::{CacheMode, FsType, PartitionTable};
use ingot_core::storage::changes::BcacheChange;
use ingot_core::storage::{StorageError, StorageModel, Volume};
use ingot_region::model::{Machine, User};
use ingot_region::storage::{id_param, parse_cache_mode, size_param};
use ingot_region::{forms, RegionError};
use ingot_wire::Params;
use serde_json::{json, Value};

const API: &str = crate::render::API;

/// The model of a loaded machine (objects on vanished disks left out).
pub fn model_of(m: &Machine) -> StorageModel {
    ingot_region::storage::storage_model(m)
}

fn fs_json(model: &StorageModel, v: Volume) -> Value {
    match model.filesystem_on(v) {
        None => Value::Null,
        Some(f) => json!({
            "fstype": f.fstype.as_str(), "label": f.label, "uuid": f.uuid,
            "mount_point": f.mount_point, "mount_options": f.mount_options,
        }),
    }
}

pub fn partition_json(model: &StorageModel, sid: &str, id: i64) -> Value {
    let Some(p) = model.partition(id) else {
        return Value::Null;
    };
    let v = Volume::Partition(id);
    let name = model.name_of(v);
    json!({
        "id": p.id, "uuid": p.uuid, "type": "partition", "name": name,
        "path": format!("/dev/disk/by-dname/{name}"), "size": p.size, "bootable": p.bootable,
        "filesystem": fs_json(model, v), "used_for": model.used_for(v), "tags": p.tags,
        "device_id": p.disk, "system_id": sid,
        "resource_uri": format!("{API}/nodes/{sid}/blockdevices/{}/partition/{}", p.disk, p.id),
    })
}

/// A block device (physical disk, logical volume, bcache or RAID) in MAAS's shape.
pub fn block_device_json(model: &StorageModel, m: &Machine, v: Volume) -> Value {
    let sid = m.system_id.as_str();
    let size = model.size_of(v);
    let used = model.used_size(v);
    let name = model.name_of(v);
    let (id, mut o) = match v {
        Volume::Disk(id) => {
            let b = m.block_devices.iter().find(|b| b.id == id);
            let table = model.table(id).map(|t| match t.table {
                PartitionTable::Gpt => "GPT",
                PartitionTable::Msdos => "MBR",
            });
            (
                id,
                json!({
                    "type": "physical", "path": format!("/dev/disk/by-dname/{name}"),
                    "id_path": b.map(|b| b.id_path.as_str()), "model": b.map(|b| b.model.as_str()),
                    "serial": b.map(|b| b.serial.as_str()),
                    "block_size": b.map(|b| b.block_size), "tags": b.map(|b| b.tags.clone()).unwrap_or_default(),
                    "firmware_version": b.map(|b| b.firmware_version.as_str()),
                    "numa_node": b.map(|b| b.numa_node),
                    "uuid": null, "partition_table_type": table,
                    "partitions": model.partitions_of(id).iter().map(|p| partition_json(model, sid, p.id)).collect::<Vec<_>>(),
                }),
            )
        }
        Volume::LogicalVolume(id) => {
            let l = model.lv(id);
            let g = l.and_then(|l| model.vg(l.vg));
            (
                id,
                json!({
                    "type": "virtual", "path": format!("/dev/disk/by-dname/{name}"),
                    "id_path": null, "model": "", "serial": "", "block_size": 4096, "tags": [],
                    "uuid": l.map(|l| l.uuid.as_str()), "partition_table_type": null, "partitions": [],
                    "parent": g.map(|g| json!({"id": g.id, "uuid": g.uuid, "type": "lvm-vg"})),
                }),
            )
        }
        Volume::Bcache(id) => {
            let b = model.bcache(id);
            (
                id,
                json!({
                    "type": "virtual", "path": format!("/dev/disk/by-dname/{name}"),
                    "id_path": null, "model": "", "serial": "", "block_size": 4096, "tags": [],
                    "uuid": b.map(|b| b.uuid.as_str()), "partition_table_type": null, "partitions": [],
                    "parent": b.map(|b| json!({"id": b.id, "uuid": b.uuid, "type": "bcache"})),
                }),
            )
        }
        Volume::Raid(id) => {
            let r = model.raid(id);
            (
                id,
                json!({
                    "type": "virtual", "path": format!("/dev/disk/by-dname/{name}"),
                    "id_path": null, "model": "", "serial": "", "block_size": 4096, "tags": [],
                    "uuid": r.map(|r| r.uuid.as_str()), "partition_table_type": null, "partitions": [],
                    "parent": r.map(|r| json!({"id": r.id, "uuid": r.uuid, "type": r.level.as_str()})),
                }),
            )
        }
        Volume::Partition(id) => return partition_json(model, sid, id),
    };
    if let Some(obj) = o.as_object_mut() {
        for (k, val) in [
            ("id", json!(id)),
            ("name", json!(name)),
            ("size", json!(size)),
            ("used_size", json!(used)),
            ("available_size", json!(size.saturating_sub(used))),
            ("used_for", json!(model.used_for(v))),
            ("filesystem", fs_json(model, v)),
            ("storage_pool", Value::Null),
            ("system_id", json!(sid)),
            (
                "resource_uri",
                json!(format!("{API}/nodes/{sid}/blockdevices/{id}/")),
            ),
        ] {
            obj.insert(k.into(), val);
        }
    }
    o
}

/// The virtual block devices: RAIDs, logical volumes, bcaches.
pub fn virtual_devices(model: &StorageModel) -> Vec<Volume> {
    let mut v: Vec<Volume> = model.raids.iter().map(|r| Volume::Raid(r.id)).collect();
    v.extend(
        model
            .logical_volumes
            .iter()
            .map(|l| Volume::LogicalVolume(l.id)),
    );
    v.extend(model.bcaches.iter().map(|b| Volume::Bcache(b.id)));
    v
}

fn vg_json(model: &StorageModel, m: &Machine, id: i64) -> Value {
    let Some(g) = model.vg(id) else {
        return Value::Null;
    };
    let sid = &m.system_id;
    let size = model.vg_size(id);
    let free = model.vg_free(id);
    json!({
        "id": g.id, "name": g.name, "uuid": g.uuid, "size": size, "available_size": free,
        "used_size": size - free, "human_size": human(size),
        "devices": g.devices.iter().map(|d| block_device_json(model, m, *d)).collect::<Vec<_>>(),
        "logical_volumes": model.lvs_of(id).iter().map(|l| block_device_json(model, m, Volume::LogicalVolume(l.id))).collect::<Vec<_>>(),
        "system_id": sid,
        "resource_uri": format!("{API}/nodes/{sid}/volume-group/{id}/"),
    })
}

fn cache_set_json(model: &StorageModel, m: &Machine, id: i64) -> Value {
    let Some(c) = model.cache_set(id) else {
        return Value::Null;
    };
    let sid = &m.system_id;
    json!({
        "id": c.id, "name": c.name, "cache_device": block_device_json(model, m, c.device),
        "system_id": sid, "resource_uri": format!("{API}/nodes/{sid}/bcache-cache-set/{id}/"),
    })
}

fn bcache_json(model: &StorageModel, m: &Machine, id: i64) -> Value {
    let Some(b) = model.bcache(id) else {
        return Value::Null;
    };
    let sid = &m.system_id;
    json!({
        "id": b.id, "name": b.name, "uuid": b.uuid, "size": model.size_of(Volume::Bcache(id)),
        "human_size": human(model.size_of(Volume::Bcache(id))),
        "cache_mode": cache_mode_str(b.cache_mode),
        "backing_device": block_device_json(model, m, b.backing),
        "cache_set": cache_set_json(model, m, b.cache_set),
        "virtual_device": block_device_json(model, m, Volume::Bcache(id)),
        "system_id": sid, "resource_uri": format!("{API}/nodes/{sid}/bcache/{id}/"),
    })
}

fn cache_mode_str(c: CacheMode) -> &'static str {
    match c {
        CacheMode::Writeback => "writeback",
        CacheMode::Writethrough => "writethrough",
        CacheMode::Writearound => "writearound",
    }
}

pub(crate) fn human(n: u64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// `volume_groups` / `cache_sets` / `bcaches` / `raids` as the machine object shows them.
pub fn machine_extras(model: &StorageModel, m: &Machine) -> (Value, Value, Value, Value) {
    (
        Value::Array(
            model
                .volume_groups
                .iter()
                .map(|g| vg_json(model, m, g.id))
                .collect(),
        ),
        Value::Array(
            model
                .cache_sets
                .iter()
                .map(|c| cache_set_json(model, m, c.id))
                .collect(),
        ),
        Value::Array(
            model
                .bcaches
                .iter()
                .map(|b| bcache_json(model, m, b.id))
                .collect(),
        ),
        Value::Array(
            model
                .raids
                .iter()
                .map(|r| crate::raids::raid_json(model, m, r.id))
                .collect(),
        ),
    )
}

fn fstype(p: &Params) -> Result<FsType, RegionError> {
    let v = p.get("fstype").map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err(RegionError::field("fstype", "This field is required."));
    }
    FsType::parse(v).ok_or_else(|| {
        RegionError::field(
            "fstype",
            format!("'{v}' is not a supported filesystem: ext4, ext2, vfat, xfs, swap."),
        )
    })
}

fn opt(p: &Params, n: &str) -> Option<String> {
    p.get(n)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}

/// format / unformat / mount / unmount on a volume; the edit's description.
async fn volume_op(
    app: &App,
    r: &Req,
    u: &User,
    sid: &str,
    v: Volume,
    name: &str,
    op: &str,
) -> Result<(), crate::ApiError> {
    let p = r.params();
    let reg = &app.region;
    match op {
        "format" => {
            let fs = fstype(&p)?;
            let label = opt(&p, "label");
            let fs_uuid = opt(&p, "uuid");
            reg.edit_storage(
                u,
                sid,
                &format!("Formatted {name} as {}", fs.as_str()),
                |m, gen, _| m.format(v, fs, label, fs_uuid, gen),
            )
            .await?;
        }
        "unformat" => {
            reg.edit_storage(u, sid, &format!("Unformatted {name}"), |m, _, _| {
                m.unformat(v)
            })
            .await?;
        }
        "mount" => {
            let mp = p.get("mount_point").unwrap_or_default().to_string();
            let options = opt(&p, "mount_options");
            reg.edit_storage(u, sid, &format!("Mounted {name} at {mp}"), |m, _, _| {
                m.mount(v, &mp, options)
            })
            .await?;
        }
        "unmount" => {
            reg.edit_storage(u, sid, &format!("Unmounted {name}"), |m, _, _| m.unmount(v))
                .await?;
        }
        _ => return Err(unknown_op(r)),
    }
    Ok(())
}

fn missing(what: &str) -> StorageError {
    StorageError::NotFound(format!("No {what} matches the given query."))
}

/// `nodes/{id}/blockdevices/` and `nodes/{id}/blockdevices/{id}/`.
pub(crate) async fn block_devices(
    app: &App,
    r: &Req,
    u: &User,
    sid: &str,
    id: Option<&str>,
) -> Res {
    let reg = &app.region;
    let Some(id) = id else {
        if r.method == Method::POST && r.op().is_none() {
            let did = reg.create_disk(u, sid, &r.params()).await?;
            let m = reg.machine_for(u, sid).await?;
            return ok_json(block_device_json(&model_of(&m), &m, Volume::Disk(did)));
        }
        if r.method != Method::GET || r.op().is_some() {
            return Err(unknown_op(r));
        }
        let m = reg.machine_for(u, sid).await?;
        let model = model_of(&m);
        let mut out: Vec<Value> = model
            .disks
            .iter()
            .map(|d| block_device_json(&model, &m, Volume::Disk(d.id)))
            .collect();
        out.extend(
            virtual_devices(&model)
                .into_iter()
                .map(|v| block_device_json(&model, &m, v)),
        );
        return ok_json(Value::Array(out));
    };
    let id = forms_id(id)?;
    let m = reg.machine_for(u, sid).await?;
    let model = model_of(&m);
    let v = model
        .block_device(id)
        .ok_or_else(|| not_found("No BlockDevice matches the given query."))?;
    let name = model.name_of(v);
    match (&r.method, r.op()) {
        (&Method::GET, None) => {}
        (&Method::DELETE, None) => {
            match v {
                Volume::LogicalVolume(l) => {
                    reg.edit_storage(u, sid, "Deleted a logical volume", |m, _, _| {
                        m.delete_logical_volume(l)
                    })
                    .await?;
                }
                Volume::Bcache(b) => {
                    reg.edit_storage(u, sid, "Deleted a bcache", |m, _, _| m.delete_bcache(b))
                        .await?;
                }
                Volume::Raid(x) => {
                    reg.edit_storage(u, sid, "Deleted a RAID", |m, _, _| m.delete_raid(x))
                        .await?;
                }
                Volume::Disk(d) => reg.delete_disk(u, sid, d).await?,
                _ => return Err(bad("Delete a partition through its partition/ resource.")),
            }
            return no_content();
        }
        (&Method::POST, Some("set_boot_disk")) => {
            let Volume::Disk(d) = v else {
                return Err(bad("Only a physical block device can be the boot disk."));
            };
            reg.edit_storage(u, sid, "Set the boot disk", |m, _, _| m.set_boot_disk(d))
                .await?;
            return ok_json(json!("OK"));
        }
        (&Method::POST, Some(op @ ("format" | "unformat" | "mount" | "unmount"))) => {
            volume_op(app, r, u, sid, v, &name, op).await?;
        }
        (&Method::PUT, None) => {
            let p = r.params();
            match v {
                Volume::Disk(d) => reg.update_disk(u, sid, d, &p).await?,
                // A logical volume or bcache is changed through what makes it; an update that
                // changes nothing (python-libmaas saving only tags) just reads it.
                _ => {
                    if let Some(f) = ["name", "uuid", "size"].into_iter().find(|f| p.contains(f)) {
                        return Err(RegionError::field(
                            f,
                            "A virtual block device's name, UUID and size are set when it is created.",
                        )
                        .into());
                    }
                }
            }
        }
        (&Method::POST, Some(op @ ("add_tag" | "remove_tag"))) => {
            let p = r.params();
            let tag = p
                .get("tag")
                .ok_or_else(|| RegionError::field("tag", "This field is required."))?;
            reg.tag_block_device(u, sid, id, tag, op == "add_tag")
                .await?;
        }
        _ => return Err(unknown_op(r)),
    }
    let m = reg.machine_for(u, sid).await?;
    ok_json(block_device_json(&model_of(&m), &m, v))
}

/// `…/blockdevices/{id}/partitions/` and `…/blockdevices/{id}/partition/{id}`.
pub(crate) async fn partitions(
    app: &App,
    r: &Req,
    u: &User,
    sid: &str,
    disk: &str,
    id: Option<&str>,
) -> Res {
    let reg = &app.region;
    let disk = forms_id(disk)?;
    let m = reg.machine_for(u, sid).await?;
    let model = model_of(&m);
    if model.disk(disk).is_none() {
        return Err(not_found("No BlockDevice matches the given query."));
    }
    let Some(id) = id else {
        return match (&r.method, r.op()) {
            (&Method::GET, None) => ok_json(Value::Array(
                model
                    .partitions_of(disk)
                    .iter()
                    .map(|p| partition_json(&model, sid, p.id))
                    .collect(),
            )),
            (&Method::POST, None) => {
                let p = r.params();
                let size = size_param(&p, "size")?;
                let bootable = p.get_bool("bootable")?.unwrap_or(false);
                let (pid, model) = reg
                    .create_in_storage(u, sid, "Created a partition", |m, gen, uefi| {
                        m.add_partition(disk, size, bootable, uefi, gen)
                    })
                    .await?;
                ok_json(partition_json(&model, sid, pid))
            }
            _ => Err(unknown_op(r)),
        };
    };
    let pid = forms_id(id)?;
    if !matches!(model.partition(pid), Some(p) if p.disk == disk) {
        return Err(not_found("No Partition matches the given query."));
    }
    match (&r.method, r.op()) {
        (&Method::GET, None) => {}
        (&Method::DELETE, None) => {
            reg.edit_storage(u, sid, "Deleted a partition", |m, _, _| {
                m.delete_partition(pid)
            })
            .await?;
            return no_content();
        }
        (&Method::POST, Some(op @ ("format" | "unformat" | "mount" | "unmount"))) => {
            volume_op(
                app,
                r,
                u,
                sid,
                Volume::Partition(pid),
                &model.name_of(Volume::Partition(pid)),
                op,
            )
            .await?;
        }
        (&Method::POST, Some(op @ ("add_tag" | "remove_tag"))) => {
            let p = r.params();
            let tag = p.get("tag").unwrap_or_default().to_string();
            let add = op == "add_tag";
            reg.edit_storage(u, sid, &format!("Partition tag {op}: {tag}"), |m, _, _| {
                m.tag_partition(pid, &tag, add)
            })
            .await?;
        }
        _ => return Err(unknown_op(r)),
    }
    let m = reg.machine_for(u, sid).await?;
    ok_json(partition_json(&model_of(&m), sid, pid))
}

/// Block device and partition ids of a form (`block_devices`, `partitions`), as volumes.
pub(crate) fn volumes(
    model: &StorageModel,
    p: &Params,
    bd: &str,
    part: &str,
) -> Result<Vec<Volume>, RegionError> {
    let mut out = Vec::new();
    for s in forms::list(p, bd) {
        let id: i64 = s
            .parse()
            .map_err(|_| RegionError::field(bd, format!("'{s}' is not an id.")))?;
        let v = model.block_device(id).ok_or_else(|| {
            RegionError::field(bd, format!("{id} is not a block device of this machine."))
        })?;
        out.push(v);
    }
    for s in forms::list(p, part) {
        let id: i64 = s
            .parse()
            .map_err(|_| RegionError::field(part, format!("'{s}' is not an id.")))?;
        if model.partition(id).is_none() {
            return Err(RegionError::field(
                part,
                format!("{id} is not a partition of this machine."),
            ));
        }
        out.push(Volume::Partition(id));
    }
    Ok(out)
}

/// `nodes/{id}/volume-groups/` and `nodes/{id}/volume-group/{id}/`.
pub(crate) async fn volume_groups(
    app: &App,
    r: &Req,
    u: &User,
    sid: &str,
    id: Option<&str>,
) -> Res {
    let reg = &app.region;
    let m = reg.machine_for(u, sid).await?;
    let model = model_of(&m);
    let p = r.params();
    let Some(id) = id else {
        return match (&r.method, r.op()) {
            (&Method::GET, None) => ok_json(Value::Array(
                model
                    .volume_groups
                    .iter()
                    .map(|g| vg_json(&model, &m, g.id))
                    .collect(),
            )),
            (&Method::POST, None) => {
                let name = p.get("name").unwrap_or_default().to_string();
                if name.trim().is_empty() {
                    return Err(RegionError::field("name", "This field is required.").into());
                }
                let devs = volumes(&model, &p, "block_devices", "partitions")?;
                let (gid, _) = reg
                    .create_in_storage(
                        u,
                        sid,
                        &format!("Created volume group {name}"),
                        |m, gen, _| m.create_volume_group(&name, &devs, gen),
                    )
                    .await?;
                let m = reg.machine_for(u, sid).await?;
                ok_json(vg_json(&model_of(&m), &m, gid))
            }
            _ => Err(unknown_op(r)),
        };
    };
    let gid = forms_id(id)?;
    if model.vg(gid).is_none() {
        return Err(not_found("No VolumeGroup matches the given query."));
    }
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(vg_json(&model, &m, gid)),
        (&Method::PUT, None) => {
            let add = volumes(&model, &p, "add_block_devices", "add_partitions")?;
            let remove = volumes(&model, &p, "remove_block_devices", "remove_partitions")?;
            let name = p.get("name").map(String::from);
            reg.edit_storage(u, sid, "Updated a volume group", |m, _, _| {
                m.update_volume_group(gid, name.as_deref(), &add, &remove)
            })
            .await?;
            let m = reg.machine_for(u, sid).await?;
            ok_json(vg_json(&model_of(&m), &m, gid))
        }
        (&Method::DELETE, None) => {
            reg.edit_storage(u, sid, "Deleted a volume group", |m, _, _| {
                m.delete_volume_group(gid, false)
            })
            .await?;
            no_content()
        }
        (&Method::POST, Some("create_logical_volume")) => {
            let name = p.get("name").unwrap_or_default().to_string();
            if name.trim().is_empty() {
                return Err(RegionError::field("name", "This field is required.").into());
            }
            let size = size_param(&p, "size")?;
            let (lid, _) = reg
                .create_in_storage(
                    u,
                    sid,
                    &format!("Created logical volume {name}"),
                    |m, gen, _| m.create_logical_volume(gid, &name, size, gen),
                )
                .await?;
            let m = reg.machine_for(u, sid).await?;
            ok_json(block_device_json(
                &model_of(&m),
                &m,
                Volume::LogicalVolume(lid),
            ))
        }
        (&Method::POST, Some("delete_logical_volume")) => {
            let lid = id_param(&p, "id")?
                .ok_or_else(|| RegionError::field("id", "This field is required."))?;
            if !matches!(model.lv(lid), Some(l) if l.vg == gid) {
                return Err(not_found(
                    "No logical volume with that id in this volume group.",
                ));
            }
            reg.edit_storage(u, sid, "Deleted a logical volume", |m, _, _| {
                m.delete_logical_volume(lid)
            })
            .await?;
            let m = reg.machine_for(u, sid).await?;
            ok_json(vg_json(&model_of(&m), &m, gid))
        }
        _ => Err(unknown_op(r)),
    }
}

/// At most one device of a form: `NAME_device` (a block device) or `NAME_partition`.
fn maybe_volume(
    model: &StorageModel,
    p: &Params,
    bd: &str,
    part: &str,
) -> Result<Option<Volume>, RegionError> {
    if forms::list(p, bd).is_empty() && forms::list(p, part).is_empty() {
        return Ok(None);
    }
    one_volume(model, p, bd, part).map(Some)
}

/// One device of a form: `NAME_device` (a block device) or `NAME_partition`.
fn one_volume(
    model: &StorageModel,
    p: &Params,
    bd: &str,
    part: &str,
) -> Result<Volume, RegionError> {
    let v = volumes(model, p, bd, part)?;
    match v.as_slice() {
        [one] => Ok(*one),
        [] => Err(RegionError::field(
            bd,
            format!("Either {bd} or {part} must be given."),
        )),
        _ => Err(RegionError::field(
            bd,
            format!("Give one of {bd} and {part}, once."),
        )),
    }
}

/// `nodes/{id}/bcache-cache-sets/` and `nodes/{id}/bcache-cache-set/{id}/`.
pub(crate) async fn cache_sets(app: &App, r: &Req, u: &User, sid: &str, id: Option<&str>) -> Res {
    let reg = &app.region;
    let m = reg.machine_for(u, sid).await?;
    let model = model_of(&m);
    let p = r.params();
    let Some(id) = id else {
        return match (&r.method, r.op()) {
            (&Method::GET, None) => ok_json(Value::Array(
                model
                    .cache_sets
                    .iter()
                    .map(|c| cache_set_json(&model, &m, c.id))
                    .collect(),
            )),
            (&Method::POST, None) => {
                let dev = one_volume(&model, &p, "cache_device", "cache_partition")?;
                let (cid, _) = reg
                    .create_in_storage(u, sid, "Created a bcache cache set", |m, _, _| {
                        m.create_cache_set(dev)
                    })
                    .await?;
                let m = reg.machine_for(u, sid).await?;
                ok_json(cache_set_json(&model_of(&m), &m, cid))
            }
            _ => Err(unknown_op(r)),
        };
    };
    let cid = forms_id(id)?;
    if model.cache_set(cid).is_none() {
        return Err(missing("CacheSet").into_api());
    }
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(cache_set_json(&model, &m, cid)),
        (&Method::PUT, None) => {
            if let Some(dev) = maybe_volume(&model, &p, "cache_device", "cache_partition")? {
                reg.edit_storage(u, sid, "Updated a bcache cache set", |m, _, _| {
                    m.update_cache_set(cid, dev)
                })
                .await?;
            }
            let m = reg.machine_for(u, sid).await?;
            ok_json(cache_set_json(&model_of(&m), &m, cid))
        }
        (&Method::DELETE, None) => {
            reg.edit_storage(u, sid, "Deleted a bcache cache set", |m, _, _| {
                m.delete_cache_set(cid)
            })
            .await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}

/// `nodes/{id}/bcaches/` and `nodes/{id}/bcache/{id}/`.
pub(crate) async fn bcaches(app: &App, r: &Req, u: &User, sid: &str, id: Option<&str>) -> Res {
    let reg = &app.region;
    let m = reg.machine_for(u, sid).await?;
    let model = model_of(&m);
    let p = r.params();
    let Some(id) = id else {
        return match (&r.method, r.op()) {
            (&Method::GET, None) => ok_json(Value::Array(
                model
                    .bcaches
                    .iter()
                    .map(|b| bcache_json(&model, &m, b.id))
                    .collect(),
            )),
            (&Method::POST, None) => {
                let backing = one_volume(&model, &p, "backing_device", "backing_partition")?;
                let cs = id_param(&p, "cache_set")?
                    .ok_or_else(|| RegionError::field("cache_set", "This field is required."))?;
                let mode = match opt(&p, "cache_mode") {
                    Some(v) => parse_cache_mode("cache_mode", &v)?,
                    None => {
                        return Err(
                            RegionError::field("cache_mode", "This field is required.").into()
                        )
                    }
                };
                let name = opt(&p, "name");
                let (bid, _) = reg
                    .create_in_storage(u, sid, "Created a bcache", |m, gen, _| {
                        m.create_bcache(name.as_deref(), backing, cs, mode, gen)
                    })
                    .await?;
                let m = reg.machine_for(u, sid).await?;
                ok_json(bcache_json(&model_of(&m), &m, bid))
            }
            _ => Err(unknown_op(r)),
        };
    };
    let bid = forms_id(id)?;
    if model.bcache(bid).is_none() {
        return Err(missing("Bcache").into_api());
    }
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(bcache_json(&model, &m, bid)),
        (&Method::PUT, None) => {
            let change = BcacheChange {
                name: opt(&p, "name"),
                uuid: opt(&p, "uuid"),
                cache_set: id_param(&p, "cache_set")?,
                backing: maybe_volume(&model, &p, "backing_device", "backing_partition")?,
                cache_mode: opt(&p, "cache_mode")
                    .map(|v| parse_cache_mode("cache_mode", &v))
                    .transpose()?,
            };
            reg.edit_storage(u, sid, "Updated a bcache", |m, _, _| {
                m.update_bcache(bid, &change)
            })
            .await?;
            let m = reg.machine_for(u, sid).await?;
            ok_json(bcache_json(&model_of(&m), &m, bid))
        }
        (&Method::DELETE, None) => {
            reg.edit_storage(u, sid, "Deleted a bcache", |m, _, _| m.delete_bcache(bid))
                .await?;
            no_content()
        }
        _ => Err(unknown_op(r)),
    }
}

trait IntoApi {
    fn into_api(self) -> crate::ApiError;
}

impl IntoApi for StorageError {
    fn into_api(self) -> crate::ApiError {
        crate::ApiError(self.into())
    }
}
