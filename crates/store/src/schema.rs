//! The one schema, written once per dialect. Every integer is 64-bit (BIGINT / INTEGER) and
//! booleans are integers, so that rows decode identically through sqlx's `Any` driver.

/// (version, sqlite, postgres)
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, V1_SQLITE, V1_PG),
    (2, V2_SQLITE, V2_PG),
    (3, V3_SQLITE, V3_PG),
    (4, V4_SQLITE, V4_PG),
    (5, V5_SQLITE, V5_PG),
    (6, V6_SQLITE, V6_PG),
    (7, V7, V7),
    (8, V8_SQLITE, V8_PG),
    (9, V9_SQLITE, V9_PG),
    (10, V10, V10),
    (11, V11, V11),
    (12, V12, V12),
    (13, V13, V13),
    (14, V14, V14),
    (15, V15_SQLITE, V15_PG),
    (16, V16_SQLITE, V16_PG),
    (17, V17, V17),
    (18, V18_SQLITE, V18_PG),
    (19, V19_SQLITE, V19_PG),
    (20, V20, V20),
    (21, V21, V21),
    (22, V22_SQLITE, V22_PG),
    (23, V23, V23),
    (24, V24, V24),
    (25, V25_SQLITE, V25_PG),
    (26, V26_SQLITE, V26_PG),
    (27, V27_SQLITE, V27_PG),
    (28, V28, V28),
    (29, V29, V29),
    (30, V30, V30),
    (31, V31, V31),
];

macro_rules! v1 {
    ($pk:literal, $blob:literal) => {
        concat!(
            "CREATE TABLE users (id ", $pk, ", username TEXT NOT NULL UNIQUE, email TEXT NOT NULL DEFAULT '', password_hash TEXT NOT NULL DEFAULT '', is_admin BIGINT NOT NULL DEFAULT 0, is_active BIGINT NOT NULL DEFAULT 1, is_system BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL);\n",
            "CREATE TABLE zones (id ", $pk, ", name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL);\n",
            "CREATE TABLE pools (id ", $pk, ", name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL);\n",
            "CREATE TABLE domains (id ", $pk, ", name TEXT NOT NULL UNIQUE, authoritative BIGINT NOT NULL DEFAULT 1, ttl BIGINT);\n",
            "CREATE TABLE tags (id ", $pk, ", name TEXT NOT NULL UNIQUE, comment TEXT NOT NULL DEFAULT '', definition TEXT NOT NULL DEFAULT '', kernel_opts TEXT NOT NULL DEFAULT '');\n",
            "CREATE TABLE machines (id ", $pk, ", system_id TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL UNIQUE, domain_id BIGINT NOT NULL REFERENCES domains(id), description TEXT NOT NULL DEFAULT '', node_type BIGINT NOT NULL DEFAULT 0, status BIGINT NOT NULL, previous_status BIGINT, owner_id BIGINT REFERENCES users(id), locked BIGINT NOT NULL DEFAULT 0, architecture TEXT, min_hwe_kernel TEXT NOT NULL DEFAULT '', hwe_kernel TEXT NOT NULL DEFAULT '', osystem TEXT NOT NULL DEFAULT '', distro_series TEXT NOT NULL DEFAULT '', agent_name TEXT NOT NULL DEFAULT '', user_data ", $blob, ", power_type TEXT NOT NULL DEFAULT '', power_parameters TEXT NOT NULL DEFAULT '{}', power_state TEXT NOT NULL DEFAULT 'unknown', zone_id BIGINT NOT NULL REFERENCES zones(id), pool_id BIGINT NOT NULL REFERENCES pools(id), cpu_count BIGINT NOT NULL DEFAULT 0, cpu_speed BIGINT NOT NULL DEFAULT 0, memory BIGINT NOT NULL DEFAULT 0, hardware_uuid TEXT, error_description TEXT NOT NULL DEFAULT '', netboot BIGINT NOT NULL DEFAULT 1, enlisting BIGINT NOT NULL DEFAULT 0, commissioning_passed BIGINT NOT NULL DEFAULT 0, status_expires BIGINT, last_heard TEXT NOT NULL DEFAULT '', workload_annotations TEXT NOT NULL DEFAULT '{}', version BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL, updated BIGINT NOT NULL);\n",
            "CREATE INDEX machines_status ON machines(status);\n",
            "CREATE INDEX machines_expires ON machines(status_expires);\n",
            "CREATE TABLE machine_tags (machine_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE, tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE, PRIMARY KEY (machine_id, tag_id));\n",
            "CREATE TABLE interfaces (id ", $pk, ", machine_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE, name TEXT NOT NULL, type TEXT NOT NULL DEFAULT 'physical', mac_address TEXT NOT NULL UNIQUE, enabled BIGINT NOT NULL DEFAULT 1);\n",
            "CREATE INDEX interfaces_machine ON interfaces(machine_id);\n",
            "CREATE TABLE tokens (id ", $pk, ", kind TEXT NOT NULL, user_id BIGINT REFERENCES users(id) ON DELETE CASCADE, machine_id BIGINT REFERENCES machines(id) ON DELETE CASCADE, name TEXT NOT NULL DEFAULT '', consumer_key TEXT NOT NULL, token_key TEXT NOT NULL UNIQUE, token_secret TEXT NOT NULL, created BIGINT NOT NULL);\n",
            "CREATE INDEX tokens_machine ON tokens(machine_id);\n",
            "CREATE TABLE events (id ", $pk, ", machine_id BIGINT, system_id TEXT NOT NULL DEFAULT '', hostname TEXT NOT NULL DEFAULT '', type TEXT NOT NULL, level TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', username TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL);\n",
            "CREATE INDEX events_system_id ON events(system_id, id);\n",
            "CREATE TABLE script_results (id ", $pk, ", machine_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE, result_set TEXT NOT NULL, name TEXT NOT NULL, status BIGINT NOT NULL, exit_status BIGINT, output ", $blob, ", stdout ", $blob, ", stderr ", $blob, ", result ", $blob, ", runtime TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL, updated BIGINT NOT NULL);\n",
            "CREATE INDEX script_results_machine ON script_results(machine_id, result_set);\n",
            "CREATE TABLE sshkeys (id ", $pk, ", user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, key TEXT NOT NULL, created BIGINT NOT NULL);\n",
            "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);\n",
            "INSERT INTO zones (name, description, created) VALUES ('default', 'The default zone', 0);\n",
            "INSERT INTO pools (name, description, created) VALUES ('default', 'Default pool', 0);\n",
            "INSERT INTO domains (name, authoritative) VALUES ('maas', 1);\n",
            "INSERT INTO users (username, email, is_active, is_system, created) VALUES ('maas-init-node', '', 0, 1, 0);\n",
        )
    };
}

