//! The one route table of API 2.0: every handler's path, what serves it, and its actions
//! (method × `op`) with their documentation. The router dispatches from it and the
//! `describe/` document is rendered from it (`routes.rs`), so the two cannot disagree: an
//! action is served if and only if it is described.

use crate::routes::{version, ActionDef, AnonDef, Call, HandlerDef, Serve};
use crate::{
    absent, boot_resources, boot_sources, catalog, devices, dns, events, files, machines, network,
    nodes, ok_json, rack, raids, repositories, reserved_ips, scripts, settings, storage, users,
    App, Req,
};
use ingot_region::model::NamedKind;
use ingot_region::Absent;

/// Actions: `name method op, doc[, params];` where params are the names of the parameters the
/// action takes, space-separated, `!` after a required one, `{key}` for free-form `key=value`.
macro_rules! ops {
    ($($name:literal $method:literal $op:expr, $doc:literal $(, $params:literal)?;)*) => {
        &[$(ActionDef {
            name: $name,
            method: $method,
            op: $op,
            doc: $doc,
            params: ops!(@params $($params)?),
        },)*]
    };
    (@params) => { "" };
    (@params $p:literal) => { $p };
}

/// A handler's serving function: `|app, request, call| body`, where `call` holds the caller
/// and the path's parameters in order.
macro_rules! serve {
    (|$app:ident, $r:ident, $c:ident| $body:expr) => {{
        #[allow(unused_variables)]
        fn serve<'a>($app: &'a App, $r: &'a Req, $c: &'a Call<'a>) -> crate::routes::Served<'a> {
            Box::pin(async move { $body })
        }
        serve as Serve
    }};
}