const V1_SQLITE: &str = v1!("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB");
const V1_PG: &str = v1!("BIGSERIAL PRIMARY KEY", "BYTEA");

/// The network model the rack serves (fabrics, VLANs, subnets, IP ranges) and the per-MAC
/// netboot timeline.
macro_rules! v2 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE fabrics (id ", $pk, ", name TEXT NOT NULL UNIQUE, class_type TEXT, created BIGINT NOT NULL);\n",
            "CREATE TABLE vlans (id ", $pk, ", fabric_id BIGINT NOT NULL REFERENCES fabrics(id) ON DELETE CASCADE, vid BIGINT NOT NULL, name TEXT NOT NULL DEFAULT '', mtu BIGINT NOT NULL DEFAULT 1500, dhcp_on BIGINT NOT NULL DEFAULT 0, UNIQUE (fabric_id, vid));\n",
            "CREATE TABLE subnets (id ", $pk, ", name TEXT NOT NULL UNIQUE, cidr TEXT NOT NULL UNIQUE, vlan_id BIGINT NOT NULL REFERENCES vlans(id), gateway_ip TEXT, dns_servers TEXT NOT NULL DEFAULT '', managed BIGINT NOT NULL DEFAULT 1, created BIGINT NOT NULL);\n",
            "CREATE TABLE ipranges (id ", $pk, ", subnet_id BIGINT NOT NULL REFERENCES subnets(id) ON DELETE CASCADE, type TEXT NOT NULL, start_ip TEXT NOT NULL, end_ip TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL);\n",
            "CREATE TABLE netboot_events (id ", $pk, ", mac TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL);\n",
            "CREATE INDEX netboot_events_mac ON netboot_events(mac, id);\n",
            "INSERT INTO fabrics (name, created) VALUES ('fabric-0', 0);\n",
            "INSERT INTO vlans (fabric_id, vid, name) VALUES (1, 0, 'untagged');\n",
        )
    };
}

const V2_SQLITE: &str = v2!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V2_PG: &str = v2!("BIGSERIAL PRIMARY KEY");

/// Static IP addresses (user reservations now; machine links later). `ip` is unique across the
/// whole region, so two regions on one PostgreSQL can never hand one address out twice.
macro_rules! v3 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE staticips (id ", $pk, ", subnet_id BIGINT NOT NULL REFERENCES subnets(id), ip TEXT NOT NULL UNIQUE, alloc_type BIGINT NOT NULL, mac TEXT, hostname TEXT NOT NULL DEFAULT '', user_id BIGINT REFERENCES users(id) ON DELETE CASCADE, interface_id BIGINT REFERENCES interfaces(id) ON DELETE CASCADE, created BIGINT NOT NULL);\n",
            "CREATE INDEX staticips_subnet ON staticips(subnet_id);\n",
            "CREATE UNIQUE INDEX staticips_mac ON staticips(mac);\n",
        )
    };
}

const V3_SQLITE: &str = v3!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V3_PG: &str = v3!("BIGSERIAL PRIMARY KEY");

/// Commissioning and testing: user scripts, the run bookkeeping of each result, and what a
/// machine's inventory taught us (block devices, NIC details, the derived document itself).
macro_rules! v4 {
    ($pk:literal, $blob:literal) => {
        concat!(
            "CREATE TABLE scripts (id ", $pk, ", name TEXT NOT NULL UNIQUE, title TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '', script_type BIGINT NOT NULL, hardware_type BIGINT NOT NULL DEFAULT 0, parallel BIGINT NOT NULL DEFAULT 0, timeout BIGINT NOT NULL DEFAULT 0, destructive BIGINT NOT NULL DEFAULT 0, may_reboot BIGINT NOT NULL DEFAULT 0, meta TEXT NOT NULL DEFAULT '{}', body ", $blob, " NOT NULL, version BIGINT NOT NULL DEFAULT 1, created BIGINT NOT NULL, updated BIGINT NOT NULL);\n",
            "ALTER TABLE script_results ADD COLUMN script_id BIGINT;\n",
            "ALTER TABLE script_results ADD COLUMN run_order BIGINT NOT NULL DEFAULT 0;\n",
            "ALTER TABLE script_results ADD COLUMN timeout_secs BIGINT NOT NULL DEFAULT 0;\n",
            "ALTER TABLE script_results ADD COLUMN hardware_type BIGINT NOT NULL DEFAULT 0;\n",
            "ALTER TABLE script_results ADD COLUMN started BIGINT;\n",
            "ALTER TABLE script_results ADD COLUMN ended BIGINT;\n",
            "CREATE TABLE block_devices (id ", $pk, ", machine_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE, name TEXT NOT NULL, id_path TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '', size BIGINT NOT NULL, block_size BIGINT NOT NULL DEFAULT 512, tags TEXT NOT NULL DEFAULT '', firmware_version TEXT NOT NULL DEFAULT '', numa_node BIGINT NOT NULL DEFAULT 0, is_boot BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL);\n",
            "CREATE INDEX block_devices_machine ON block_devices(machine_id);\n",
            "ALTER TABLE interfaces ADD COLUMN details TEXT NOT NULL DEFAULT '{}';\n",
            "ALTER TABLE interfaces ADD COLUMN is_boot BIGINT NOT NULL DEFAULT 0;\n",
            "CREATE TABLE machine_hardware (machine_id BIGINT PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE, inventory TEXT NOT NULL, info TEXT NOT NULL DEFAULT '{}', updated BIGINT NOT NULL);\n",
        )
    };
}

const V4_SQLITE: &str = v4!("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB");
const V4_PG: &str = v4!("BIGSERIAL PRIMARY KEY", "BYTEA");

/// Rack controllers, as they register: each configuration read from a rack refreshes its row.
macro_rules! v5 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE racks (id ", $pk, ", system_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE, address TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '', first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL);\n",
        )
    };
}

const V5_SQLITE: &str = v5!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V5_PG: &str = v5!("BIGSERIAL PRIMARY KEY");

/// How a machine's interface is configured on a subnet when it is deployed (MAAS's interface
/// links): AUTO (an address picked at deploy), STATIC (a `staticips` row bound to the
/// interface), DHCP, LINK_UP.
macro_rules! v6 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE interface_links (id ", $pk, ", interface_id BIGINT NOT NULL REFERENCES interfaces(id) ON DELETE CASCADE, mode TEXT NOT NULL, subnet_id BIGINT REFERENCES subnets(id), staticip_id BIGINT REFERENCES staticips(id), default_gateway BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL);\n",
            "CREATE INDEX interface_links_interface ON interface_links(interface_id);\n",
        )
    };
}

const V6_SQLITE: &str = v6!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V6_PG: &str = v6!("BIGSERIAL PRIMARY KEY");

/// Deployment admission: when a deployment was queued for a slot (NULL: not queued).
const V7: &str = "ALTER TABLE machines ADD COLUMN deploy_queued BIGINT;\n";

/// The storage model (issue 6): partition tables, partitions, filesystems, volume groups,
/// logical volumes, cache sets and bcaches of a machine, one row each (`kind` and the object as
/// JSON; references by id). Physical disks stay in `block_devices`. Ids start at 2^32 so that
/// virtual block devices (logical volumes, bcaches) never share an id with a physical one: the
/// API's `blockdevices/{id}/` covers both, as MAAS's one block-device table does.
macro_rules! v8 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE storage_objects (id ", $pk, ", machine_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE, kind TEXT NOT NULL, data TEXT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL);\n",
            "CREATE INDEX storage_objects_machine ON storage_objects(machine_id);\n",
        )
    };
}

/// Bonds, VLANs and bridges: an interface's parents, and its parameters (bond mode, VLAN,
/// bridge STP, MTU, the MAC it shows). Only physical interfaces hold a real MAC in
/// `mac_address` (unique region-wide: the hardware's identity); a virtual interface keeps a
/// unique placeholder there (`bond:…`) and its MAC in `params`.
const V10: &str = concat!(
    "ALTER TABLE interfaces ADD COLUMN params TEXT NOT NULL DEFAULT '{}';\n",
    "CREATE TABLE interface_parents (child_id BIGINT NOT NULL REFERENCES interfaces(id) ON DELETE CASCADE, parent_id BIGINT NOT NULL REFERENCES interfaces(id) ON DELETE CASCADE, PRIMARY KEY (child_id, parent_id));\n",
    "CREATE INDEX interface_parents_parent ON interface_parents(parent_id);\n",
);

/// The rack that last served a machine's network boot (its name, as racks register): the
/// deployment admission limit applies per rack.
const V11: &str = "ALTER TABLE machines ADD COLUMN boot_rack TEXT;\n";

/// Deployment: uploaded boot resources (one set with one file each; the bytes live
/// content-addressed in `DATA_DIR/images/<sha256>`, a partial upload in
/// `DATA_DIR/images/.upload-<id>`) and the parameter values of a script result (`wipe-disks`'
/// `quick_erase` / `secure_erase`).
macro_rules! v9 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE boot_resources (id ", $pk, ", name TEXT NOT NULL, architecture TEXT NOT NULL, title TEXT NOT NULL DEFAULT '', filetype TEXT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL, uploaded BIGINT NOT NULL DEFAULT 0, complete BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL, updated BIGINT NOT NULL, UNIQUE (name, architecture));\n",
            "ALTER TABLE script_results ADD COLUMN parameters TEXT NOT NULL DEFAULT '{}';\n",
        )
    };
}

const V8_SQLITE: &str = concat!(
    v8!("INTEGER PRIMARY KEY AUTOINCREMENT"),
    "INSERT INTO sqlite_sequence (name, seq) VALUES ('storage_objects', 4294967296);\n",
);
const V8_PG: &str = concat!(
    v8!("BIGSERIAL PRIMARY KEY"),
    "ALTER SEQUENCE storage_objects_id_seq RESTART WITH 4294967297;\n",
);

const V9_SQLITE: &str = v9!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V9_PG: &str = v9!("BIGSERIAL PRIMARY KEY");