pub const AUTH_HANDLERS: &[HandlerDef] = &[
    HandlerDef {
        name: "VersionHandler",
        path: "/MAAS/api/2.0/version/",
        serve: serve!(|app, r, c| ok_json(version())),
        params: &[],
        doc: "Information about this server's version and capabilities.",
        actions: ops![
            "read" "GET" None, "Read version and capabilities.";
        ],
    },
    HandlerDef {
        name: "MachinesHandler",
        path: "/MAAS/api/2.0/machines/",
        serve: serve!(|app, r, c| machines::machines(app, r, c.who).await),
        params: &[],
        doc: "Manage the collection of all machines.",
        actions: ops![
            "read" "GET" None, "List machines, optionally filtered (hostname, mac_address, hardware_uuid, id, domain, zone, pool, status, arch, cpu_count, mem, agent_name).", "hostname mac_address hardware_uuid id domain zone pool status arch cpu_count mem agent_name";
            "create" "POST" None, "Create a machine (architecture, mac_addresses, hostname, power_type, power_parameters_*, commission, deployed, zone, pool, ...).", "architecture mac_addresses hostname description power_type power_parameters power_parameters_* commission deployed zone pool domain min_hwe_kernel";
            "allocate" "POST" Some("allocate"), "Allocate a Ready machine matching constraints (name, system_id, arch, not_arch, cpu_count, mem, tags, not_tags, zone, not_in_zone, pool, not_in_pool, storage, interfaces, subnets, not_subnets, fabrics, not_fabrics, fabric_classes, not_fabric_classes, devices, agent_name, comment, dry_run).", "name system_id arch not_arch cpu_count mem tags not_tags zone not_in_zone pool not_in_pool storage interfaces subnets not_subnets fabrics not_fabrics fabric_classes not_fabric_classes devices agent_name comment dry_run";
            "release" "POST" Some("release"), "Release several machines: machines=<system_id> (repeated), comment, erase, quick_erase, secure_erase.", "machines! comment erase quick_erase secure_erase";
            "clone" "POST" Some("clone"), "Clone a machine's storage and/or interfaces onto other machines: source=<system_id>, destinations=<system_id> (repeated or comma-separated; each Ready or Failed testing, administered by you), storage=true|false, interfaces=true|false. Each destination changes whole or not at all; 400 names every destination not cloned and why.", "source! destinations! storage interfaces";
            "list_allocated" "GET" Some("list_allocated"), "List the machines allocated to you.";
            "is_registered" "GET" Some("is_registered"), "Whether a MAC address is registered: mac_address.", "mac_address!";
            "set_zone" "POST" Some("set_zone"), "Move machines to a zone (admin): zone, nodes (system ids, repeated).", "zone! nodes!";
            "power_parameters" "GET" Some("power_parameters"), "Power parameters of several machines (admin): id (repeated).", "id";
            "accept" "POST" Some("accept"), "Accept declared machines (admin): machines (repeated).", "machines!";
            "accept_all" "POST" Some("accept_all"), "Accept all declared machines (admin).";
        ],
    },
    HandlerDef {
        name: "MachineHandler",
        path: "/MAAS/api/2.0/machines/{system_id}/",
        serve: serve!(|app, r, c| machines::machine(app, r, c.user()?, c.arg(0)).await),
        params: &["system_id"],
        doc: "Manage an individual machine.",
        actions: ops![
            "read" "GET" None, "Read a machine.";
            "update" "PUT" None, "Update a machine (hostname, description, domain, architecture, power_type, power_parameters_*, zone, pool, cpu_count, memory, mac_addresses).", "hostname description domain architecture power_type power_parameters power_parameters_* zone pool cpu_count memory mac_addresses";
            "delete" "DELETE" None, "Delete a machine (admin).";
            "commission" "POST" Some("commission"), "Commission a machine (admin): enable_ssh, skip_networking, skip_storage, commissioning_scripts, testing_scripts.", "enable_ssh skip_networking skip_storage commissioning_scripts testing_scripts";
            "test" "POST" Some("test"), "Run tests on a machine (admin): testing_scripts.", "testing_scripts enable_ssh";
            "abort" "POST" Some("abort"), "Abort the machine's current operation: comment.", "comment";
            "deploy" "POST" Some("deploy"), "Deploy an uploaded image (boot-resources/): distro_series (custom/NAME, NAME or os/series; default: default_distro_series, else the only image), osystem, hwe_kernel, user_data (base64), agent_name, comment.", "distro_series osystem hwe_kernel user_data agent_name comment";
            "release" "POST" Some("release"), "Release the machine: comment, erase, quick_erase, secure_erase (erase defaults to enable_disk_erasing_on_release; erasing runs wipe-disks in DISK_ERASING).", "comment erase quick_erase secure_erase";
            "mark_broken" "POST" Some("mark_broken"), "Mark the machine broken: comment.", "comment";
            "mark_fixed" "POST" Some("mark_fixed"), "Mark a broken machine fixed (admin): comment.", "comment";
            "rescue_mode" "POST" Some("rescue_mode"), "Boot the machine into rescue mode (admin).";
            "exit_rescue_mode" "POST" Some("exit_rescue_mode"), "Leave rescue mode (admin).";
            "lock" "POST" Some("lock"), "Lock a deployed machine against changes: comment.", "comment";
            "unlock" "POST" Some("unlock"), "Unlock a machine: comment.", "comment";
            "power_on" "POST" Some("power_on"), "Power the machine on (never cycles a running machine): user_data, comment.", "user_data comment";
            "power_off" "POST" Some("power_off"), "Power the machine off: stop_mode, comment.", "stop_mode comment";
            "query_power_state" "GET" Some("query_power_state"), "Query the machine's power state.";
            "power_parameters" "GET" Some("power_parameters"), "Read the machine's power parameters (admin).";
            "override_failed_testing" "POST" Some("override_failed_testing"), "Ignore failed tests and make the machine usable (admin): comment.", "comment";
            "set_workload_annotations" "POST" Some("set_workload_annotations"), "Set key=value workload annotations (empty value deletes).", "{key}";
            "set_owner_data" "POST" Some("set_owner_data"), "Deprecated alias of set_workload_annotations.", "{key}";
            "get_token" "GET" Some("get_token"), "The machine's own credentials (its owner only; an administrator only while it has no owner): they allow nothing but its metadata and results.";
            "regenerate_token" "POST" Some("regenerate_token"), "Replace the machine's credentials (its owner only): the old ones stop working at once.";
            "details" "GET" Some("details"), "Hardware details of the machine (BSON: lshw, the lshw-shaped document made from its commissioning inventory, and lldp, its LLDP capture; null when it has none).";
            "read_bmc_inventory" "POST" Some("read_bmc_inventory"), "Read the hardware (CPUs, memory, drives, NICs) from the machine's Redfish BMC and record it as if commissioned (admin; power type redfish; not in a transient status).";
            "set_storage_layout" "POST" Some("set_storage_layout"), "Replace the storage configuration by a layout (Ready or Allocated): storage_layout (flat, lvm, bcache, blank), boot_size, root_device, root_size, vg_name, lv_name, lv_size, cache_device, cache_mode, cache_size, cache_no_part.", "storage_layout! boot_size root_device root_size vg_name lv_name lv_size cache_device cache_mode cache_size cache_no_part";
            "restore_storage_configuration" "POST" Some("restore_storage_configuration"), "Reset the storage to the default layout (default_storage_layout; Ready or Allocated).";
            "restore_networking_configuration" "POST" Some("restore_networking_configuration"), "Reset the network to what commissioning leaves: bonds, VLANs and bridges deleted, every link and address removed, the boot interface AUTO on the subnet of its VLAN (DHCP when unknown).";
            "restore_default_configuration" "POST" Some("restore_default_configuration"), "restore_networking_configuration and restore_storage_configuration together.";
            "mount_special" "POST" Some("mount_special"), "Mount a filesystem without a device in the installed OS (Ready or Allocated): fstype (tmpfs or ramfs), mount_point (absolute, free), mount_options.", "fstype! mount_point! mount_options";
            "unmount_special" "POST" Some("unmount_special"), "Remove the special filesystem at mount_point.", "mount_point!";
            "clear_default_gateways" "POST" Some("clear_default_gateways"), "Forget the chosen default gateways: deployment then routes through the first addressed link on a subnet with a gateway.";
            "get_curtin_config" "GET" Some("get_curtin_config"), "The configuration the machine installs from (image, storage steps, network configuration, vendor-data; its secret left out), while Deploying, Deployed or Failed deployment.";
        ],
    },
    HandlerDef {
        name: "UsersHandler",
        path: "/MAAS/api/2.0/users/",
        serve: serve!(|app, r, c| users::users(app, r, c.user()?).await),
        params: &[],
        doc: "Manage users.",
        actions: ops![
            "read" "GET" None, "List users.";
            "create" "POST" None, "Create a user (admin): username, email, password, is_superuser.", "username! email! password! is_superuser";
            "whoami" "GET" Some("whoami"), "The logged-in user.";
        ],
    },
    HandlerDef {
        name: "UserHandler",
        path: "/MAAS/api/2.0/users/{username}/",
        serve: serve!(|app, r, c| users::user_item(app, r, c.user()?, c.arg(0)).await),
        params: &["username"],
        doc: "Manage a user account.",
        actions: ops![
            "read" "GET" None, "Read a user.";
            "update" "PUT" None, "Make a user an administrator or not (admin; Ingot's, as MAAS's UI does it): is_superuser. You cannot take your own rights away.", "is_superuser!";
            "delete" "DELETE" None, "Delete a user (admin).";
        ],
    },
    HandlerDef {
        name: "AccountHandler",
        path: "/MAAS/api/2.0/account/",
        serve: serve!(|app, r, c| users::account(app, r, c.user()?).await),
        params: &[],
        doc: "Manage the current user's account.",
        actions: ops![
            "create_authorisation_token" "POST" Some("create_authorisation_token"), "Create an API key: name.", "name";
            "update_token_name" "POST" Some("update_token_name"), "Rename an API key: token (its key, or the whole key), name.", "token! name!";
            "delete_authorisation_token" "POST" Some("delete_authorisation_token"), "Delete an API key: token_key.", "token_key!";
            "list_authorisation_tokens" "GET" Some("list_authorisation_tokens"), "List your API keys.";
        ],
    },
    HandlerDef {
        name: "SSHKeysHandler",
        path: "/MAAS/api/2.0/account/prefs/sshkeys/",
        serve: serve!(|app, r, c| users::sshkeys(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage your SSH keys.",
        actions: ops![
            "read" "GET" None, "List your SSH keys.";
            "create" "POST" None, "Add an SSH key: key.", "key!";
        ],
    },
    HandlerDef {
        name: "SSHKeyHandler",
        path: "/MAAS/api/2.0/account/prefs/sshkeys/{id}/",
        serve: serve!(|app, r, c| users::sshkeys(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage an SSH key.",
        actions: ops![
            "read" "GET" None, "Read an SSH key.";
            "delete" "DELETE" None, "Delete an SSH key.";
        ],
    },
    HandlerDef {
        name: "TagsHandler",
        path: "/MAAS/api/2.0/tags/",
        serve: serve!(|app, r, c| catalog::tags(app, r, c.user()?).await),
        params: &[],
        doc: "Manage all tags.",
        actions: ops![
            "read" "GET" None, "List tags.";
            "create" "POST" None, "Create a tag (admin): name, comment, kernel_opts, and definition (an XPath 1.0 expression over the nodes' hardware details, the lshw document of op=details; the nodes it is true for get the tag, evaluated now and whenever a node is commissioned; empty for a manual tag).", "name! comment definition kernel_opts";
        ],
    },
    HandlerDef {
        name: "TagHandler",
        path: "/MAAS/api/2.0/tags/{name}/",
        serve: serve!(|app, r, c| catalog::tag_item(app, r, c.user()?, c.arg(0)).await),
        params: &["name"],
        doc: "Manage a tag.",
        actions: ops![
            "read" "GET" None, "Read a tag.";
            "update" "PUT" None, "Update a tag (admin): name, comment, kernel_opts, definition (a changed definition is evaluated over every node again; an empty one makes the tag manual, its nodes kept).", "name comment definition kernel_opts";
            "delete" "DELETE" None, "Delete a tag (admin).";
            "machines" "GET" Some("machines"), "Machines with this tag.";
            "nodes" "GET" Some("nodes"), "Deprecated alias of machines.";
            "devices" "GET" Some("devices"), "Devices with this tag.";
            "rack_controllers" "GET" Some("rack_controllers"), "Rack controllers whose machine has this tag.";
            "region_controllers" "GET" Some("region_controllers"), "Region controllers with this tag.";
            "rebuild" "POST" Some("rebuild"), "Evaluate the tag's definition over every node again (admin); a manual tag is left as it is. Answers {\"rebuilding\": name}.";
            "update_nodes" "POST" Some("update_nodes"), "Add / remove a manual tag (admin): add=<system_id>, remove=<system_id> (repeated). A tag with a definition is refused: its nodes are those its definition matches.", "add remove";
        ],
    },
    HandlerDef {
        name: "ZonesHandler",
        path: "/MAAS/api/2.0/zones/",
        serve: serve!(|app, r, c| catalog::named_coll(app, r, c.user()?, NamedKind::Zone).await),
        params: &[],
        doc: "Manage availability zones.",
        actions: ops![
            "read" "GET" None, "List zones.";
            "create" "POST" None, "Create a zone (admin): name, description.", "name! description";
        ],
    },
    HandlerDef {
        name: "ZoneHandler",
        path: "/MAAS/api/2.0/zones/{name}/",
        serve: serve!(|app, r, c| catalog::named_item(
            app,
            r,
            c.user()?,
            NamedKind::Zone,
            c.arg(0)
        )
        .await),
        params: &["name"],
        doc: "Manage an availability zone.",
        actions: ops![
            "read" "GET" None, "Read a zone.";
            "update" "PUT" None, "Update a zone (admin): name, description.", "name description";
            "delete" "DELETE" None, "Delete a zone (admin).";
        ],
    },
    HandlerDef {
        name: "ResourcePoolsHandler",
        path: "/MAAS/api/2.0/resourcepools/",
        serve: serve!(|app, r, c| catalog::named_coll(app, r, c.user()?, NamedKind::Pool).await),
        params: &[],
        doc: "Manage resource pools.",
        actions: ops![
            "read" "GET" None, "List resource pools.";
            "create" "POST" None, "Create a resource pool (admin): name, description.", "name! description";
        ],
    },
    HandlerDef {
        name: "ResourcePoolHandler",
        path: "/MAAS/api/2.0/resourcepool/{id}/",
        serve: serve!(|app, r, c| catalog::named_item(
            app,
            r,
            c.user()?,
            NamedKind::Pool,
            c.arg(0)
        )
        .await),
        params: &["id"],
        doc: "Manage a resource pool.",
        actions: ops![
            "read" "GET" None, "Read a resource pool.";
            "update" "PUT" None, "Update a resource pool (admin): name, description.", "name description";
            "delete" "DELETE" None, "Delete a resource pool (admin).";
        ],
    },
    HandlerDef {
        name: "DevicesHandler",
        path: "/MAAS/api/2.0/devices/",
        serve: serve!(|app, r, c| match machines::anon_node_op(app, r).await {
            Some(answer) => answer,
            None => devices::collection(app, r, c.user()?).await,
        }),
        params: &[],
        doc: "Manage devices: nodes Ingot does not provision (containers, VMs) with addresses.",
        actions: ops![
            "read" "GET" None, "List your devices (an administrator: all), filtered as machines are.", "hostname mac_address id domain zone";
            "create" "POST" None, "Create a device: it is yours, deployed, and has one physical interface per MAC.", "mac_addresses! hostname domain zone parent description";
            "is_registered" "GET" Some("is_registered"), "Whether a node has this MAC address: mac_address.", "mac_address!";
            "set_zone" "POST" Some("set_zone"), "Move nodes to a zone (admin): zone, nodes (system ids, repeated).", "zone! nodes";
        ],
    },
    HandlerDef {
        name: "DeviceHandler",
        path: "/MAAS/api/2.0/devices/{system_id}/",
        serve: serve!(|app, r, c| devices::item(app, r, c.user()?, c.arg(0)).await),
        params: &["system_id"],
        doc: "Manage a device.",
        actions: ops![
            "read" "GET" None, "Read a device.";
            "update" "PUT" None, "Update a device: hostname, description, domain; zone (admin).", "hostname description domain zone";
            "delete" "DELETE" None, "Delete a device with its interfaces and addresses.";
            "details" "GET" Some("details"), "The device's lshw and LLDP data as BSON (null for a device: nothing commissions it).";
            "power_parameters" "GET" Some("power_parameters"), "Its power parameters (admin; a device has none).";
            "restore_networking_configuration" "POST" Some("restore_networking_configuration"), "Reset its network: bonds, VLANs and bridges deleted, every link and address removed, the boot interface AUTO on the subnet of its VLAN.";
            "restore_default_configuration" "POST" Some("restore_default_configuration"), "The same as restore_networking_configuration (a device has no storage).";
            "set_workload_annotations" "POST" Some("set_workload_annotations"), "Set key=value workload annotations (empty value deletes).", "{key}";
            "set_owner_data" "POST" Some("set_owner_data"), "Deprecated alias of set_workload_annotations.", "{key}";
        ],
    },
    HandlerDef {
        name: "PackageRepositoriesHandler",
        path: "/MAAS/api/2.0/package-repositories/",
        serve: serve!(|app, r, c| repositories::collection(app, r, c.user()?).await),
        params: &[],
        doc: "The apt repositories deployed machines receive (the default Ubuntu archives are the mirrors of Ubuntu deployments; enabled custom ones are added to every deployment's sources).",
        actions: ops![
            "read" "GET" None, "List package repositories.";
            "create" "POST" None, "Create a package repository (admin): name, url (or ppa:owner/name), distributions, components, arches, key, enabled, disable_sources, disabled_pockets.", "name! url! distributions disabled_pockets disabled_components disable_sources components arches key enabled";
        ],
    },
    HandlerDef {
        name: "PackageRepositoryHandler",
        path: "/MAAS/api/2.0/package-repositories/{id}/",
        serve: serve!(|app, r, c| repositories::item(app, r, c.user()?, c.arg(0)).await),
        params: &["id"],
        doc: "A package repository.",
        actions: ops![
            "read" "GET" None, "Read a package repository.";
            "update" "PUT" None, "Update a package repository (admin); a default archive takes disabled_pockets and disabled_components and stays enabled.", "name url distributions disabled_pockets disabled_components disable_sources components arches key enabled";
            "delete" "DELETE" None, "Delete a custom package repository (admin).";
        ],
    },
    HandlerDef {
        name: "ReservedIpsHandler",
        path: "/MAAS/api/2.0/reservedips/",
        serve: serve!(|app, r, c| reserved_ips::collection(app, r, c.user()?).await),
        params: &[],
        doc: "DHCP reservations: an address of a subnet the racks' DHCP always gives one MAC.",
        actions: ops![
            "read" "GET" None, "List the reservations.";
            "create" "POST" None, "Reserve an address for a MAC (admin): ip, subnet (else the one holding ip), mac_address, comment.", "ip! subnet mac_address! comment";
        ],
    },
    HandlerDef {
        name: "ReservedIpHandler",
        path: "/MAAS/api/2.0/reservedips/{id}/",
        serve: serve!(|app, r, c| reserved_ips::item(app, r, c.user()?, c.arg(0)).await),
        params: &["id"],
        doc: "A DHCP reservation.",
        actions: ops![
            "read" "GET" None, "Read a reservation.";
            "update" "PUT" None, "Change its MAC or comment (admin).", "mac_address comment";
            "delete" "DELETE" None, "Delete the reservation (admin).";
        ],
    },
    HandlerDef {
        name: "VmHostsHandler",
        path: "/MAAS/api/2.0/vm-hosts/",
        serve: serve!(|app, r, c| absent::collection(app, r, c.user()?, Absent::VmHosts).await),
        params: &[],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured.",
        actions: ops![
            "read" "GET" None, "List VM hosts: none.";
            "create" "POST" None, "Refused (admin): Ingot manages no VM hosts.", "type power_address";
        ],
    },
    HandlerDef {
        name: "VmHostHandler",
        path: "/MAAS/api/2.0/vm-hosts/{id}/",
        serve: serve!(|app, r, c| absent::item(app, r, c.user()?, Absent::VmHosts).await),
        params: &["id"],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured.",
        actions: ops![
            "read" "GET" None, "Not found: there are none.";
            "update" "PUT" None, "Not found (admin).", "name";
            "delete" "DELETE" None, "Not found (admin).";
            "add_tag" "POST" Some("add_tag"), "Not found (admin).", "tag";
            "compose" "POST" Some("compose"), "Not found (admin).";
            "parameters" "GET" Some("parameters"), "Not found.";
            "refresh" "POST" Some("refresh"), "Not found (admin).";
            "remove_tag" "POST" Some("remove_tag"), "Not found (admin).", "tag";
        ],
    },
    HandlerDef {
        name: "PodsHandler",
        path: "/MAAS/api/2.0/pods/",
        serve: serve!(|app, r, c| absent::collection(app, r, c.user()?, Absent::VmHosts).await),
        params: &[],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured. (pods/ is MAAS's older name of vm-hosts/)",
        actions: ops![
            "read" "GET" None, "List VM hosts: none.";
            "create" "POST" None, "Refused (admin): Ingot manages no VM hosts.", "type power_address";
        ],
    },
    HandlerDef {
        name: "PodHandler",
        path: "/MAAS/api/2.0/pods/{id}/",
        serve: serve!(|app, r, c| absent::item(app, r, c.user()?, Absent::VmHosts).await),
        params: &["id"],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured.",
        actions: ops![
            "read" "GET" None, "Not found: there are none.";
            "update" "PUT" None, "Not found (admin).", "name";
            "delete" "DELETE" None, "Not found (admin).";
            "add_tag" "POST" Some("add_tag"), "Not found (admin).", "tag";
            "compose" "POST" Some("compose"), "Not found (admin).";
            "parameters" "GET" Some("parameters"), "Not found.";
            "refresh" "POST" Some("refresh"), "Not found (admin).";
            "remove_tag" "POST" Some("remove_tag"), "Not found (admin).", "tag";
        ],
    },
    HandlerDef {
        name: "VirtualMachinesHandler",
        path: "/MAAS/api/2.0/virtual-machines/",
        serve: serve!(|app, r, c| absent::collection(app, r, c.user()?, Absent::VirtualMachines).await),
        params: &[],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured.",
        actions: ops![
            "read" "GET" None, "List VM hosts' virtual machines: none.";
            "create" "POST" None, "Refused (admin): Ingot manages no VM hosts.";
        ],
    },
    HandlerDef {
        name: "VirtualMachineHandler",
        path: "/MAAS/api/2.0/virtual-machines/{id}",
        serve: serve!(|app, r, c| absent::item(app, r, c.user()?, Absent::VirtualMachines).await),
        params: &["id"],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured.",
        actions: ops![
            "read" "GET" None, "Not found: there are none.";
        ],
    },
    HandlerDef {
        name: "VmClustersHandler",
        path: "/MAAS/api/2.0/vm-clusters/",
        serve: serve!(|app, r, c| absent::collection(app, r, c.user()?, Absent::VmClusters).await),
        params: &[],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured.",
        actions: ops![
            "read" "GET" None, "List VM clusters: none.";
        ],
    },
    HandlerDef {
        name: "VmClusterHandler",
        path: "/MAAS/api/2.0/vm-clusters/{id}",
        serve: serve!(|app, r, c| absent::item(app, r, c.user()?, Absent::VmClusters).await),
        params: &["id"],
        doc: "Ingot manages no VM hosts (LXD, virsh): answered as MAAS with none configured.",
        actions: ops![
            "read" "GET" None, "Not found: there are none.";
            "update" "PUT" None, "Not found (admin).", "name";
            "delete" "DELETE" None, "Not found (admin).";
        ],
    },
    HandlerDef {
        name: "LicenseKeysHandler",
        path: "/MAAS/api/2.0/license-keys/",
        serve: serve!(|app, r, c| absent::collection(app, r, c.user()?, Absent::LicenseKeys).await),
        params: &[],
        doc: "Ingot deploys no Windows images: answered as MAAS with no licence keys.",
        actions: ops![
            "read" "GET" None, "List licence keys: none.";
            "create" "POST" None, "Refused (admin): Ingot deploys no Windows images.", "osystem distro_series license_key";
        ],
    },
    HandlerDef {
        name: "LicenseKeyHandler",
        path: "/MAAS/api/2.0/license-key/{osystem}/{distro_series}",
        serve: serve!(|app, r, c| absent::item(app, r, c.user()?, Absent::LicenseKeys).await),
        params: &["osystem", "distro_series"],
        doc: "Ingot deploys no Windows images: answered as MAAS with no licence keys.",
        actions: ops![
            "read" "GET" None, "Not found: there are none.";
            "update" "PUT" None, "Not found (admin).", "license_key";
            "delete" "DELETE" None, "Not found (admin).";
        ],
    },
    HandlerDef {
        name: "DiscoveriesHandler",
        path: "/MAAS/api/2.0/discovery/",
        serve: serve!(|app, r, c| absent::collection(app, r, c.user()?, Absent::Discovery).await),
        params: &[],
        doc: "Ingot does no network discovery (its netboot timeline records every MAC that boots): answered as MAAS with nothing discovered.",
        actions: ops![
            "read" "GET" None, "List discovered devices: none.";
            "by_unknown_ip" "GET" Some("by_unknown_ip"), "Discovered devices with an unknown IP: none.";
            "by_unknown_ip_and_mac" "GET" Some("by_unknown_ip_and_mac"), "Discovered devices with an unknown IP and MAC: none.";
            "by_unknown_mac" "GET" Some("by_unknown_mac"), "Discovered devices with an unknown MAC: none.";
            "clear" "POST" Some("clear"), "Clear the discoveries (admin): there are none.", "mdns neighbours all";
            "clear_by_mac_and_ip" "POST" Some("clear_by_mac_and_ip"), "Clear one discovery (admin): there are none.", "mac ip";
            "scan" "POST" Some("scan"), "Refused (admin): Ingot does not scan its networks.", "cidr force threads timeout always_use_ping slow";
        ],
    },
    HandlerDef {
        name: "DiscoveryHandler",
        path: "/MAAS/api/2.0/discovery/{discovery_id}/",
        serve: serve!(|app, r, c| absent::item(app, r, c.user()?, Absent::Discovery).await),
        params: &["discovery_id"],
        doc: "Ingot does no network discovery.",
        actions: ops![
            "read" "GET" None, "Not found: there are none.";
        ],
    },
    HandlerDef {
        name: "VmfsDatastoresHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/vmfs-datastores/",
        serve: serve!(|app, r, c| absent::of_node(app, r, c.user()?, c.arg(0), false).await),
        params: &["system_id"],
        doc: "Ingot deploys no VMware ESXi images: a machine has no VMFS datastores.",
        actions: ops![
            "read" "GET" None, "List the machine's VMFS datastores: none.";
            "create" "POST" None, "Refused (admin): Ingot deploys no VMware ESXi images.", "name block_devices partitions";
        ],
    },
    HandlerDef {
        name: "VmfsDatastoreHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/vmfs-datastore/{id}/",
        serve: serve!(|app, r, c| absent::of_node(app, r, c.user()?, c.arg(0), true).await),
        params: &["system_id", "id"],
        doc: "Ingot deploys no VMware ESXi images: a machine has no VMFS datastores.",
        actions: ops![
            "read" "GET" None, "Not found: there are none.";
            "update" "PUT" None, "Not found (admin).", "name";
            "delete" "DELETE" None, "Not found (admin).";
        ],
    },
    HandlerDef {
        name: "NodesHandler",
        path: "/MAAS/api/2.0/nodes/",
        serve: serve!(|app, r, c| match machines::anon_node_op(app, r).await {
            Some(answer) => answer,
            None => nodes::collection(app, r, c.user()?).await,
        }),
        params: &[],
        doc: "Every node: machines, controllers and devices, each shown as its kind shows it.",
        actions: ops![
            "read" "GET" None, "List the nodes you may see, filtered as machines are.", "hostname mac_address id domain zone pool status agent_name";
            "is_registered" "GET" Some("is_registered"), "Whether a MAC address belongs to a node: mac_address.", "mac_address!";
            "set_zone" "POST" Some("set_zone"), "Move nodes to a zone (admin): zone, nodes (system ids, repeated); all are checked before any moves.", "zone! nodes!";
        ],
    },
    HandlerDef {
        name: "NodeHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/",
        serve: serve!(|app, r, c| nodes::item(app, r, c.user()?, c.arg(0)).await),
        params: &["system_id"],
        doc: "One node of any kind.",
        actions: ops![
            "read" "GET" None, "Read a node.";
            "delete" "DELETE" None, "Delete a node (a device by its owner or an administrator, a machine by an administrator).";
            "details" "GET" Some("details"), "Hardware details of the node (BSON).";
            "power_parameters" "GET" Some("power_parameters"), "The node's power parameters (admin).";
        ],
    },
    HandlerDef {
        name: "FilesHandler",
        path: "/MAAS/api/2.0/files/",
        serve: serve!(|app, r, c| files::collection(app, r, c.who).await),
        params: &[],
        doc: "Manage your stored files.",
        actions: ops![
            "read" "GET" None, "List your files (without their content).", "prefix";
            "create" "POST" None, "Store a file (replacing one of that name): filename, and the file as the multipart part file.", "filename! file!";
            "get" "GET" Some("get"), "A file's bytes.", "filename!";
            "get_by_key" "GET" Some("get_by_key"), "A file's bytes by its key (no credentials needed).", "key!";
            "delete" "DELETE" None, "Delete a file by its name.", "filename!";
        ],
    },
    HandlerDef {
        name: "FileHandler",
        path: "/MAAS/api/2.0/files/{filename}/",
        serve: serve!(|app, r, c| files::item(app, r, c.who, c.arg(0)).await),
        params: &["filename"],
        doc: "Manage a stored file.",
        actions: ops![
            "read" "GET" None, "Read the file, its content in base64.";
            "delete" "DELETE" None, "Delete the file.";
        ],
    },
    HandlerDef {
        name: "DomainsHandler",
        path: "/MAAS/api/2.0/domains/",
        serve: serve!(|app, r, c| dns::domains(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage DNS domains.",
        actions: ops![
            "read" "GET" None, "List the DNS domains (the default, maas, is id 0).";
            "create" "POST" None, "Create a domain (admin): name, authoritative (default true), ttl (seconds). A name taken is a 409.", "name! authoritative ttl";
            "set_serial" "POST" Some("set_serial"), "Set the SOA serial of every zone (admin), 1 to 4294967295; later changes count up from it.", "serial!";
        ],
    },
    HandlerDef {
        name: "DomainHandler",
        path: "/MAAS/api/2.0/domains/{id}/",
        serve: serve!(|app, r, c| dns::domains(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage a DNS domain.",
        actions: ops![
            "read" "GET" None, "Read a domain (by id or name).";
            "update" "PUT" None, "Update a domain (admin): name, authoritative, ttl.", "name authoritative ttl";
            "delete" "DELETE" None, "Delete a domain (admin) with its names and records: not the default one, nor one machines are named in.";
            "set_default" "POST" Some("set_default"), "Make it the default domain (admin): machines added without a domain are named in it.";
        ],
    },
    HandlerDef {
        name: "DNSResourcesHandler",
        path: "/MAAS/api/2.0/dnsresources/",
        serve: serve!(|app, r, c| dns::dnsresources(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage names in the DNS domains and their addresses.",
        actions: ops![
            "read" "GET" None, "List names: domain, name, rrtype filter them.", "domain name rrtype all";
            "create" "POST" None, "Create a name (admin): fqdn, or name and domain (default: the default domain); address_ttl; ip_addresses (space-separated). A machine's name is its own (409).", "fqdn name domain address_ttl ip_addresses";
        ],
    },
    HandlerDef {
        name: "DNSResourceHandler",
        path: "/MAAS/api/2.0/dnsresources/{id}/",
        serve: serve!(|app, r, c| dns::dnsresources(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage a name in a DNS domain.",
        actions: ops![
            "read" "GET" None, "Read a name with its addresses and records.";
            "update" "PUT" None, "Update a name (admin): fqdn or name/domain, address_ttl, ip_addresses (all of them).", "fqdn name domain address_ttl ip_addresses";
            "delete" "DELETE" None, "Delete a name with its addresses and records (admin).";
        ],
    },
    HandlerDef {
        name: "DNSResourceRecordsHandler",
        path: "/MAAS/api/2.0/dnsresourcerecords/",
        serve: serve!(|app, r, c| dns::dnsresourcerecords(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage DNS records other than addresses.",
        actions: ops![
            "read" "GET" None, "List records: domain, name, rrtype filter them.", "domain name rrtype";
            "create" "POST" None, "Create a record (admin): fqdn, or name and domain; rrtype (CNAME, MX, NS, SRV, SSHFP, TXT; addresses are dnsresources' ip_addresses), rrdata as the type wants it, ttl. A CNAME stands alone at its name.", "fqdn name domain rrtype! rrdata! ttl";
        ],
    },
    HandlerDef {
        name: "DNSResourceRecordHandler",
        path: "/MAAS/api/2.0/dnsresourcerecords/{id}/",
        serve: serve!(|app, r, c| dns::dnsresourcerecords(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage a DNS record.",
        actions: ops![
            "read" "GET" None, "Read a record.";
            "update" "PUT" None, "Update a record (admin): rrdata, ttl (its type stays).", "rrdata ttl";
            "delete" "DELETE" None, "Delete a record (admin); a name left with nothing goes too.";
        ],
    },
    HandlerDef {
        name: "EventsHandler",
        path: "/MAAS/api/2.0/events/",
        serve: serve!(|app, r, c| events::events(app, r, c.user()?).await),
        params: &[],
        doc: "Retrieve events, newest first.",
        actions: ops![
            "query" "GET" Some("query"), "Query events: id (system_id, repeated), hostname, level (DEBUG, INFO, WARNING, ERROR, AUDIT: that level and above), limit (default 100, max 1000), before, after (event ids).", "id hostname mac_address zone agent_name level limit before after";
        ],
    },
    HandlerDef {
        name: "MaasHandler",
        path: "/MAAS/api/2.0/maas/",
        serve: serve!(|app, r, c| settings::config(app, r, c.user()?).await),
        params: &[],
        doc: "Manage the region's configuration.",
        actions: ops![
            "get_config" "GET" Some("get_config"), "Read a setting: name (node_timeout, default_distro_series, default_osystem).", "name!";
            "set_config" "POST" Some("set_config"), "Change a setting (admin): name, value.", "name! value";
        ],
    },
];

/// Handlers added after the first table (kept separate to keep the table above readable).
pub const MORE_HANDLERS: &[HandlerDef] = &[
    HandlerDef {
        name: "PowerTypesHandler",
        path: "/MAAS/api/2.0/power-types/",
        serve: serve!(|app, r, c| { c.user()?; ok_json(ingot_region::power::power_types_json()) }),
        params: &[],
        doc: "The power drivers and the parameters each takes.",
        actions: ops![
            "read" "GET" None, "List power types with their parameter schemas.";
        ],
    },
    HandlerDef {
        name: "FabricsHandler",
        path: "/MAAS/api/2.0/fabrics/",
        serve: serve!(|app, r, c| network::fabrics(app, r, c.user()?).await),
        params: &[],
        doc: "Manage fabrics.",
        actions: ops![
            "read" "GET" None, "List fabrics with their VLANs.";
            "create" "POST" None, "Create a fabric (admin): name, class_type.", "name class_type description";
        ],
    },
    HandlerDef {
        name: "FabricHandler",
        path: "/MAAS/api/2.0/fabrics/{id}/",
        serve: serve!(|app, r, c| network::fabric(app, r, c.user()?, c.arg(0)).await),
        params: &["id"],
        doc: "Manage a fabric.",
        actions: ops![
            "read" "GET" None, "Read a fabric.";
            "update" "PUT" None, "Update a fabric (admin): name, class_type.", "name class_type description";
            "delete" "DELETE" None, "Delete a fabric (admin).";
        ],
    },
    HandlerDef {
        name: "VlansHandler",
        path: "/MAAS/api/2.0/fabrics/{fabric_id}/vlans/",
        serve: serve!(|app, r, c| network::vlans(app, r, c.user()?, c.arg(0)).await),
        params: &["fabric_id"],
        doc: "Manage the VLANs of a fabric.",
        actions: ops![
            "read" "GET" None, "List the fabric's VLANs.";
            "create" "POST" None, "Create a VLAN (admin): vid, name, mtu.", "vid! name mtu description space";
        ],
    },
    HandlerDef {
        name: "VlanHandler",
        path: "/MAAS/api/2.0/fabrics/{fabric_id}/vlans/{vid}/",
        serve: serve!(|app, r, c| network::vlan(app, r, c.user()?, c.arg(0), c.arg(1)).await),
        params: &["fabric_id", "vid"],
        doc: "Manage a VLAN.",
        actions: ops![
            "read" "GET" None, "Read a VLAN.";
            "update" "PUT" None, "Update a VLAN (admin): name, description, mtu, dhcp_on, primary_rack and secondary_rack (rack controllers' system ids: only they serve its DHCP), relay_vlan (the id of the VLAN whose DHCP serves this one through a relay), space.", "name mtu dhcp_on description space primary_rack secondary_rack relay_vlan";
            "delete" "DELETE" None, "Delete a VLAN (admin).";
        ],
    },
    HandlerDef {
        name: "SpacesHandler",
        path: "/MAAS/api/2.0/spaces/",
        serve: serve!(|app, r, c| network::spaces(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage spaces.",
        actions: ops![
            "read" "GET" None, "List spaces with their VLANs and subnets.";
            "create" "POST" None, "Create a space (admin).", "name! description";
        ],
    },
    HandlerDef {
        name: "SpaceHandler",
        path: "/MAAS/api/2.0/spaces/{id}/",
        serve: serve!(|app, r, c| network::spaces(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage a space.",
        actions: ops![
            "read" "GET" None, "Read a space (by id or name).";
            "update" "PUT" None, "Update a space (admin).", "name description";
            "delete" "DELETE" None, "Delete a space (admin); its VLANs are then in none.";
        ],
    },
    HandlerDef {
        name: "SubnetsHandler",
        path: "/MAAS/api/2.0/subnets/",
        serve: serve!(|app, r, c| network::subnets(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage subnets.",
        actions: ops![
            "read" "GET" None, "List subnets.";
            "create" "POST" None, "Create a subnet (admin): cidr, name, description, vlan (or fabric + vid), gateway_ip, dns_servers, managed, allow_dns, allow_proxy, rdns_mode (0 disabled, 1 enabled, 2 RFC 2317), active_discovery.", "cidr! name description vlan fabric vid gateway_ip dns_servers managed space allow_dns allow_proxy rdns_mode active_discovery";
        ],
    },
    HandlerDef {
        name: "SubnetHandler",
        path: "/MAAS/api/2.0/subnets/{id}/",
        serve: serve!(|app, r, c| network::subnets(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage a subnet. It is named by its id, `name:NAME`, `cidr:CIDR`, `ip:ADDRESS` (the subnet holding it), or a bare name or percent-encoded CIDR.",
        actions: ops![
            "read" "GET" None, "Read a subnet.";
            "update" "PUT" None, "Update a subnet (admin).", "cidr name description vlan fabric vid gateway_ip dns_servers managed space allow_dns allow_proxy rdns_mode active_discovery";
            "reserved_ip_ranges" "GET" Some("reserved_ip_ranges"), "The runs of addresses in use or reserved, each with its purposes (dynamic, reserved, assigned-ip, gateway-ip, dns-server) and size.";
            "unreserved_ip_ranges" "GET" Some("unreserved_ip_ranges"), "The runs of free addresses, with their sizes.";
            "statistics" "GET" Some("statistics"), "Address usage: available, unavailable, largest free run, usage; include_ranges adds every run, include_suggestions a gateway and dynamic range.", "include_ranges include_suggestions";
            "ip_addresses" "GET" Some("ip_addresses"), "The addresses in use, each with its allocation type, user and the node and interface holding it.", "with_username with_summary";
            "delete" "DELETE" None, "Delete a subnet (admin).";
        ],
    },
    HandlerDef {
        name: "IPRangesHandler",
        path: "/MAAS/api/2.0/ipranges/",
        serve: serve!(|app, r, c| network::ipranges(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage IP ranges.",
        actions: ops![
            "read" "GET" None, "List IP ranges.";
            "create" "POST" None, "Create an IP range (admin): type (dynamic|reserved), start_ip, end_ip, subnet, comment.", "type! start_ip! end_ip! subnet comment";
        ],
    },
    HandlerDef {
        name: "IPRangeHandler",
        path: "/MAAS/api/2.0/ipranges/{id}/",
        serve: serve!(|app, r, c| network::ipranges(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage an IP range.",
        actions: ops![
            "read" "GET" None, "Read an IP range.";
            "update" "PUT" None, "Update an IP range (admin).", "type start_ip end_ip comment";
            "delete" "DELETE" None, "Delete an IP range (admin).";
        ],
    },
    HandlerDef {
        name: "StaticRoutesHandler",
        path: "/MAAS/api/2.0/static-routes/",
        serve: serve!(|app, r, c| network::static_routes(app, r, c.user()?, None).await),
        params: &[],
        doc: "Manage static routes.",
        actions: ops![
            "read" "GET" None, "List static routes.";
            "create" "POST" None, "Create a static route (admin): source and destination (subnet id, CIDR or name), gateway_ip (inside the source subnet), metric.", "source! destination! gateway_ip! metric";
        ],
    },
    HandlerDef {
        name: "StaticRouteHandler",
        path: "/MAAS/api/2.0/static-routes/{id}/",
        serve: serve!(|app, r, c| network::static_routes(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["id"],
        doc: "Manage a static route.",
        actions: ops![
            "read" "GET" None, "Read a static route.";
            "update" "PUT" None, "Update a static route (admin): source, destination, gateway_ip, metric.", "source destination gateway_ip metric";
            "delete" "DELETE" None, "Delete a static route (admin).";
        ],
    },
    HandlerDef {
        name: "IPAddressesHandler",
        path: "/MAAS/api/2.0/ipaddresses/",
        serve: serve!(|app, r, c| network::ipaddresses(app, r, c.user()?).await),
        params: &[],
        doc: "Manage static IP addresses reserved by users.",
        actions: ops![
            "read" "GET" None, "List the addresses you reserved (admins: all=true for everyone's).", "all";
            "reserve" "POST" Some("reserve"), "Reserve a static address: subnet (id or CIDR) and/or ip, mac (the rack's DHCP then always answers that MAC with it), hostname.", "subnet ip mac hostname";
            "release" "POST" Some("release"), "Release an address you reserved: ip.", "ip!";
        ],
    },
    HandlerDef {
        name: "NodeScriptsHandler",
        path: "/MAAS/api/2.0/scripts/",
        serve: serve!(|app, r, c| scripts::collection(app, r, c.user()?).await),
        params: &[],
        doc: "Manage commissioning and testing scripts (user scripts and the built-ins).",
        actions: ops![
            "read" "GET" None, "List scripts: type, hardware_type, filters (names or tags), include_script.", "type hardware_type filters include_script";
            "create" "POST" None, "Upload a script (admin): script (file), name, title, description, tags, type, hardware_type, parallel, timeout, destructive, may_reboot, for_hardware; the script's metadata header supplies what the form does not.", "script! name title description tags type hardware_type parallel timeout destructive may_reboot for_hardware";
        ],
    },
    HandlerDef {
        name: "NodeScriptHandler",
        path: "/MAAS/api/2.0/scripts/{name}",
        serve: serve!(|app, r, c| scripts::item(app, r, c.user()?, c.arg(0)).await),
        params: &["name"],
        doc: "Manage a script.",
        actions: ops![
            "read" "GET" None, "Read a script (include_script=true for its text, base64).", "include_script";
            "download" "GET" Some("download"), "The script's text.";
            "update" "PUT" None, "Replace a user script's text and/or metadata (admin).", "script name title description tags type hardware_type parallel timeout destructive may_reboot for_hardware";
            "delete" "DELETE" None, "Delete a user script (admin); built-ins cannot be deleted.";
        ],
    },
    HandlerDef {
        name: "InterfacesHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/interfaces/",
        serve: serve!(|app, r, c| network::interfaces(app, r, c.user()?, c.arg(0), None).await),
        params: &["system_id"],
        doc: "A machine's network interfaces.",
        actions: ops![
            "read" "GET" None, "List the interfaces with their links.";
            "create_bond" "POST" Some("create_bond"), "Create a bond: name, parents (physical interface ids), mac_address, bond_mode, bond_miimon, bond_downdelay, bond_updelay, bond_lacp_rate, bond_xmit_hash_policy, mtu.", "name! parents! mac_address bond_mode bond_miimon bond_downdelay bond_updelay bond_lacp_rate bond_xmit_hash_policy mtu";
            "create_vlan" "POST" Some("create_vlan"), "Create a VLAN interface: parent (interface id), vlan (VLAN id), mtu.", "parent! vlan! mtu";
            "create_physical" "POST" Some("create_physical"), "Add a physical interface to a device (a machine's come from commissioning).", "mac_address! name vlan";
            "create_bridge" "POST" Some("create_bridge"), "Create a bridge: name, parent (interface id), mac_address, bridge_type, bridge_stp, bridge_fd, mtu.", "name parent! mac_address bridge_type bridge_stp bridge_fd mtu";
        ],
    },
    HandlerDef {
        name: "InterfaceHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/interfaces/{id}/",
        serve: serve!(|app, r, c| network::interfaces(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["system_id", "id"],
        doc: "One interface of a machine.",
        actions: ops![
            "read" "GET" None, "Read the interface.";
            "link_subnet" "POST" Some("link_subnet"), "Configure it on a subnet for deployment: mode (AUTO, DHCP, STATIC, LINK_UP), subnet, ip_address (STATIC), default_gateway.", "mode! subnet ip_address default_gateway";
            "unlink_subnet" "POST" Some("unlink_subnet"), "Remove a link: id.", "id!";
            "update" "PUT" None, "Update name, mtu, bond_mode, bridge_stp, bridge_fd.", "name mtu bond_mode bridge_stp bridge_fd vlan";
            "delete" "DELETE" None, "Delete an interface nothing else is built on (a physical one comes back when the machine is commissioned again).";
            "disconnect" "POST" Some("disconnect"), "Remove every link of the interface (and the addresses they held) and take it off its VLAN.";
            "set_default_gateway" "POST" Some("set_default_gateway"), "Route the node's default traffic through this interface: its AUTO or STATIC link on a subnet with a gateway (link_id when it has several in one IP family).", "link_id";
            "add_tag" "POST" Some("add_tag"), "Add a tag to the interface.", "tag!";
            "remove_tag" "POST" Some("remove_tag"), "Remove a tag from the interface.", "tag!";
        ],
    },
    HandlerDef {
        name: "BlockDevicesHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/blockdevices/",
        serve: serve!(|app, r, c| storage::block_devices(app, r, c.user()?, c.arg(0), None).await),
        params: &["system_id"],
        doc: "A machine's block devices: physical disks, logical volumes and bcaches.",
        actions: ops![
            "read" "GET" None, "List the block devices with their partitions and filesystems.";
            "create" "POST" None, "Add a physical disk commissioning did not report (admin; Ready or Allocated): name, model and serial or id_path, size, block_size.", "name! model serial id_path size! block_size";
        ],
    },
    HandlerDef {
        name: "BlockDeviceHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/blockdevices/{id}/",
        serve: serve!(|app, r, c| storage::block_devices(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["system_id", "id"],
        doc: "One block device of a machine.",
        actions: ops![
            "read" "GET" None, "Read the block device.";
            "update" "PUT" None, "Update a physical disk (admin): name, model, serial, id_path, size (not while in use), block_size. A virtual device's fields are set when it is created.", "name model serial id_path size block_size";
            "delete" "DELETE" None, "Delete a logical volume, a bcache, or a physical disk (admin; what is on it goes too).";
            "format" "POST" Some("format"), "Format the whole device: fstype (ext4, ext2, vfat, xfs, swap), uuid, label.", "fstype! uuid label";
            "unformat" "POST" Some("unformat"), "Remove its (unmounted) filesystem.";
            "mount" "POST" Some("mount"), "Mount its filesystem: mount_point (absolute; 'none' for swap), mount_options.", "mount_point! mount_options";
            "unmount" "POST" Some("unmount"), "Unmount its filesystem.";
            "set_boot_disk" "POST" Some("set_boot_disk"), "Make this physical disk the boot disk.";
            "add_tag" "POST" Some("add_tag"), "Add a tag to a physical disk: tag.", "tag!";
            "remove_tag" "POST" Some("remove_tag"), "Remove a tag from a physical disk: tag.", "tag!";
        ],
    },
    HandlerDef {
        name: "PartitionsHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/blockdevices/{device_id}/partitions/",
        serve: serve!(|app, r, c| storage::partitions(app, r, c.user()?, c.arg(0), c.arg(1), None).await),
        params: &["system_id", "device_id"],
        doc: "The partitions of a block device.",
        actions: ops![
            "read" "GET" None, "List the partitions.";
            "create" "POST" None, "Create a partition: size (bytes, or with K/M/G/T; default the rest), bootable.", "size bootable";
        ],
    },
    HandlerDef {
        name: "PartitionHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/blockdevices/{device_id}/partition/{id}",
        serve: serve!(|app, r, c| storage::partitions(app, r, c.user()?, c.arg(0), c.arg(1), Some(c.arg(2))).await),
        params: &["system_id", "device_id", "id"],
        doc: "One partition.",
        actions: ops![
            "read" "GET" None, "Read the partition.";
            "delete" "DELETE" None, "Delete the partition (and its filesystem).";
            "format" "POST" Some("format"), "Format it: fstype, uuid, label.", "fstype! uuid label";
            "unformat" "POST" Some("unformat"), "Remove its (unmounted) filesystem.";
            "mount" "POST" Some("mount"), "Mount its filesystem: mount_point, mount_options.", "mount_point! mount_options";
            "unmount" "POST" Some("unmount"), "Unmount its filesystem.";
            "add_tag" "POST" Some("add_tag"), "Add a tag to the partition: tag.", "tag!";
            "remove_tag" "POST" Some("remove_tag"), "Remove a tag from the partition: tag.", "tag!";
        ],
    },
    HandlerDef {
        name: "VolumeGroupsHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/volume-groups/",
        serve: serve!(|app, r, c| storage::volume_groups(app, r, c.user()?, c.arg(0), None).await),
        params: &["system_id"],
        doc: "A machine's LVM volume groups.",
        actions: ops![
            "read" "GET" None, "List the volume groups.";
            "create" "POST" None, "Create a volume group: name, block_devices, partitions (ids, repeated).", "name! block_devices partitions";
        ],
    },
    HandlerDef {
        name: "VolumeGroupHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/volume-group/{id}/",
        serve: serve!(|app, r, c| storage::volume_groups(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["system_id", "id"],
        doc: "One LVM volume group.",
        actions: ops![
            "read" "GET" None, "Read the volume group.";
            "update" "PUT" None, "Rename it and add or remove physical volumes (block device and partition ids; removed ones must not be needed by its logical volumes).", "name add_block_devices remove_block_devices add_partitions remove_partitions";
            "delete" "DELETE" None, "Delete the volume group (it must have no logical volumes).";
            "create_logical_volume" "POST" Some("create_logical_volume"), "Create a logical volume: name, size (default the rest).", "name! size";
            "delete_logical_volume" "POST" Some("delete_logical_volume"), "Delete a logical volume: id.", "id!";
        ],
    },
    HandlerDef {
        name: "BcacheCacheSetsHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/bcache-cache-sets/",
        serve: serve!(|app, r, c| storage::cache_sets(app, r, c.user()?, c.arg(0), None).await),
        params: &["system_id"],
        doc: "A machine's bcache cache sets.",
        actions: ops![
            "read" "GET" None, "List the cache sets.";
            "create" "POST" None, "Create a cache set: cache_device or cache_partition.", "cache_device cache_partition";
        ],
    },
    HandlerDef {
        name: "BcacheCacheSetHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/bcache-cache-set/{id}/",
        serve: serve!(|app, r, c| storage::cache_sets(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["system_id", "id"],
        doc: "One bcache cache set.",
        actions: ops![
            "read" "GET" None, "Read the cache set.";
            "update" "PUT" None, "Move the cache set to another free device: cache_device or cache_partition.", "cache_device cache_partition";
            "delete" "DELETE" None, "Delete the cache set (no bcache may use it).";
        ],
    },
    HandlerDef {
        name: "BcachesHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/bcaches/",
        serve: serve!(|app, r, c| storage::bcaches(app, r, c.user()?, c.arg(0), None).await),
        params: &["system_id"],
        doc: "A machine's bcache devices.",
        actions: ops![
            "read" "GET" None, "List the bcaches.";
            "create" "POST" None, "Create a bcache: name, backing_device or backing_partition, cache_set, cache_mode (writeback, writethrough, writearound).", "name backing_device backing_partition cache_set! cache_mode!";
        ],
    },
    HandlerDef {
        name: "BcacheHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/bcache/{id}/",
        serve: serve!(|app, r, c| storage::bcaches(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["system_id", "id"],
        doc: "One bcache device.",
        actions: ops![
            "read" "GET" None, "Read the bcache.";
            "update" "PUT" None, "Change the bcache: name, uuid, cache_set, backing_device or backing_partition (a free device), cache_mode (writeback, writethrough, writearound).", "name uuid cache_set backing_device backing_partition cache_mode";
            "delete" "DELETE" None, "Delete the bcache (and its filesystem).";
        ],
    },
    HandlerDef {
        name: "RaidsHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/raids/",
        serve: serve!(|app, r, c| raids::raids(app, r, c.user()?, c.arg(0), None).await),
        params: &["system_id"],
        doc: "A machine's RAID arrays (md, assembled by mdadm at deployment).",
        actions: ops![
            "read" "GET" None, "List the RAIDs.";
            "create" "POST" None, "Create a RAID: level (raid-0, raid-1, raid-5, raid-6, raid-10), block_devices and partitions (active members), spare_devices and spare_partitions, name (default mdN), uuid.", "level! name uuid block_devices partitions spare_devices spare_partitions";
        ],
    },
    HandlerDef {
        name: "RaidHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/raid/{id}/",
        serve: serve!(|app, r, c| raids::raids(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["system_id", "id"],
        doc: "One RAID array.",
        actions: ops![
            "read" "GET" None, "Read the RAID.";
            "update" "PUT" None, "Rename it, give it a UUID, add or remove active members and spares (block device and partition ids); the level's member count must still hold.", "name uuid add_block_devices remove_block_devices add_partitions remove_partitions add_spare_devices remove_spare_devices add_spare_partitions remove_spare_partitions";
            "delete" "DELETE" None, "Delete the RAID (and its filesystem); its members become unused.";
        ],
    },
    HandlerDef {
        name: "NodeScriptResultsHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/results/",
        serve: serve!(|app, r, c| scripts::results(app, r, c.user()?, c.arg(0), None).await),
        params: &["system_id"],
        doc: "A machine's script results, by set (commissioning, testing, installation, release).",
        actions: ops![
            "read" "GET" None, "List result sets: type, hardware_type, filters (script names), include_output (base64).", "type hardware_type filters include_output";
        ],
    },
    HandlerDef {
        name: "NodeScriptResultHandler",
        path: "/MAAS/api/2.0/nodes/{system_id}/results/{id}/",
        serve: serve!(|app, r, c| scripts::results(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["system_id", "id"],
        doc: "One result set (id, or current-commissioning, current-testing, current-installation, current-release).",
        actions: ops![
            "read" "GET" None, "Read the set and its results.", "hardware_type filters include_output";
            "download" "GET" Some("download"), "Outputs as text: output=combined|stdout|stderr|result, filters.", "output filters";
        ],
    },
    HandlerDef {
        name: "RackControllersHandler",
        path: "/MAAS/api/2.0/rackcontrollers/",
        serve: serve!(|app, r, c| match machines::anon_node_op(app, r).await {
            Some(answer) => answer,
            None => {
                c.user()?;
                rack::rack_controllers(app, r).await
            }
        }),
        params: &[],
        doc: "The rack controllers that registered with this region (each configuration read is a heartbeat).",
        actions: ops![
            "read" "GET" None, "List rack controllers: hostname, address, version, first and last seen, rackd status, machine (the system id of the machine it runs on).";
            "describe_power_types" "GET" Some("describe_power_types"), "The power drivers and the parameters each takes (as power-types/).";
            "is_registered" "GET" Some("is_registered"), "Whether a MAC address belongs to a node: mac_address.", "mac_address!";
        ],
    },
    HandlerDef {
        name: "RegionControllersHandler",
        path: "/MAAS/api/2.0/regioncontrollers/",
        serve: serve!(|app, r, c| match machines::anon_node_op(app, r).await {
            Some(answer) => answer,
            None => rack::region_controllers(app, r, c.user()?, None).await,
        }),
        params: &[],
        doc: "The machines this region runs on (each region records its host as a machine when it starts).",
        actions: ops![
            "read" "GET" None, "List region controllers (system ids are their machines').";
            "is_registered" "GET" Some("is_registered"), "Whether a MAC address belongs to a node: mac_address.", "mac_address!";
            "set_zone" "POST" Some("set_zone"), "Move nodes to a zone (admin): zone, nodes (system ids, repeated).", "zone! nodes!";
        ],
    },
    HandlerDef {
        name: "RegionControllerHandler",
        path: "/MAAS/api/2.0/regioncontrollers/{system_id}/",
        serve: serve!(|app, r, c| rack::region_controllers(app, r, c.user()?, Some(c.arg(0))).await),
        params: &["system_id"],
        doc: "One region controller.",
        actions: ops![
            "read" "GET" None, "Read the region controller.";
            "details" "GET" Some("details"), "Hardware details of the machine it runs on (BSON).";
            "power_parameters" "GET" Some("power_parameters"), "The power parameters of the machine it runs on (admin).";
            "delete" "DELETE" None, "Remove the region controller (admin): its machine loses the region role (unlocked and unannotated when no role is left; deleted when it has no BMC). A running region records itself again at its next start.";
        ],
    },
    HandlerDef {
        name: "RackControllerHandler",
        path: "/MAAS/api/2.0/rackcontrollers/{system_id}/",
        serve: serve!(|app, r, c| rack::rack_controller(app, r, c.user()?, c.arg(0)).await),
        params: &["system_id"],
        doc: "One rack controller.",
        actions: ops![
            "read" "GET" None, "Read the rack controller (the fields the list has).";
            "list_boot_images" "GET" Some("list_boot_images"), "The images the rack serves: every complete boot resource while the rack is heard from (it fetches each from the region on first use); connected, status (synced, or unknown when not heard from).";
            "power_on" "POST" Some("power_on"), "Power on the machine the rack runs on (as machines/{id}/?op=power_on).", "user_data comment";
            "power_off" "POST" Some("power_off"), "Power off the machine the rack runs on (refused while it is locked, as controllers are).", "stop_mode comment";
            "query_power_state" "GET" Some("query_power_state"), "The power state of the machine the rack runs on.";
            "power_parameters" "GET" Some("power_parameters"), "The power parameters of the machine the rack runs on (admin).";
            "details" "GET" Some("details"), "Hardware details of the machine the rack runs on (BSON).";
            "test" "POST" Some("test"), "Run tests on the machine the rack runs on (admin).", "testing_scripts enable_ssh";
            "abort" "POST" Some("abort"), "Abort the current operation of the machine the rack runs on.", "comment";
            "override_failed_testing" "POST" Some("override_failed_testing"), "Ignore failed tests of the machine the rack runs on (admin).", "comment";
            "delete" "DELETE" None, "Remove the rack controller (admin): its machine is unlocked and loses its ingot_controller annotation, and is deleted when it has no BMC (power type empty or manual).";
        ],
    },
    HandlerDef {
        name: "NetbootTimelineHandler",
        path: "/MAAS/api/2.0/netboot-timeline/",
        serve: serve!(|app, r, c| network::timeline(app, r, c.user()?).await),
        params: &[],
        doc: "Every recorded network-boot hop of a MAC address (DHCP, TFTP, HTTP, metadata), known machine or not.",
        actions: ops![
            "read" "GET" None, "The hops of one MAC, oldest first (admin): mac, limit.", "mac! limit";
        ],
    },
    HandlerDef {
        name: "BootResourcesHandler",
        path: "/MAAS/api/2.0/boot-resources/",
        serve: serve!(|app, r, c| boot_resources::collection(app, r, c.user()?).await),
        params: &[],
        doc: "Manage the boot resources (OS images machines are deployed with).",
        actions: ops![
            "read" "GET" None, "List boot resources: type (uploaded, generated, synced).", "type";
            "create" "POST" None, "Upload an image (admin): name (custom/NAME or NAME), architecture (amd64/generic), filetype (tgz, ddraw), title, and content (file) or sha256 + size (then PUT the bytes in chunks to the file's upload_uri).", "name! architecture! filetype title content sha256 size";
            "import" "POST" Some("import"), "Import the boot sources' selected images in the background (admin): signed index and product files checked against each source's keyring, each file's sha256 and size checked, interrupted downloads resumed.";
            "is_importing" "GET" Some("is_importing"), "Whether an import is running (true/false).";
            "import_status" "GET" Some("import_status"), "The running or last import: state, each file's progress (bytes done of size), and what was refused, naming the file.";
            "stop_import" "POST" Some("stop_import"), "Stop the running import (admin); partial files are kept and resumed by the next import.";
        ],
    },
    HandlerDef {
        name: "BootResourceHandler",
        path: "/MAAS/api/2.0/boot-resources/{id}/",
        serve: serve!(|app, r, c| boot_resources::item(app, r, c.user()?, c.arg(0), None).await),
        params: &["id"],
        doc: "Manage a boot resource.",
        actions: ops![
            "read" "GET" None, "Read a boot resource with its set and file (sha256, size, complete, upload_uri).";
            "delete" "DELETE" None, "Delete a boot resource (admin).";
        ],
    },
    HandlerDef {
        name: "BootResourceFileUploadHandler",
        path: "/MAAS/api/2.0/boot-resources/{id}/upload/{file_id}/",
        serve: serve!(|app, r, c| boot_resources::item(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["id", "file_id"],
        doc: "Upload a boot resource's file in chunks.",
        actions: ops![
            "update" "PUT" None, "Upload the next chunk of the file (the request body is the bytes; admin).";
        ],
    },
    HandlerDef {
        name: "BootSourcesHandler",
        path: "/MAAS/api/2.0/boot-sources/",
        serve: serve!(|app, r, c| boot_sources::collection(app, r, c.user()?).await),
        params: &[],
        doc: "Manage the boot sources: simplestreams mirrors images are imported from (admin).",
        actions: ops![
            "read" "GET" None, "List boot sources.";
            "create" "POST" None, "Create a boot source: url (the mirror, e.g. http://host/path/ with streams/v1/ under it, or its index URL), keyring_filename (a keyring file on the region) or keyring_data (the keyring: a file, base64 or armored; binary or armored keyrings). With a keyring the signed .sjson files are fetched and checked, without one the plain .json files.", "url! keyring_filename keyring_data";
        ],
    },
    HandlerDef {
        name: "BootSourceHandler",
        path: "/MAAS/api/2.0/boot-sources/{id}/",
        serve: serve!(|app, r, c| boot_sources::item(app, r, c.user()?, c.arg(0)).await),
        params: &["id"],
        doc: "Manage a boot source (admin).",
        actions: ops![
            "read" "GET" None, "Read a boot source.";
            "update" "PUT" None, "Update a boot source: url, keyring_filename, keyring_data.", "url keyring_filename keyring_data";
            "delete" "DELETE" None, "Delete a boot source and its selections (imported resources stay).";
        ],
    },
    HandlerDef {
        name: "BootSourceSelectionsHandler",
        path: "/MAAS/api/2.0/boot-sources/{boot_source_id}/selections/",
        serve: serve!(|app, r, c| boot_sources::selections(app, r, c.user()?, c.arg(0), None).await),
        params: &["boot_source_id"],
        doc: "Manage a boot source's selections: what the import fetches (admin).",
        actions: ops![
            "read" "GET" None, "List the boot source's selections.";
            "create" "POST" None, "Create a selection: os, release, arches, subarches, labels (repeated or comma-separated; * for all, the default).", "os! release! arches subarches labels";
        ],
    },
    HandlerDef {
        name: "BootSourceSelectionHandler",
        path: "/MAAS/api/2.0/boot-sources/{boot_source_id}/selections/{id}/",
        serve: serve!(|app, r, c| boot_sources::selections(app, r, c.user()?, c.arg(0), Some(c.arg(1))).await),
        params: &["boot_source_id", "id"],
        doc: "Manage a boot source selection (admin).",
        actions: ops![
            "read" "GET" None, "Read a selection.";
            "update" "PUT" None, "Update a selection: os, release, arches, subarches, labels.", "os release arches subarches labels";
            "delete" "DELETE" None, "Delete a selection.";
        ],
    },
];

pub const ANON_HANDLERS: &[AnonDef] = &[
    AnonDef {
        name: "AnonFilesHandler",
        path: "/MAAS/api/2.0/files/",
        doc: "Read a stored file by its key.",
        actions: ops![
            "get_by_key" "GET" Some("get_by_key"), "A file's bytes by its key.", "key!";
        ],
    },
    AnonDef {
        name: "AnonMachinesHandler",
        path: "/MAAS/api/2.0/machines/",
        doc: "Anonymous machine enlistment.",
        actions: ops![
            "create" "POST" None, "Enlist a machine: architecture, mac_addresses, hostname, power_type, power_parameters (JSON), commission.", "architecture mac_addresses hostname description power_type power_parameters commission domain";
            "is_registered" "GET" Some("is_registered"), "Whether a MAC address is registered: mac_address.", "mac_address!";
            "is_action_in_progress" "GET" Some("is_action_in_progress"), "Whether the node with this MAC is commissioning or deploying (asked by a booting machine without credentials).", "mac_address!";
        ],
    },
    AnonDef {
        name: "AnonNodesHandler",
        path: "/MAAS/api/2.0/nodes/",
        doc: "Anonymous access to nodes.",
        actions: ops![
            "is_action_in_progress" "GET" Some("is_action_in_progress"), "Whether the node with this MAC is commissioning or deploying (asked by a booting machine without credentials).", "mac_address!";
        ],
    },
    AnonDef {
        name: "AnonDevicesHandler",
        path: "/MAAS/api/2.0/devices/",
        doc: "Anonymous access to devices.",
        actions: ops![
            "is_action_in_progress" "GET" Some("is_action_in_progress"), "Whether the node with this MAC is commissioning or deploying (asked by a booting machine without credentials).", "mac_address!";
        ],
    },
    AnonDef {
        name: "AnonRackControllersHandler",
        path: "/MAAS/api/2.0/rackcontrollers/",
        doc: "Anonymous access to rack controllers.",
        actions: ops![
            "is_action_in_progress" "GET" Some("is_action_in_progress"), "Whether the node with this MAC is commissioning or deploying (asked by a booting machine without credentials).", "mac_address!";
        ],
    },
    AnonDef {
        name: "AnonRegionControllersHandler",
        path: "/MAAS/api/2.0/regioncontrollers/",
        doc: "Anonymous access to region controllers.",
        actions: ops![
            "is_action_in_progress" "GET" Some("is_action_in_progress"), "Whether the node with this MAC is commissioning or deploying (asked by a booting machine without credentials).", "mac_address!";
        ],
    },
];