/// `commission skip_storage=true`: the commissioning in progress keeps the storage layout.
const V12: &str = "ALTER TABLE machines ADD COLUMN skip_storage BIGINT NOT NULL DEFAULT 0;\n";

/// Hardware sync of deployed machines: when the machine last checked in (ms) and the interval
/// it said it checks at (seconds).
const V13: &str = concat!(
    "ALTER TABLE machines ADD COLUMN last_sync BIGINT;\n",
    "ALTER TABLE machines ADD COLUMN sync_interval BIGINT;\n",
);

/// Controllers as machines: the machine a rack controller runs on (found or created when it
/// registers; `NULL` when none). No foreign key: a deleted machine leaves a dangling id, which
/// reads as "no machine".
const V14: &str = "ALTER TABLE racks ADD COLUMN machine_id BIGINT;\n";

/// Images from simplestreams mirrors: boot sources (the mirror's URL and the keyring its
/// signed files are checked against; `keyring_data` base64), their selections (lists as JSON
/// arrays), and which boot resources were synced from one (`rtype`, the stream's `version`,
/// the set's other files as a JSON list of `{ftype, sha256, size, path}`).
macro_rules! v15 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE boot_sources (id ", $pk, ", url TEXT NOT NULL UNIQUE, keyring_filename TEXT NOT NULL DEFAULT '', keyring_data TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL, updated BIGINT NOT NULL);\n",
            "CREATE TABLE boot_source_selections (id ", $pk, ", boot_source_id BIGINT NOT NULL REFERENCES boot_sources(id) ON DELETE CASCADE, os TEXT NOT NULL, release TEXT NOT NULL, arches TEXT NOT NULL DEFAULT '[\"*\"]', subarches TEXT NOT NULL DEFAULT '[\"*\"]', labels TEXT NOT NULL DEFAULT '[\"*\"]', created BIGINT NOT NULL, UNIQUE (boot_source_id, os, release));\n",
            "ALTER TABLE boot_resources ADD COLUMN rtype TEXT NOT NULL DEFAULT 'uploaded';\n",
            "ALTER TABLE boot_resources ADD COLUMN version TEXT NOT NULL DEFAULT '';\n",
            "ALTER TABLE boot_resources ADD COLUMN extra TEXT NOT NULL DEFAULT '[]';\n",
        )
    };
}

const V15_SQLITE: &str = v15!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V15_PG: &str = v15!("BIGSERIAL PRIMARY KEY");

/// Static routes (MAAS `static-routes/`): machines with an address on `source` reach
/// `destination` through `gateway_ip`. A deleted subnet takes its routes with it.
macro_rules! v16 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE static_routes (id ", $pk, ", source_id BIGINT NOT NULL REFERENCES subnets(id) ON DELETE CASCADE, destination_id BIGINT NOT NULL REFERENCES subnets(id) ON DELETE CASCADE, gateway_ip TEXT NOT NULL, metric BIGINT NOT NULL DEFAULT 0, UNIQUE (source_id, destination_id, gateway_ip));\n",
        )
    };
}
const V16_SQLITE: &str = v16!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V16_PG: &str = v16!("BIGSERIAL PRIMARY KEY");

/// The default fabric is id 0, as in MAAS (its docs and clients address `fabrics/0/` and
/// `vlan update 0 untagged`): fabric 1 (created by version 2) becomes 0, its VLANs with it,
/// under the same name.
const V17: &str = concat!(
    "INSERT INTO fabrics (id, name, class_type, created) SELECT 0, name || '.renumbered', class_type, created FROM fabrics WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM fabrics WHERE id = 0);\n",
    "UPDATE vlans SET fabric_id = 0 WHERE fabric_id = 1 AND EXISTS (SELECT 1 FROM fabrics WHERE id = 0 AND name LIKE '%.renumbered');\n",
    "DELETE FROM fabrics WHERE id = 1 AND EXISTS (SELECT 1 FROM fabrics WHERE id = 0 AND name LIKE '%.renumbered');\n",
    "UPDATE fabrics SET name = substr(name, 1, length(name) - 11) WHERE id = 0 AND name LIKE '%.renumbered';\n",
);

/// MAAS's file storage (`files/`; Juju keeps its provider state there): a user's files by
/// name, each with a random key that reads it without credentials.
macro_rules! v18 {
    ($pk:literal, $blob:literal) => {
        concat!(
            "CREATE TABLE files (id ", $pk, ", owner_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, filename TEXT NOT NULL, key TEXT NOT NULL UNIQUE, content ", $blob, " NOT NULL, created BIGINT NOT NULL, UNIQUE (owner_id, filename));\n",
        )
    };
}
const V18_SQLITE: &str = v18!("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB");
const V18_PG: &str = v18!("BIGSERIAL PRIMARY KEY", "BYTEA");

/// Spaces (MAAS ≥ 2.4: a VLAN is in at most one space; its subnets are in it too).
macro_rules! v19 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE spaces (id ", $pk, ", name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL);\n",
            "ALTER TABLE vlans ADD COLUMN space_id BIGINT REFERENCES spaces(id);\n",
        )
    };
}
const V19_SQLITE: &str = v19!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V19_PG: &str = v19!("BIGSERIAL PRIMARY KEY");

/// Devices (MAAS `devices/`: nodes of type 1 that Ingot does not provision, such as the
/// containers Juju gives addresses) with their parent machine, and the VLAN an interface is on.
const V20: &str = concat!(
    "ALTER TABLE machines ADD COLUMN parent_id BIGINT REFERENCES machines(id) ON DELETE CASCADE;\n",
    "ALTER TABLE interfaces ADD COLUMN vlan_id BIGINT REFERENCES vlans(id) ON DELETE SET NULL;\n",
);

/// What MAAS keeps on a VLAN and a subnet beyond the basics: a VLAN's description, the rack
/// controllers that serve its DHCP (by system id) and the VLAN it relays DHCP to; a subnet's
/// description, whether machines on it are offered the region's DNS and proxy, its reverse-DNS
/// mode (0 disabled, 1 enabled, 2 RFC 2317) and active discovery.
const V21: &str = concat!(
    "ALTER TABLE vlans ADD COLUMN description TEXT NOT NULL DEFAULT '';\n",
    "ALTER TABLE vlans ADD COLUMN primary_rack TEXT;\n",
    "ALTER TABLE vlans ADD COLUMN secondary_rack TEXT;\n",
    "ALTER TABLE vlans ADD COLUMN relay_vlan_id BIGINT REFERENCES vlans(id) ON DELETE SET NULL;\n",
    "ALTER TABLE subnets ADD COLUMN description TEXT NOT NULL DEFAULT '';\n",
    "ALTER TABLE subnets ADD COLUMN allow_dns BIGINT NOT NULL DEFAULT 1;\n",
    "ALTER TABLE subnets ADD COLUMN allow_proxy BIGINT NOT NULL DEFAULT 1;\n",
    "ALTER TABLE subnets ADD COLUMN rdns_mode BIGINT NOT NULL DEFAULT 2;\n",
    "ALTER TABLE subnets ADD COLUMN active_discovery BIGINT NOT NULL DEFAULT 0;\n",
);

/// Package repositories (MAAS `package-repositories/`): the apt sources deployed machines
/// receive. Lists are space-separated. The two default Ubuntu archives exist from the start,
/// as in MAAS.
macro_rules! v22 {
    ($pk:literal) => {
        concat!(
            "CREATE TABLE package_repositories (id ", $pk, ", name TEXT NOT NULL UNIQUE, url TEXT NOT NULL, distributions TEXT NOT NULL DEFAULT '', disabled_pockets TEXT NOT NULL DEFAULT '', disabled_components TEXT NOT NULL DEFAULT '', disable_sources BIGINT NOT NULL DEFAULT 1, components TEXT NOT NULL DEFAULT '', arches TEXT NOT NULL DEFAULT '', key TEXT NOT NULL DEFAULT '', enabled BIGINT NOT NULL DEFAULT 1, is_default BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL);\n",
            "INSERT INTO package_repositories (name, url, arches, is_default, created) VALUES ('main_archive', 'http://archive.ubuntu.com/ubuntu', 'amd64 i386', 1, 0);\n",
            "INSERT INTO package_repositories (name, url, arches, is_default, created) VALUES ('ports_archive', 'http://ports.ubuntu.com/ubuntu-ports', 'armhf arm64 ppc64el riscv64 s390x', 1, 0);\n",
        )
    };
}
const V22_SQLITE: &str = v22!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V22_PG: &str = v22!("BIGSERIAL PRIMARY KEY");

/// A comment on a reserved address (MAAS `reservedips/`).
const V23: &str = "ALTER TABLE staticips ADD COLUMN comment TEXT NOT NULL DEFAULT '';\n";

/// Web UI sessions: the SHA-256 of the cookie's token (never the token), its user, the CSRF
/// token the pages send back, and when it ends; machines by last change (the live stream).
const V24: &str = concat!(
    "CREATE TABLE ui_sessions (id TEXT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, csrf TEXT NOT NULL, created BIGINT NOT NULL, expires BIGINT NOT NULL);\n",
    "CREATE INDEX ui_sessions_expires ON ui_sessions(expires);\n",
    // The UI's live stream asks which machines changed lately.
    "CREATE INDEX machines_updated ON machines(updated);\n",
);

/// DNS (MAAS `domains/`, `dnsresources/`, `dnsresourcerecords/`): the default domain is id 0,
/// as in MAAS (domain 1, made by version 1, becomes 0 with its machines), and which domain is
/// the default is kept on the domain; a name in a domain with its addresses and TTL; the
/// other records of a name (type, data, TTL).
macro_rules! v25 {
    ($pk:literal) => {
        concat!(
            "INSERT INTO domains (id, name, authoritative, ttl) SELECT 0, name || '.renumbered', authoritative, ttl FROM domains WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM domains WHERE id = 0);\n",
            "UPDATE machines SET domain_id = 0 WHERE domain_id = 1 AND EXISTS (SELECT 1 FROM domains WHERE id = 0 AND name LIKE '%.renumbered');\n",
            "DELETE FROM domains WHERE id = 1 AND EXISTS (SELECT 1 FROM domains WHERE id = 0 AND name LIKE '%.renumbered');\n",
            "UPDATE domains SET name = substr(name, 1, length(name) - 11) WHERE id = 0 AND name LIKE '%.renumbered';\n",
            "ALTER TABLE domains ADD COLUMN is_default BIGINT NOT NULL DEFAULT 0;\n",
            "UPDATE domains SET is_default = 1 WHERE id = (SELECT MIN(id) FROM domains);\n",
            "CREATE TABLE dnsresources (id ", $pk, ", name TEXT NOT NULL, domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE, address_ttl BIGINT, UNIQUE (name, domain_id));\n",
            "CREATE TABLE dnsresource_addresses (dnsresource_id BIGINT NOT NULL REFERENCES dnsresources(id) ON DELETE CASCADE, ip TEXT NOT NULL, UNIQUE (dnsresource_id, ip));\n",
            "CREATE TABLE dnsdata (id ", $pk, ", dnsresource_id BIGINT NOT NULL REFERENCES dnsresources(id) ON DELETE CASCADE, rrtype TEXT NOT NULL, rrdata TEXT NOT NULL, ttl BIGINT);\n",
        )
    };
}
const V25_SQLITE: &str = v25!("INTEGER PRIMARY KEY AUTOINCREMENT");
const V25_PG: &str = v25!("BIGSERIAL PRIMARY KEY");

/// The DNS serial: one counter that every change to what the zones are made of increases in
/// the same transaction (triggers, so that no write path can forget it, and two regions
/// share it). It starts at the time of the migration in seconds, so that a zone's SOA serial
/// never goes back even for a secondary that knew a region built afresh.
macro_rules! v26_sqlite_bump {
    ($name:literal, $event:literal, $table:literal, $($when:tt)+) => {
        concat!(
            "CREATE TRIGGER dns_bump_", $name, " AFTER ", $event, " ON ", $table, " ", $($when)+,
            " BEGIN UPDATE dns_serial SET serial = serial + 1; END;\n"
        )
    };
}
macro_rules! v26_pg_bump {
    ($name:literal, $event:literal, $table:literal, $($each:tt)+) => {
        concat!(
            "CREATE TRIGGER dns_bump_", $name, " AFTER ", $event, " ON ", $table, " ", $($each)+,
            " EXECUTE FUNCTION dns_serial_bump();\n"
        )
    };
}
/// The settings the rack's DNS is configured from.
macro_rules! dns_settings {
    () => {
        "('default_dns_ttl', 'upstream_dns', 'dns_trusted_acl', 'dns_notify')"
    };
}
const V26_SQLITE: &str = concat!(
    "CREATE TABLE dns_serial (id INTEGER PRIMARY KEY, serial BIGINT NOT NULL);\n",
    "INSERT INTO dns_serial (id, serial) VALUES (1, CAST(strftime('%s', 'now') AS INTEGER));\n",
    v26_sqlite_bump!("domains_i", "INSERT", "domains", ""),
    v26_sqlite_bump!("domains_u", "UPDATE", "domains", ""),
    v26_sqlite_bump!("domains_d", "DELETE", "domains", ""),
    v26_sqlite_bump!(
        "machines_u",
        "UPDATE",
        "machines",
        "WHEN OLD.hostname IS NOT NEW.hostname OR OLD.domain_id IS NOT NEW.domain_id"
    ),
    v26_sqlite_bump!("machines_d", "DELETE", "machines", ""),
    v26_sqlite_bump!("staticips_i", "INSERT", "staticips", ""),
    v26_sqlite_bump!(
        "staticips_u",
        "UPDATE",
        "staticips",
        "WHEN OLD.ip IS NOT NEW.ip OR OLD.interface_id IS NOT NEW.interface_id"
    ),
    v26_sqlite_bump!("staticips_d", "DELETE", "staticips", ""),
    v26_sqlite_bump!("dnsresources_i", "INSERT", "dnsresources", ""),
    v26_sqlite_bump!("dnsresources_u", "UPDATE", "dnsresources", ""),
    v26_sqlite_bump!("dnsresources_d", "DELETE", "dnsresources", ""),
    v26_sqlite_bump!("dnsaddr_i", "INSERT", "dnsresource_addresses", ""),
    v26_sqlite_bump!("dnsaddr_d", "DELETE", "dnsresource_addresses", ""),
    v26_sqlite_bump!("dnsdata_i", "INSERT", "dnsdata", ""),
    v26_sqlite_bump!("dnsdata_u", "UPDATE", "dnsdata", ""),
    v26_sqlite_bump!("dnsdata_d", "DELETE", "dnsdata", ""),
    v26_sqlite_bump!("subnets_i", "INSERT", "subnets", ""),
    v26_sqlite_bump!(
        "subnets_u",
        "UPDATE",
        "subnets",
        "WHEN OLD.cidr IS NOT NEW.cidr OR OLD.rdns_mode IS NOT NEW.rdns_mode"
    ),
    v26_sqlite_bump!("subnets_d", "DELETE", "subnets", ""),
    v26_sqlite_bump!("racks_i", "INSERT", "racks", ""),
    v26_sqlite_bump!(
        "racks_u",
        "UPDATE",
        "racks",
        "WHEN OLD.name IS NOT NEW.name OR OLD.address IS NOT NEW.address"
    ),
    v26_sqlite_bump!("racks_d", "DELETE", "racks", ""),
    v26_sqlite_bump!(
        "settings_i",
        "INSERT",
        "settings",
        concat!("WHEN NEW.name IN ", dns_settings!())
    ),
    v26_sqlite_bump!(
        "settings_u",
        "UPDATE",
        "settings",
        concat!(
            "WHEN NEW.name IN ",
            dns_settings!(),
            " AND OLD.value IS NOT NEW.value"
        )
    ),
    v26_sqlite_bump!(
        "settings_d",
        "DELETE",
        "settings",
        concat!("WHEN OLD.name IN ", dns_settings!())
    ),
);
const V26_PG: &str = concat!(
    "CREATE TABLE dns_serial (id BIGINT PRIMARY KEY, serial BIGINT NOT NULL);\n",
    "INSERT INTO dns_serial (id, serial) VALUES (1, CAST(extract(epoch FROM now()) AS BIGINT));\n",
    "CREATE FUNCTION dns_serial_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE dns_serial SET serial = serial + 1; RETURN NULL; END $$;\n",
    v26_pg_bump!("domains", "INSERT OR UPDATE OR DELETE", "domains", "FOR EACH STATEMENT"),
    v26_pg_bump!("machines_u", "UPDATE", "machines", "FOR EACH ROW WHEN (OLD.hostname IS DISTINCT FROM NEW.hostname OR OLD.domain_id IS DISTINCT FROM NEW.domain_id)"),
    v26_pg_bump!("machines_d", "DELETE", "machines", "FOR EACH STATEMENT"),
    v26_pg_bump!("staticips", "INSERT OR DELETE", "staticips", "FOR EACH STATEMENT"),
    v26_pg_bump!("staticips_u", "UPDATE", "staticips", "FOR EACH ROW WHEN (OLD.ip IS DISTINCT FROM NEW.ip OR OLD.interface_id IS DISTINCT FROM NEW.interface_id)"),
    v26_pg_bump!("dnsresources", "INSERT OR UPDATE OR DELETE", "dnsresources", "FOR EACH STATEMENT"),
    v26_pg_bump!("dnsaddr", "INSERT OR DELETE", "dnsresource_addresses", "FOR EACH STATEMENT"),
    v26_pg_bump!("dnsdata", "INSERT OR UPDATE OR DELETE", "dnsdata", "FOR EACH STATEMENT"),
    v26_pg_bump!("subnets", "INSERT OR DELETE", "subnets", "FOR EACH STATEMENT"),
    v26_pg_bump!("subnets_u", "UPDATE", "subnets", "FOR EACH ROW WHEN (OLD.cidr IS DISTINCT FROM NEW.cidr OR OLD.rdns_mode IS DISTINCT FROM NEW.rdns_mode)"),
    v26_pg_bump!("racks", "INSERT OR DELETE", "racks", "FOR EACH STATEMENT"),
    v26_pg_bump!("racks_u", "UPDATE", "racks", "FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.address IS DISTINCT FROM NEW.address)"),
    v26_pg_bump!("settings_i", "INSERT", "settings", concat!("FOR EACH ROW WHEN (NEW.name IN ", dns_settings!(), ")")),
    v26_pg_bump!("settings_u", "UPDATE", "settings", concat!("FOR EACH ROW WHEN (NEW.name IN ", dns_settings!(), " AND OLD.value IS DISTINCT FROM NEW.value)")),
    v26_pg_bump!("settings_d", "DELETE", "settings", concat!("FOR EACH ROW WHEN (OLD.name IN ", dns_settings!(), ")")),
);

/// DHCP leases the racks report (an ACK, a RELEASE), by MAC: a machine that has only a lease
/// is named by its address in DNS; the DNS serial follows a lease's address.
const V27_SQLITE: &str =
    concat!(
    "CREATE TABLE dhcp_leases (mac TEXT PRIMARY KEY, ip TEXT NOT NULL, expires BIGINT NOT NULL);\n",
    v26_sqlite_bump!("leases_i", "INSERT", "dhcp_leases", ""),
    v26_sqlite_bump!("leases_u", "UPDATE", "dhcp_leases", "WHEN OLD.ip IS NOT NEW.ip"),
    v26_sqlite_bump!("leases_d", "DELETE", "dhcp_leases", ""),
);
const V27_PG: &str = concat!(
    "CREATE TABLE dhcp_leases (mac TEXT PRIMARY KEY, ip TEXT NOT NULL, expires BIGINT NOT NULL);\n",
    v26_pg_bump!(
        "leases",
        "INSERT OR DELETE",
        "dhcp_leases",
        "FOR EACH STATEMENT"
    ),
    v26_pg_bump!(
        "leases_u",
        "UPDATE",
        "dhcp_leases",
        "FOR EACH ROW WHEN (OLD.ip IS DISTINCT FROM NEW.ip)"
    ),
);

/// Work leases: the background work the regions of one database share (the deadline reaper,
/// the power monitor's shards) and each region's own membership, each held by one region
/// until `expires` (ms); `token` rises whenever a lease changes hands (a fencing token).
const V28: &str = "CREATE TABLE work_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL, expires BIGINT NOT NULL);\n";

/// What a rack said of its DHCP service at its last check-in: the subnets (CIDRs, space
/// separated) its DHCP server was answering for; NULL when it did not say.
const V29: &str = "ALTER TABLE racks ADD COLUMN dhcp TEXT;\n";

/// Indexes for a large region: allocation walks READY machines in closest-fit order
/// (status, node type, then CPUs, memory, id) without sorting them all; a list reads which
/// result statuses a machine has from the index alone, never from rows that hold the output.
const V30: &str = concat!(
    "CREATE INDEX machines_fit ON machines(status, node_type, cpu_count, memory, id);\n",
    "CREATE INDEX script_results_status ON script_results(machine_id, result_set, hardware_type, status);\n",
    "DROP INDEX script_results_machine;\n",
);

/// The reaper's look for script results running past their timeout reads the few running
/// ones from an index instead of every result (1.1 million rows at 100,000 commissioned
/// machines: 155 ms of PostgreSQL's CPU each round).
const V31: &str = "CREATE INDEX script_results_state ON script_results(status);\n";

#[cfg(test)]
mod tests {
    use crate::Store;

    async fn run(s: &Store, sql: &str) {
        sqlx::query(sql).execute(&s.pool).await.expect(sql);
    }

    /// The DNS serial rises with a change the zones are made of, in its transaction, and not
    /// with other changes to the same rows.
    #[tokio::test]
    async fn the_dns_serial_follows_what_the_zones_are_made_of() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let s = Store::open(&url).await.unwrap();
        let start = s.dns_serial().await.unwrap();
        assert!(start > 1_700_000_000, "starts at the time: {start}");
        run(&s, "INSERT INTO machines (system_id, hostname, domain_id, status, zone_id, pool_id, created, updated) VALUES ('abc', 'one', 0, 0, 1, 1, 0, 0)").await;
        assert_eq!(
            s.dns_serial().await.unwrap(),
            start,
            "a new machine has no address"
        );
        run(&s, "UPDATE machines SET status = 4 WHERE system_id = 'abc'").await;
        assert_eq!(
            s.dns_serial().await.unwrap(),
            start,
            "a status is not in a zone"
        );
        run(
            &s,
            "UPDATE machines SET hostname = 'two' WHERE system_id = 'abc'",
        )
        .await;
        assert_eq!(s.dns_serial().await.unwrap(), start + 1, "a rename is");
        s.set_setting("default_dns_ttl", "60").await.unwrap();
        assert_eq!(s.dns_serial().await.unwrap(), start + 2, "the TTL is");
        s.set_setting("default_dns_ttl", "60").await.unwrap();
        s.set_setting("kernel_opts", "quiet").await.unwrap();
        assert_eq!(
            s.dns_serial().await.unwrap(),
            start + 2,
            "no change, other settings"
        );
        let d = s.create_domain("lab", true, None).await.unwrap();
        assert_eq!(s.dns_serial().await.unwrap(), start + 3);
        let r = s
            .create_dns_record("www", d.id, "TXT", "hello", None)
            .await
            .unwrap();
        assert!(s.dns_serial().await.unwrap() > start + 3);
        let before = s.dns_serial().await.unwrap();
        run(&s, &format!("DELETE FROM dnsdata WHERE id = {r}")).await;
        assert!(s.dns_serial().await.unwrap() > before);
    }

    /// A database from before version 17 (its default fabric is id 1, renamed, with a subnet
    /// on its VLAN and a second VLAN) comes out with the default fabric as id 0, under the
    /// same name, with the same VLANs and the subnet still on them.
    #[tokio::test]
    async fn the_default_fabric_becomes_id_0() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let s = Store::open(&url).await.unwrap();
        // Back to the shape version 16 left, with an operator's changes.
        run(
            &s,
            "INSERT INTO fabrics (id, name, created) VALUES (1, 'old', 0)",
        )
        .await;
        run(&s, "UPDATE vlans SET fabric_id = 1 WHERE fabric_id = 0").await;
        run(&s, "DELETE FROM fabrics WHERE id = 0").await;
        run(&s, "UPDATE fabrics SET name = 'lab' WHERE id = 1").await;
        run(
            &s,
            "INSERT INTO vlans (fabric_id, vid, name) VALUES (1, 42, 'v42')",
        )
        .await;
        run(&s, "INSERT INTO subnets (name, cidr, vlan_id, created) SELECT 'n', '10.9.0.0/24', id, 0 FROM vlans WHERE vid = 0").await;
        run(&s, "DELETE FROM schema_migrations WHERE version = 17").await;
        s.migrate().await.unwrap();
        let fabrics = s.fabrics().await.unwrap();
        assert_eq!(fabrics.len(), 1);
        assert_eq!((fabrics[0].id, fabrics[0].name.as_str()), (0, "lab"));
        let mut vids: Vec<i64> = s
            .vlans(Some(0))
            .await
            .unwrap()
            .iter()
            .map(|v| v.vid)
            .collect();
        vids.sort();
        assert_eq!(vids, [0, 42]);
        let subnet = &s.subnets().await.unwrap()[0];
        let untagged = s
            .vlans(Some(0))
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.vid == 0)
            .unwrap();
        assert_eq!(subnet.vlan_id, untagged.id);
        // Applied once: opening again changes nothing.
        s.migrate().await.unwrap();
        assert_eq!(s.fabrics().await.unwrap()[0].id, 0);
    }

    /// A database from before version 25 (its default domain is id 1, renamed) comes out with
    /// it as id 0, the default, under the same name, and the DNS tables in place.
    #[tokio::test]
    async fn the_default_domain_becomes_id_0() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let s = Store::open(&url).await.unwrap();
        // Back to the shape version 24 left.
        run(&s, "DROP TABLE dnsdata").await;
        run(&s, "DROP TABLE dnsresource_addresses").await;
        run(&s, "DROP TABLE dnsresources").await;
        run(&s, "ALTER TABLE domains DROP COLUMN is_default").await;
        run(
            &s,
            "INSERT INTO domains (id, name, authoritative) VALUES (1, 'lab', 1)",
        )
        .await;
        run(&s, "UPDATE machines SET domain_id = 1 WHERE domain_id = 0").await;
        run(&s, "DELETE FROM domains WHERE id = 0").await;
        run(
            &s,
            "INSERT INTO domains (name, authoritative) VALUES ('other.example', 1)",
        )
        .await;
        run(&s, "DELETE FROM schema_migrations WHERE version = 25").await;
        s.migrate().await.unwrap();
        let domains = s.domains().await.unwrap();
        let lab = domains.iter().find(|d| d.name == "lab").unwrap();
        assert_eq!((lab.id, lab.is_default), (0, true), "{domains:?}");
        assert_eq!(domains.iter().filter(|d| d.is_default).count(), 1);
        assert_eq!(s.default_domain_id().await.unwrap(), 0);
        let id = s
            .create_dnsresource("www", 0, None, &["10.0.0.1".to_string()])
            .await
            .unwrap();
        assert_eq!(s.dnsresources(Some(id)).await.unwrap()[0].id, id);
        s.migrate().await.unwrap();
        assert_eq!(s.default_domain_id().await.unwrap(), 0);
    }
}
