//! `gather` against a fake sysfs/procfs tree (exact values), the parsers on their own, and
//! `gather` on this host checked against what the host's own files say.

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::netstate::IfAddr;
use super::*;

/// A fake machine under a temporary directory.
pub(crate) struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// Writes `rel` (parents created).
    pub fn w(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.p(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    /// Several files in one directory: `(name, content)`.
    pub fn files(&self, dir: &str, files: &[(&str, &str)]) {
        for (n, c) in files {
            self.w(&format!("{dir}/{n}"), format!("{c}\n"));
        }
    }
    pub fn mkdir(&self, rel: &str) {
        fs::create_dir_all(self.p(rel)).unwrap();
    }
    /// A symlink at `rel` pointing at `target` (both relative to the tree; the target's
    /// directory is created).
    pub fn l(&self, rel: &str, target: &str) {
        let (p, t) = (self.p(rel), self.p(target));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::create_dir_all(&t).unwrap();
        symlink(t, p).unwrap();
    }
    pub fn roots(&self) -> Roots {
        Roots::under(self.dir.path())
    }
}

const PCI: &str = "sys/devices/pci0000:00";

fn vpd80(serial: &str) -> Vec<u8> {
    let mut b = vec![0x00, 0x80, 0x00, serial.len() as u8];
    b.extend_from_slice(serial.as_bytes());
    b
}

fn cpus(t: &Tree) {
    let base = "sys/devices/system/cpu";
    // (cpu, core, node, cur kHz)
    for (cpu, core, node, cur) in [
        (0, 0, 0, Some(3_200_000)),
        (1, 1, 1, None),
        (2, 0, 0, None),
        (3, 1, 1, None),
    ] {
        let d = format!("{base}/cpu{cpu}");
        t.files(
            &format!("{d}/topology"),
            &[
                ("physical_package_id", "0"),
                ("core_id", &core.to_string()),
                ("die_id", "0"),
            ],
        );
        t.l(
            &format!("{d}/node{node}"),
            &format!("sys/devices/system/node/node{node}"),
        );
        if cpu != 0 {
            t.w(&format!("{d}/online"), "1\n");
        }
        if let Some(cur) = cur {
            t.files(
                &format!("{d}/cpufreq"),
                &[
                    ("cpuinfo_min_freq", "800000"),
                    ("cpuinfo_max_freq", "3400000"),
                    ("scaling_cur_freq", &cur.to_string()),
                ],
            );
        }
    }
    // Offline: no topology.
    t.w(&format!("{base}/cpu4/online"), "0\n");
    t.w(&format!("{base}/online"), "0-3\n");
    for (i, level, kind, size) in [
        (0, "1", "Data", "32K"),
        (1, "1", "Instruction", "32K"),
        (3, "3", "Unified", "35840K"),
    ] {
        t.files(
            &format!("{base}/cpu0/cache/index{i}"),
            &[("level", level), ("type", kind), ("size", size)],
        );
    }
    let mut info = String::new();
    for (p, mhz) in [
        (0, "3200.000"),
        (1, "2999.998"),
        (2, "1200.000"),
        (3, "1200.000"),
    ] {
        info.push_str(&format!(
            "processor\t: {p}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\n\
             cpu MHz\t\t: {mhz}\nflags\t\t: fpu vme de pse tsc\n\n"
        ));
    }
    t.w("proc/cpuinfo", info);
}

fn memory(t: &Tree) {
    let m = "sys/devices/system/memory";
    t.w(&format!("{m}/block_size_bytes"), "8000000\n"); // 128 MiB
    for i in 0..8 {
        t.w(
            &format!("{m}/memory{i}/online"),
            if i == 7 { "0\n" } else { "1\n" },
        );
        let node = i / 4;
        t.l(
            &format!("sys/devices/system/node/node{node}/memory{i}"),
            &format!("{m}/memory{i}"),
        );
    }
    t.w(
        "proc/meminfo",
        "MemTotal:         900000 kB\nMemFree:          500000 kB\nBuffers:           10000 kB\n\
         Cached:           100000 kB\nSwapCached:            0 kB\nHugePages_Total:       4\n\
         HugePages_Free:        1\nHugepagesize:       2048 kB\n",
    );
    t.w(
        "sys/devices/system/node/node0/meminfo",
        "Node 0 MemTotal:       400000 kB\nNode 0 MemFree:        300000 kB\n\
         Node 0 MemUsed:        100000 kB\nNode 0 HugePages_Total:     3\nNode 0 HugePages_Free:      1\n",
    );
    t.w(
        "sys/devices/system/node/node1/meminfo",
        "Node 1 MemTotal:       300000 kB\nNode 1 MemUsed:         50000 kB\n\
         Node 1 HugePages_Total:     1\nNode 1 HugePages_Free:      0\n",
    );
}

/// A block device: `sys/class/block/<name>` -> `<dev_dir>/block/<name>` (or `<dev_dir>/<name>`
/// for NVMe), `device` -> `dev_dir`.
fn block(
    t: &Tree,
    dev_dir: &str,
    name: &str,
    files: &[(&str, &str)],
    nested_block: bool,
) -> String {
    let bdir = if nested_block {
        format!("{dev_dir}/block/{name}")
    } else {
        format!("{dev_dir}/{name}")
    };
    t.files(&bdir, files);
    t.l(&format!("{bdir}/device"), dev_dir);
    t.l(&format!("sys/class/block/{name}"), &bdir);
    bdir
}

fn disks(t: &Tree) {
    // virtio-blk, with one partition.
    let virtio = format!("{PCI}/0000:00:04.0/virtio1");
    t.l(&format!("{virtio}/subsystem"), "sys/bus/virtio");
    let vda = block(
        t,
        &virtio,
        "vda",
        &[
            ("dev", "252:0"),
            ("size", "2097152"),
            ("ro", "0"),
            ("removable", "0"),
            ("serial", "DISKSERIAL0"),
            ("queue/rotational", "1"),
            ("queue/physical_block_size", "512"),
        ],
        true,
    );
    t.files(
        &format!("{vda}/vda1"),
        &[
            ("partition", "1"),
            ("dev", "252:1"),
            ("size", "2048"),
            ("ro", "0"),
        ],
    );
    t.l("sys/class/block/vda1", &format!("{vda}/vda1"));

    // SATA SSD behind AHCI at 0000:00:1f.2, port ata3 (port_no 1), NUMA node 1.
    let ahci = format!("{PCI}/0000:00:1f.2");
    t.w(&format!("{ahci}/numa_node"), "1\n");
    let sata = format!("{ahci}/ata3/host2/target2:0:0/2:0:0:0");
    t.files(
        &sata,
        &[
            ("model", "Samsung SSD 860"),
            ("vendor", "ATA     "),
            ("rev", "RVT0"),
            ("type", "0"),
        ],
    );
    t.w(&format!("{sata}/vpd_pg80"), vpd80("    S3Z9NB0K123456A"));
    t.l(&format!("{sata}/subsystem"), "sys/bus/scsi");
    t.w("sys/class/ata_port/ata3/port_no", "1\n");
    block(
        t,
        &sata,
        "sda",
        &[
            ("dev", "8:0"),
            ("size", "1953525168"),
            ("ro", "0"),
            ("removable", "0"),
            ("queue/rotational", "0"),
            ("queue/physical_block_size", "4096"),
        ],
        true,
    );

    // virtio-scsi disk, LUN 4 of target 1; scsi_id would name it from page 0x83.
    let scsi = format!("{PCI}/0000:00:05.0/virtio2/host3/target3:0:1/3:0:1:4");
    t.files(
        &scsi,
        &[
            ("model", "QEMU HARDDISK"),
            ("vendor", "QEMU"),
            ("rev", "2.5+"),
            ("type", "0"),
        ],
    );
    t.w(&format!("{scsi}/vpd_pg80"), vpd80("SCSISERIAL"));
    let mut pg83 = vec![0x00, 0x83, 0x00, 14, 0x02, 0x00, 0x00, 10];
    pg83.extend_from_slice(b"SCSISERIAL");
    t.w(&format!("{scsi}/vpd_pg83"), pg83);
    t.l(&format!("{scsi}/subsystem"), "sys/bus/scsi");
    block(
        t,
        &scsi,
        "sdb",
        &[
            ("dev", "8:16"),
            ("size", "8388608"),
            ("ro", "1"),
            ("removable", "0"),
            ("queue/rotational", "1"),
            ("queue/physical_block_size", "512"),
        ],
        true,
    );

    // USB stick: xHCI at 0000:00:14.0, device 2-1 (bus 2, device 3).
    let usbdev = format!("{PCI}/0000:00:14.0/usb2/2-1");
    t.files(
        &usbdev,
        &[
            ("busnum", "2"),
            ("devnum", "3"),
            ("serial", "20190809001990F"),
        ],
    );
    let usb = format!("{usbdev}/2-1:1.0/host6/target6:0:0/6:0:0:0");
    t.files(
        &usb,
        &[
            ("model", "External USB 3.0"),
            ("vendor", "TOSHIBA"),
            ("rev", "5438"),
            ("type", "0"),
        ],
    );
    t.l(&format!("{usb}/subsystem"), "sys/bus/scsi");
    block(
        t,
        &usb,
        "sdc",
        &[
            ("dev", "8:32"),
            ("size", "4096"),
            ("ro", "0"),
            ("removable", "1"),
            ("queue/rotational", "0"),
            ("queue/physical_block_size", "512"),
        ],
        true,
    );

    // NVMe namespace 1 of controller nvme0 at 0000:00:06.0.
    let ctrl = format!("{PCI}/0000:00:06.0/nvme/nvme0");
    t.files(
        &ctrl,
        &[
            ("model", "QEMU NVMe Ctrl                          "),
            ("serial", "NVME0001            "),
            ("firmware_rev", "8.0.2   "),
            ("numa_node", "-1"),
        ],
    );
    t.l(&format!("{ctrl}/subsystem"), "sys/class/nvme");
    block(
        t,
        &ctrl,
        "nvme0n1",
        &[
            ("dev", "259:0"),
            ("size", "4194304"),
            ("ro", "0"),
            ("removable", "0"),
            ("nsid", "1"),
            ("wwid", "eui.0011223344556677"),
            ("queue/rotational", "0"),
            ("queue/physical_block_size", "512"),
        ],
        false,
    );
    // A hidden multipath path device, and devices without a `device` link: all left out.
    block(
        t,
        &ctrl,
        "nvme0c0n1",
        &[("dev", "259:1"), ("size", "4194304"), ("hidden", "1")],
        false,
    );
    for (n, dev) in [
        ("loop0", "7:0"),
        ("dm-0", "253:0"),
        ("zram0", "251:0"),
        ("ram0", "1:0"),
    ] {
        let d = format!("sys/devices/virtual/block/{n}");
        t.files(
            &d,
            &[
                ("dev", dev),
                ("size", "1024"),
                ("ro", "0"),
                ("removable", "0"),
            ],
        );
        t.l(&format!("sys/class/block/{n}"), &d);
    }
}

fn nics(t: &Tree) {
    // virtio-net at 0000:00:03.0.
    let v = format!("{PCI}/0000:00:03.0/virtio0");
    t.files(&v, &[("vendor", "0x1af4"), ("device", "0x0001")]);
    t.l(&format!("{v}/subsystem"), "sys/bus/virtio");
    t.l(&format!("{v}/driver"), "sys/bus/virtio/drivers/virtio_net");
    let eth0 = format!("{v}/net/eth0");
    t.files(
        &eth0,
        &[
            ("address", "52:54:00:12:34:56"),
            ("type", "1"),
            ("dev_port", "0"),
            ("carrier", "1"),
            ("speed", "-1"),
            ("duplex", "unknown"),
            ("flags", "0x1003"),
            ("mtu", "1500"),
            ("statistics/rx_bytes", "1000"),
            ("statistics/tx_bytes", "2000"),
            ("statistics/rx_packets", "10"),
            ("statistics/tx_packets", "20"),
        ],
    );
    t.l(&format!("{eth0}/device"), &v);
    t.l("sys/class/net/eth0", &eth0);

    // A two-port, SR-IOV capable card at 0000:02:00.0 (NUMA 1) with one VF at 0000:02:00.1.
    let pf = format!("{PCI}/0000:00:1c.0/0000:02:00.0");
    t.files(
        &pf,
        &[
            ("vendor", "0x15b3"),
            ("device", "0x1007"),
            ("class", "0x020000"),
            ("numa_node", "1"),
            ("sriov_totalvfs", "8"),
            ("sriov_numvfs", "1"),
        ],
    );
    t.l(&format!("{pf}/subsystem"), "sys/bus/pci");
    t.l(&format!("{pf}/driver"), "sys/bus/pci/drivers/mlx4_core");
    for (name, mac, port, carrier, speed) in [
        ("enp2s0", "50:6b:4b:7f:98:20", "0", "1", "10000"),
        ("enp2s0d1", "50:6b:4b:7f:98:21", "1", "0", "-1"),
    ] {
        let d = format!("{pf}/net/{name}");
        t.files(
            &d,
            &[
                ("address", mac),
                ("type", "1"),
                ("dev_port", port),
                ("carrier", carrier),
                ("speed", speed),
                ("duplex", if carrier == "1" { "full" } else { "unknown" }),
                ("flags", if carrier == "1" { "0x1003" } else { "0x1002" }),
                ("mtu", "9000"),
            ],
        );
        t.l(&format!("{d}/device"), &pf);
        t.l(&format!("sys/class/net/{name}"), &d);
    }
    let vf = format!("{PCI}/0000:00:1c.0/0000:02:00.1");
    t.files(
        &vf,
        &[
            ("vendor", "0x15b3"),
            ("device", "0x1004"),
            ("class", "0x020000"),
        ],
    );
    t.l(&format!("{vf}/subsystem"), "sys/bus/pci");
    t.l(&format!("{vf}/physfn"), &pf);
    let vfn = format!("{vf}/net/enp2s0v0");
    t.files(
        &vfn,
        &[
            ("address", "aa:bb:cc:00:00:01"),
            ("type", "1"),
            ("carrier", "0"),
            ("flags", "0x1002"),
        ],
    );
    t.l(&format!("{vfn}/device"), &vf);
    t.l("sys/class/net/enp2s0v0", &vfn);

    // A network controller with no driver bound (so no interface).
    let nodrv = format!("{PCI}/0000:00:19.0");
    t.files(
        &nodrv,
        &[
            ("vendor", "0x8086"),
            ("device", "0x153a"),
            ("class", "0x020000"),
        ],
    );

    // Virtual interfaces: loopback, a bridge, a bond and a VLAN on it.
    t.files(
        "sys/devices/virtual/net/lo",
        &[
            ("address", "00:00:00:00:00:00"),
            ("type", "772"),
            ("flags", "0x9"),
            ("mtu", "65536"),
        ],
    );
    t.l("sys/class/net/lo", "sys/devices/virtual/net/lo");
    let br = "sys/devices/virtual/net/br0";
    t.files(
        br,
        &[
            ("address", "52:54:00:00:00:01"),
            ("type", "1"),
            ("flags", "0x1003"),
            ("mtu", "1500"),
            ("bridge/bridge_id", "8000.525400000001"),
            ("bridge/stp_state", "0"),
            ("bridge/forward_delay", "1500"),
            ("bridge/default_pvid", "1"),
            ("bridge/vlan_filtering", "0"),
        ],
    );
    t.mkdir(&format!("{br}/brif/eth0"));
    t.l("sys/class/net/br0", br);
    let bond = "sys/devices/virtual/net/bond0";
    t.files(
        bond,
        &[
            ("address", "50:6b:4b:7f:98:20"),
            ("type", "1"),
            ("flags", "0x1403"),
            ("mtu", "9000"),
            ("bonding/mode", "802.3ad 4"),
            ("bonding/xmit_hash_policy", "layer3+4 1"),
            ("bonding/miimon", "100"),
            ("bonding/updelay", "200"),
            ("bonding/downdelay", "0"),
            ("bonding/mii_status", "up"),
            ("bonding/slaves", "enp2s0 enp2s0d1"),
        ],
    );
    t.l("sys/class/net/bond0", bond);
    let vlan = "sys/devices/virtual/net/bond0.10";
    t.files(
        vlan,
        &[
            ("address", "50:6b:4b:7f:98:20"),
            ("type", "1"),
            ("flags", "0x1003"),
            ("mtu", "9000"),
        ],
    );
    t.l(&format!("{vlan}/lower_bond0"), bond);
    t.l("sys/class/net/bond0.10", vlan);
    t.w(
        "proc/net/vlan/config",
        "VLAN Dev name\t | VLAN ID\nName-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\nbond0.10       | 10  | bond0\n",
    );
}

fn pci_usb(t: &Tree) {
    for (addr, dir) in [
        ("0000:00:03.0", format!("{PCI}/0000:00:03.0")),
        ("0000:00:02.0", format!("{PCI}/0000:00:02.0")),
        ("0000:02:00.0", format!("{PCI}/0000:00:1c.0/0000:02:00.0")),
        ("0000:02:00.1", format!("{PCI}/0000:00:1c.0/0000:02:00.1")),
        ("0000:00:19.0", format!("{PCI}/0000:00:19.0")),
    ] {
        t.l(&format!("sys/bus/pci/devices/{addr}"), &dir);
    }
    let net = format!("{PCI}/0000:00:03.0");
    t.files(
        &net,
        &[
            ("vendor", "0x1af4"),
            ("device", "0x1000"),
            ("class", "0x020000"),
        ],
    );
    t.l(&format!("{net}/driver"), "sys/bus/pci/drivers/virtio-pci");
    t.l(&format!("{net}/iommu_group"), "sys/kernel/iommu_groups/7");
    let vga = format!("{PCI}/0000:00:02.0");
    t.files(
        &vga,
        &[
            ("vendor", "0x1234"),
            ("device", "0x1111"),
            ("class", "0x030000"),
            ("numa_node", "-1"),
        ],
    );
    t.l(&format!("{vga}/driver"), "sys/bus/pci/drivers/bochs-drm");
    t.w("sys/bus/pci/drivers/bochs-drm/module/version", "1.2.3\n");

    let usb = "sys/devices/pci0000:00/0000:00:1d.0/usb1";
    t.files(
        usb,
        &[
            ("busnum", "1"),
            ("devnum", "1"),
            ("bDeviceClass", "09"),
            ("idVendor", "1d6b"),
        ],
    );
    t.l("sys/bus/usb/devices/usb1", usb);
    let tablet = format!("{usb}/1-1");
    t.files(
        &tablet,
        &[
            ("busnum", "1"),
            ("devnum", "2"),
            ("bDeviceClass", "00"),
            ("idVendor", "0627"),
            ("idProduct", "0001"),
            ("product", "QEMU USB Tablet"),
            ("manufacturer", "QEMU"),
            ("speed", "480"),
        ],
    );
    t.files(
        &format!("{tablet}/1-1:1.0"),
        &[
            ("bInterfaceClass", "03"),
            ("bInterfaceSubClass", "00"),
            ("bInterfaceNumber", "00"),
        ],
    );
    t.l(
        &format!("{tablet}/1-1:1.0/driver"),
        "sys/bus/usb/drivers/usbhid",
    );
    t.l("sys/bus/usb/devices/1-1", &tablet);
    t.l("sys/bus/usb/devices/1-1:1.0", &format!("{tablet}/1-1:1.0"));
}

fn dmi_env(t: &Tree) {
    t.files(
        "sys/class/dmi/id",
        &[
            ("product_uuid", "4C4C4544-0042-3510-8057-B7C04F4B4E31"),
            ("sys_vendor", "Dell Inc."),
            ("product_name", "PowerEdge R640"),
            ("product_family", "PowerEdge"),
            ("product_version", ""),
            ("product_sku", "SKU=NotProvided;ModelName=PowerEdge R640"),
            ("product_serial", "7B5QPR2"),
            ("bios_vendor", "Dell Inc."),
            ("bios_date", "07/06/2023"),
            ("bios_version", "2.19.1"),
            ("chassis_vendor", "Dell Inc."),
            ("chassis_type", "23"),
            ("chassis_serial", "7B5QPR2"),
            ("chassis_version", ""),
            ("board_vendor", "Dell Inc."),
            ("board_name", "0H28RR"),
            ("board_serial", ".7B5QPR2.CNFCP0098A00BN."),
            ("board_version", "A01"),
        ],
    );
    t.files(
        "proc/sys/kernel",
        &[
            ("osrelease", "6.1.0-56-amd64"),
            ("ostype", "Linux"),
            ("hostname", "node-7"),
        ],
    );
    t.w(
        "etc/os-release",
        "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n",
    );
    t.w(
        "usr/share/misc/pci.ids",
        "# comment\n1af4  Red Hat, Inc.\n\t1000  Virtio network device\n\t\t1af4 0001  Virtio network device\n\
         15b3  Mellanox Technologies\n\t1007  MT27520 Family [ConnectX-3 Pro]\n\
         C 02  Network controller\n\t00  Ethernet controller\n",
    );
}

/// The whole fake machine.
pub(crate) fn fake_machine() -> Tree {
    let t = Tree::new();
    cpus(&t);
    memory(&t);
    disks(&t);
    nics(&t);
    pci_usb(&t);
    dmi_env(&t);
    t
}

fn doc_json(t: &Tree, addrs: &[IfAddr]) -> Value {
    serde_json::to_value(gather_with(&t.roots(), addrs)).unwrap()
}

#[test]
fn top_level_and_environment() {
    let t = fake_machine();
    let d = doc_json(&t, &[]);
    assert_eq!(d["api_version"], "1.0");
    let ext: Vec<&str> = d["api_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // What the region's hook insists on.
    for need in [
        "resources",
        "resources_v2",
        "api_os",
        "resources_system",
        "resources_usb_pci",
    ] {
        assert!(ext.contains(&need), "{need}");
    }
    assert_eq!(ext.len(), 16);
    assert_eq!(
        d["environment"],
        json!({
            "kernel": "Linux",
            "kernel_architecture": crate::inventory::uname_machine(),
            "kernel_version": "6.1.0-56-amd64",
            "os_name": "Ubuntu",
            "os_version": "22.04",
            "server": "maas-machine-resources",
            "server_name": "node-7",
            "server_version": env!("CARGO_PKG_VERSION"),
        })
    );
    let keys: Vec<&String> = d["resources"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["cpu", "gpu", "memory", "network", "pci", "storage", "system", "usb"]
    );
}

#[test]
fn cpu_topology_names_and_frequencies() {
    let t = fake_machine();
    let d = doc_json(&t, &[]);
    let thread = |id: u64, node: u64, n: u64| json!({"id": id, "numa_node": node, "thread": n, "online": true});
    assert_eq!(
        d["resources"]["cpu"],
        json!({
            "architecture": crate::inventory::uname_machine(),
            "sockets": [{
                "name": "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
                "vendor": "GenuineIntel",
                "socket": 0,
                "cache": [
                    {"level": 1, "type": "Data", "size": 32768},
                    {"level": 1, "type": "Instruction", "size": 32768},
                    {"level": 3, "type": "Unified", "size": 36700160},
                ],
                "cores": [
                    {"core": 0, "die": 0, "threads": [thread(0, 0, 0), thread(2, 0, 1)], "frequency": 3200},
                    {"core": 1, "die": 0, "threads": [thread(1, 1, 0), thread(3, 1, 1)], "frequency": 2999},
                ],
                "frequency": 3099,
                "frequency_minimum": 800,
                "frequency_turbo": 3400,
                "flags": ["fpu", "vme", "de", "pse", "tsc"],
            }],
            "total": 4,
        })
    );
}

#[test]
fn memory_from_online_blocks_and_nodes() {
    let t = fake_machine();
    let d = doc_json(&t, &[]);
    let mib = 1024 * 1024u64;
    let total = 7 * 128 * mib; // memory7 is offline
    let used = total - (500_000 + 100_000 + 10_000) * 1024;
    assert_eq!(
        d["resources"]["memory"],
        json!({
            "nodes": [
                {"numa_node": 0, "hugepages_used": 2 * 2 * mib, "hugepages_total": 3 * 2 * mib,
                 "used": 100_000 * 1024, "total": 4 * 128 * mib},
                {"numa_node": 1, "hugepages_used": 2 * mib, "hugepages_total": 2 * mib,
                 "used": 50_000 * 1024, "total": 3 * 128 * mib},
            ],
            "hugepages_total": 4 * 2 * mib,
            "hugepages_used": 3 * 2 * mib,
            "hugepages_size": 2 * mib,
            "used": used,
            "total": total,
        })
    );
    // Without /sys/devices/system/memory: MemTotal.
    fs::remove_dir_all(t.p("sys/devices/system/memory")).unwrap();
    let d = doc_json(&t, &[]);
    assert_eq!(d["resources"]["memory"]["total"], 900_000 * 1024);
    assert_eq!(
        d["resources"]["memory"]["nodes"][0]["total"],
        400_000 * 1024
    );
}

#[test]
fn disks_serials_and_ids_from_sysfs() {
    let t = fake_machine();
    let d = doc_json(&t, &[]);
    let s = &d["resources"]["storage"];
    let ids: Vec<&str> = s["disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["nvme0n1", "sda", "sdb", "sdc", "vda"]);
    assert_eq!(s["total"], 6, "five disks and one partition");
    let disk = |id: &str| {
        s["disks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        disk("vda"),
        json!({
            "id": "vda", "device": "252:0", "type": "virtio", "read_only": false,
            "size": 1073741824u64, "removable": false, "numa_node": 0,
            "device_path": "pci-0000:00:04.0", "block_size": 512, "rpm": 1,
            "serial": "DISKSERIAL0", "device_id": "virtio-DISKSERIAL0",
            "partitions": [{"id": "vda1", "device": "252:1", "read_only": false, "size": 1048576, "partition": 1}],
            "pci_address": "0000:00:04.0",
        })
    );
    assert_eq!(
        disk("sda"),
        json!({
            "id": "sda", "device": "8:0", "model": "Samsung SSD 860", "type": "sata",
            "read_only": false, "size": 1953525168u64 * 512, "removable": false, "numa_node": 1,
            "device_path": "pci-0000:00:1f.2-ata-1", "block_size": 4096,
            "firmware_version": "RVT0", "rpm": 0, "serial": "S3Z9NB0K123456A",
            "device_id": "ata-Samsung_SSD_860_S3Z9NB0K123456A", "partitions": [],
            "pci_address": "0000:00:1f.2",
        })
    );
    assert_eq!(
        disk("sdb"),
        json!({
            "id": "sdb", "device": "8:16", "model": "QEMU HARDDISK", "type": "scsi",
            "read_only": true, "size": 4294967296u64, "removable": false, "numa_node": 0,
            "device_path": "pci-0000:00:05.0-scsi-0:0:1:4", "block_size": 512,
            "firmware_version": "2.5+", "rpm": 1, "serial": "SCSISERIAL",
            "device_id": "scsi-0QEMU_QEMU_HARDDISK_SCSISERIAL", "partitions": [],
            "pci_address": "0000:00:05.0",
        })
    );
    assert_eq!(
        disk("sdc"),
        json!({
            "id": "sdc", "device": "8:32", "model": "External USB 3.0", "type": "usb",
            "read_only": false, "size": 2097152, "removable": true, "numa_node": 0,
            "device_path": "pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0", "block_size": 512,
            "firmware_version": "5438", "rpm": 0, "serial": "20190809001990F",
            "device_id": "usb-TOSHIBA_External_USB_3.0_20190809001990F-0:0", "partitions": [],
            "pci_address": "0000:00:14.0", "usb_address": "2:3",
        })
    );
    assert_eq!(
        disk("nvme0n1"),
        json!({
            "id": "nvme0n1", "device": "259:0", "model": "QEMU NVMe Ctrl", "type": "nvme",
            "read_only": false, "size": 2147483648u64, "removable": false,
            "wwn": "eui.0011223344556677", "numa_node": 0,
            "device_path": "pci-0000:00:06.0-nvme-1", "block_size": 512,
            "firmware_version": "8.0.2", "rpm": 0, "serial": "NVME0001",
            "device_id": "nvme-QEMU_NVMe_Ctrl_NVME0001", "partitions": [],
            "pci_address": "0000:00:06.0",
        })
    );
}

#[test]
fn udev_links_win_when_present() {
    let t = fake_machine();
    // udev would have made several by-id links; LXD keeps the last in name order.
    t.mkdir("dev");
    t.w("dev/sda", "");
    t.w("dev/sda1", "");
    fs::create_dir_all(t.p("dev/disk/by-id")).unwrap();
    fs::create_dir_all(t.p("dev/disk/by-path")).unwrap();
    for (dir, name, target) in [
        (
            "by-id",
            "ata-Samsung_SSD_860_EVO_500GB_S3Z9NB0K123456A",
            "../../sda",
        ),
        ("by-id", "wwn-0x5002538e40a1b2c3", "../../sda"),
        ("by-id", "wwn-0x5002538e40a1b2c3-part1", "../../sda1"),
        ("by-path", "pci-0000:00:1f.2-ata-1.0", "../../sda"),
    ] {
        symlink(target, t.p(&format!("dev/disk/{dir}/{name}"))).unwrap();
    }
    let d = doc_json(&t, &[]);
    let sda = &d["resources"]["storage"]["disks"][1];
    assert_eq!(sda["id"], "sda");
    assert_eq!(sda["device_id"], "wwn-0x5002538e40a1b2c3");
    assert_eq!(sda["device_path"], "pci-0000:00:1f.2-ata-1.0");
    // Disks udev has no link for keep the derived names.
    assert_eq!(
        d["resources"]["storage"]["disks"][4]["device_id"],
        "virtio-DISKSERIAL0"
    );
}

#[test]
fn network_cards_ports_and_sriov() {
    let t = fake_machine();
    let d = doc_json(&t, &[]);
    assert_eq!(
        d["resources"]["network"],
        json!({
            "cards": [
                {
                    "driver": "mlx4_core", "driver_version": "6.1.0-56-amd64",
                    "ports": [
                        {"id": "enp2s0", "address": "50:6b:4b:7f:98:20", "port": 0, "protocol": "ethernet",
                         "auto_negotiation": false, "link_detected": true, "link_speed": 10000, "link_duplex": "full"},
                        {"id": "enp2s0d1", "address": "50:6b:4b:7f:98:21", "port": 1, "protocol": "ethernet",
                         "auto_negotiation": false, "link_detected": false},
                    ],
                    "sriov": {"current_vfs": 1, "maximum_vfs": 8, "vfs": [{
                        "ports": [{"id": "enp2s0v0", "address": "aa:bb:cc:00:00:01", "port": 0,
                                   "protocol": "ethernet", "auto_negotiation": false, "link_detected": false}],
                        "numa_node": 0, "pci_address": "0000:02:00.1", "vendor": "Mellanox Technologies",
                        "vendor_id": "15b3", "product_id": "1004",
                    }]},
                    "numa_node": 1, "pci_address": "0000:02:00.0",
                    "vendor": "Mellanox Technologies", "vendor_id": "15b3",
                    "product": "MT27520 Family [ConnectX-3 Pro]", "product_id": "1007",
                },
                {
                    "driver": "virtio_net", "driver_version": "6.1.0-56-amd64",
                    "ports": [{"id": "eth0", "address": "52:54:00:12:34:56", "port": 0, "protocol": "ethernet",
                               "auto_negotiation": false, "link_detected": true}],
                    "numa_node": 0, "pci_address": "0000:00:03.0",
                    "vendor": "Red Hat, Inc.", "vendor_id": "1af4", "product_id": "0001",
                },
                {
                    "numa_node": 0, "pci_address": "0000:00:19.0", "vendor_id": "8086", "product_id": "153a",
                },
            ],
            "total": 4,
        })
    );
}

#[test]
fn pci_gpu_and_usb() {
    let t = fake_machine();
    let d = doc_json(&t, &[]);
    let r = &d["resources"];
    let addrs: Vec<&str> = r["pci"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pci_address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addrs,
        [
            "0000:00:02.0",
            "0000:00:03.0",
            "0000:00:19.0",
            "0000:02:00.0",
            "0000:02:00.1"
        ]
    );
    assert_eq!(r["pci"]["total"], 5);
    assert_eq!(
        r["pci"]["devices"][1],
        json!({"driver": "virtio-pci", "driver_version": "6.1.0-56-amd64", "numa_node": 0,
               "pci_address": "0000:00:03.0", "vendor": "Red Hat, Inc.", "vendor_id": "1af4",
               "product": "Virtio network device", "product_id": "1000", "iommu_group": 7})
    );
    assert_eq!(
        r["gpu"],
        json!({"cards": [{"driver": "bochs-drm", "driver_version": "1.2.3", "numa_node": 0,
                          "pci_address": "0000:00:02.0", "vendor_id": "1234", "product_id": "1111"}],
               "total": 1})
    );
    assert_eq!(
        r["usb"],
        json!({"devices": [{
            "bus_address": 1, "device_address": 2,
            "interfaces": [{"class": "Human Interface Device", "class_id": 3, "driver": "usbhid",
                            "driver_version": "6.1.0-56-amd64", "number": 0, "subclass": "", "subclass_id": 0}],
            "vendor": "QEMU", "vendor_id": "0627", "product": "QEMU USB Tablet", "product_id": "0001",
            "speed": 480.0,
        }], "total": 1})
    );
}

#[test]
fn system_from_dmi() {
    let t = fake_machine();
    let d = doc_json(&t, &[]);
    assert_eq!(
        d["resources"]["system"],
        json!({
            "uuid": "4C4C4544-0042-3510-8057-B7C04F4B4E31", "vendor": "Dell Inc.",
            "product": "PowerEdge R640", "family": "PowerEdge", "version": "",
            "sku": "SKU=NotProvided;ModelName=PowerEdge R640", "serial": "7B5QPR2", "type": "physical",
            "firmware": {"vendor": "Dell Inc.", "date": "07/06/2023", "version": "2.19.1"},
            "chassis": {"vendor": "Dell Inc.", "type": "Rack Mount Chassis", "serial": "7B5QPR2", "version": ""},
            "motherboard": {"vendor": "Dell Inc.", "product": "0H28RR",
                            "serial": ".7B5QPR2.CNFCP0098A00BN.", "version": "A01"},
        })
    );
}

#[test]
fn system_type_detection() {
    let kind = |t: &Tree| doc_json(t, &[])["resources"]["system"]["type"].clone();
    // QEMU's SMBIOS.
    let t = Tree::new();
    t.files(
        "sys/class/dmi/id",
        &[
            ("sys_vendor", "QEMU"),
            ("product_name", "Standard PC (Q35 + ICH9, 2009)"),
        ],
    );
    assert_eq!(kind(&t), "virtual-machine");
    // Hyper-V.
    let t = Tree::new();
    t.files(
        "sys/class/dmi/id",
        &[
            ("sys_vendor", "Microsoft Corporation"),
            ("product_name", "Virtual Machine"),
        ],
    );
    assert_eq!(kind(&t), "virtual-machine");
    // No DMI at all, but the CPU says it runs under a hypervisor.
    let t = Tree::new();
    t.w(
        "proc/cpuinfo",
        "processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n\n",
    );
    assert_eq!(kind(&t), "virtual-machine");
    // Nothing at all: physical (empty strings everywhere else).
    let t = Tree::new();
    assert_eq!(kind(&t), "physical");
    // Containers, whatever the CPU says.
    let t = Tree::new();
    t.w("proc/cpuinfo", "processor\t: 0\nflags\t\t: hypervisor\n\n");
    t.w(".dockerenv", "");
    assert_eq!(kind(&t), "container");
    let t = Tree::new();
    t.w("proc/1/environ", b"PATH=/bin\0container=lxc\0");
    assert_eq!(kind(&t), "container");
}

#[test]
fn networks_state() {
    let t = fake_machine();
    let addrs = [
        IfAddr {
            interface: "lo".into(),
            address: "127.0.0.1".parse().unwrap(),
            prefix: 8,
        },
        IfAddr {
            interface: "lo".into(),
            address: "::1".parse().unwrap(),
            prefix: 128,
        },
        IfAddr {
            interface: "eth0".into(),
            address: "10.0.2.15".parse().unwrap(),
            prefix: 24,
        },
        IfAddr {
            interface: "eth0".into(),
            address: "fe80::5054:ff:fe12:3456".parse().unwrap(),
            prefix: 64,
        },
        IfAddr {
            interface: "eth0".into(),
            address: "2001:db8::15".parse().unwrap(),
            prefix: 64,
        },
        IfAddr {
            interface: "eth0".into(),
            address: "169.254.3.4".parse().unwrap(),
            prefix: 16,
        },
    ];
    let d = doc_json(&t, &addrs);
    let n = &d["networks"];
    let names: Vec<&String> = n.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["bond0", "bond0.10", "br0", "enp2s0", "enp2s0d1", "enp2s0v0", "eth0", "lo"]
    );
    assert_eq!(
        n["eth0"],
        json!({
            "addresses": [
                {"family": "inet", "address": "10.0.2.15", "netmask": "24", "scope": "global"},
                {"family": "inet6", "address": "fe80::5054:ff:fe12:3456", "netmask": "64", "scope": "link"},
                {"family": "inet6", "address": "2001:db8::15", "netmask": "64", "scope": "global"},
                {"family": "inet", "address": "169.254.3.4", "netmask": "16", "scope": "link"},
            ],
            "counters": {"bytes_received": 1000, "bytes_sent": 2000, "packets_received": 10, "packets_sent": 20},
            "hwaddr": "52:54:00:12:34:56", "mtu": 1500, "state": "up", "type": "broadcast",
            "bond": null, "bridge": null, "vlan": null,
        })
    );
    assert_eq!(n["lo"]["type"], "loopback");
    assert_eq!(n["lo"]["hwaddr"], "");
    assert_eq!(n["lo"]["addresses"][0]["scope"], "local");
    assert_eq!(
        n["lo"]["addresses"][1],
        json!({"family": "inet6", "address": "::1", "netmask": "128", "scope": "local"})
    );
    assert_eq!(n["enp2s0d1"]["state"], "down");
    assert_eq!(
        n["bond0"]["bond"],
        json!({"mode": "802.3ad", "transmit_policy": "layer3+4", "up_delay": 200, "down_delay": 0,
               "mii_frequency": 100, "mii_state": "up", "lower_devices": ["enp2s0", "enp2s0d1"]})
    );
    assert_eq!(
        n["br0"]["bridge"],
        json!({"id": "8000.525400000001", "stp": false, "forward_delay": 1500, "vlan_default": 1,
               "vlan_filtering": false, "upper_devices": ["eth0"]})
    );
    assert_eq!(
        n["bond0.10"]["vlan"],
        json!({"lower_device": "bond0", "vid": 10})
    );
    // Without 8021q's proc file the VLAN is still recognised from sysfs.
    fs::remove_file(t.p("proc/net/vlan/config")).unwrap();
    let d = doc_json(&t, &[]);
    assert_eq!(
        d["networks"]["bond0.10"]["vlan"],
        json!({"lower_device": "bond0", "vid": 10})
    );
    assert_eq!(d["networks"]["br0"]["vlan"], Value::Null);
}

#[test]
fn empty_tree_gives_an_empty_but_valid_document() {
    let t = Tree::new();
    let d = doc_json(&t, &[]);
    assert_eq!(d["resources"]["cpu"]["total"], 0);
    assert_eq!(d["resources"]["storage"], json!({"disks": [], "total": 0}));
    assert_eq!(d["resources"]["network"], json!({"cards": [], "total": 0}));
    assert_eq!(d["networks"], json!({}));
    assert_eq!(d["resources"]["memory"]["total"], 0);
}

// --- parsers ------------------------------------------------------------------------------

#[test]
fn vpd_pages() {
    assert_eq!(
        storage::parse_vpd_pg80(&vpd80("  WD-WCC4N0XXXXXX \0")).as_deref(),
        Some("WD-WCC4N0XXXXXX")
    );
    assert_eq!(storage::parse_vpd_pg80(&[0, 0x83, 0, 0]), None);
    assert_eq!(storage::parse_vpd_pg80(&vpd80("    ")), None);
    assert_eq!(storage::parse_vpd_pg80(&[0, 0x80]), None);
    // NAA (binary) is preferred over a T10 id and a vendor-specific one.
    let mut b = vec![0x00, 0x83, 0x00, 0];
    b.extend([0x02, 0x01, 0x00, 8]);
    b.extend(b"ATA  X  ");
    b.extend([
        0x01, 0x03, 0x00, 8, 0x50, 0x00, 0xc5, 0x00, 0xa1, 0xb2, 0xc3, 0xd4,
    ]);
    b.extend([0x02, 0x00, 0x00, 3]);
    b.extend(b"abc");
    // A target-port designator (association 1) is ignored.
    b.extend([0x01, 0x13, 0x00, 2, 0xff, 0xff]);
    b[3] = (b.len() - 4) as u8;
    assert_eq!(
        storage::parse_vpd_pg83(&b, "ATA", "X").as_deref(),
        Some("35000c500a1b2c3d4")
    );
    assert_eq!(storage::parse_vpd_pg83(&[0, 0x80, 0, 0], "", ""), None);
}

#[test]
fn udev_id_escaping() {
    assert_eq!(storage::udev_id("  QEMU   HARDDISK  "), "QEMU_HARDDISK");
    assert_eq!(storage::udev_id("a/b c\td"), "a_b_c_d");
    assert_eq!(storage::udev_id("WD-WX1234:5.6"), "WD-WX1234:5.6");
}

#[test]
fn meminfo_and_cpuinfo_parsing() {
    let m = memory::parse_meminfo(
        "MemTotal: 1000 kB\nNode 3 MemUsed: 5 kB\nHugePages_Total: 7\nbogus\n",
    );
    assert_eq!((m.total, m.used, m.hugepages_total), (1024000, 5120, 7));
    let c = cpu::parse_cpuinfo(
        "processor : 0\nmodel name : A\nmodel name : B\n\nprocessor : 1\ncpu : POWER9\n",
    );
    assert_eq!(c[&0]["model name"], "A");
    assert_eq!(c[&1]["cpu"], "POWER9");
}

#[test]
fn ethtool_decoding() {
    // 1000baseT/Full | 100baseT/Full | Autoneg | TP
    let s = network::ethtool::decode((1 << 5) | (1 << 3) | (1 << 6) | (1 << 7), 0, 0, 1);
    assert_eq!(s.supported_modes, ["100baseT/Full", "1000baseT/Full"]);
    assert_eq!(s.supported_ports, ["twisted pair"]);
    assert_eq!(
        (s.port_type.as_str(), s.transceiver_type.as_str()),
        ("twisted pair", "internal")
    );
    assert!(s.auto_negotiation);
    let s = network::ethtool::decode(1 << 19, 0x03, 1, 0);
    assert_eq!(s.supported_modes, ["10000baseKR/Full"]);
    assert_eq!(
        (s.port_type.as_str(), s.transceiver_type.as_str()),
        ("fibre", "external")
    );
    assert!(!s.auto_negotiation);
}

#[test]
fn address_scopes() {
    let a = |s: &str, p: u8| {
        IfAddr {
            interface: "x".into(),
            address: s.parse::<IpAddr>().unwrap(),
            prefix: p,
        }
        .state()
    };
    assert_eq!(a("192.168.0.3", 24).scope, "global");
    assert_eq!(a("127.0.0.1", 8).scope, "local");
    assert_eq!(a("fe80::1", 64).scope, "link");
    assert_eq!(a("fd00::2", 64).family, "inet6");
    assert_eq!(a("fd00::2", 64).netmask, "64");
}

#[test]
fn id_database_and_os_release() {
    let db = IdDb::parse("8086  Intel Corporation\n\t1533  I210 Gigabit Network Connection\n\t\t8086 0001  sub\nC 02  Network\n\t00  Ethernet\n");
    assert_eq!(
        db.names("8086", "1533"),
        (
            "Intel Corporation".to_string(),
            "I210 Gigabit Network Connection".to_string()
        )
    );
    assert_eq!(
        db.names("8086", "ffff"),
        ("Intel Corporation".to_string(), String::new())
    );
    assert_eq!(db.names("02", "00"), (String::new(), String::new()));
    let t = Tree::new();
    t.w(
        "usr/lib/os-release",
        "NAME='Debian GNU/Linux'\nVERSION_ID=12\n# x=y\n",
    );
    let os = os_release(t.dir.path());
    assert_eq!(os["NAME"], "Debian GNU/Linux");
    assert_eq!(os["VERSION_ID"], "12");
}

#[test]
fn chassis_names() {
    assert_eq!(system::chassis_type_name(3), "Desktop");
    assert_eq!(system::chassis_type_name(0x17), "Rack Mount Chassis");
    assert_eq!(system::chassis_type_name(0x24), "Stick PC");
    assert_eq!(system::chassis_type_name(0x99), "");
}

// --- this host ----------------------------------------------------------------------------

fn host_roots() -> Roots {
    Roots {
        sys: "/sys".into(),
        proc: "/proc".into(),
        dev: "/dev".into(),
        root: "/".into(),
        kernel_probes: true,
    }
}

/// `0-3,8,10-11` -> 7.
fn count_cpu_list(s: &str) -> u64 {
    s.trim()
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// `gather` on this machine agrees with what its own files say.
#[test]
fn this_host_is_self_consistent() {
    // Other processes may add or remove interfaces and loop devices meanwhile: only what
    // exists both before and after gathering is checked.
    let stable = |dir: &str, before: Vec<String>| -> Vec<String> {
        let after = entries(Path::new(dir));
        before.into_iter().filter(|n| after.contains(n)).collect()
    };
    let nets_before = entries(Path::new("/sys/class/net"));
    let blocks_before = entries(Path::new("/sys/block"));
    let doc = gather(&host_roots());
    let nets = stable("/sys/class/net", nets_before);
    let blocks = stable("/sys/block", blocks_before);
    let d = serde_json::to_value(&doc).unwrap();
    let r = &d["resources"];

    // CPUs: as many threads as /sys says are online, each listed once.
    let online = fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    assert_eq!(r["cpu"]["total"], count_cpu_list(&online), "{online}");
    let mut ids: Vec<i64> = doc
        .resources
        .cpu
        .sockets
        .iter()
        .flat_map(|s| s.cores.iter().flat_map(|c| c.threads.iter().map(|t| t.id)))
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert_eq!(n as u64, doc.resources.cpu.total);
    assert_eq!(r["cpu"]["architecture"], crate::inventory::uname_machine());

    // Memory: at least MemTotal (the kernel's reservation is added back).
    let meminfo = memory::parse_meminfo(&fs::read_to_string("/proc/meminfo").unwrap());
    assert!(
        doc.resources.memory.total >= meminfo.total,
        "{} < {}",
        doc.resources.memory.total,
        meminfo.total
    );

    // NICs: every interface with a `device` link appears on a card with its MAC.
    let ports: Vec<(String, String)> = doc
        .resources
        .network
        .cards
        .iter()
        .flat_map(|c| {
            c.ports.iter().chain(
                c.sriov
                    .iter()
                    .flat_map(|s| s.vfs.iter().flat_map(|v| v.ports.iter())),
            )
        })
        .map(|p| (p.id.clone(), p.address.clone()))
        .collect();
    for name in &nets {
        let dir = Path::new("/sys/class/net").join(name);
        if !exists(&dir.join("device")) {
            assert!(
                !ports.iter().any(|(id, _)| id == name),
                "virtual {name} listed as a card port"
            );
            continue;
        }
        let Some(mac) = read_trim(&dir.join("address")) else {
            continue; // gone
        };
        assert!(
            ports.contains(&(name.clone(), mac.clone())),
            "{name} {mac} missing from {ports:?}"
        );
        assert_eq!(d["networks"][name]["hwaddr"], mac);
    }
    // Every interface has a network state; lo is up and loopback.
    for name in &nets {
        assert!(
            doc.networks.contains_key(name),
            "no network state for {name}"
        );
    }
    // The region derives exactly this host's CPU count and memory (MiB, floored) from it, and
    // every physical NIC by MAC: our own capture, through the same code a MAAS capture goes.
    let inv = ingot_core::inventory::derive(&serde_json::to_vec(&d).unwrap())
        .unwrap_or_else(|e| panic!("the region cannot derive this host's document: {e}"));
    assert_eq!(inv.cpu_count, count_cpu_list(&online) as u64);
    assert_eq!(inv.memory, doc.resources.memory.total / (1024 * 1024));
    for (id, mac) in &ports {
        let m = mac.to_ascii_lowercase();
        if m.len() == 17 && m != "00:00:00:00:00:00" {
            assert!(
                inv.interfaces.iter().any(|i| &i.name == id && i.mac == m),
                "{id} {m} not derived: {:?}",
                inv.interfaces
            );
        }
    }
    if let Some(lo) = doc.networks.get("lo") {
        assert_eq!(lo.kind, "loopback");
        assert!(lo
            .addresses
            .iter()
            .any(|a| a.address == "127.0.0.1" && a.scope == "local"));
    }

    // Disks: every block device that is not loop/ram/zram/dm/md (and not a partition) is
    // listed with size = sectors × 512.
    for name in blocks {
        if ["loop", "ram", "zram", "dm-", "md", "nbd"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            assert!(
                !doc.resources.storage.disks.iter().any(|d| d.id == name),
                "{name}"
            );
            continue;
        }
        let sectors = read_u64(&Path::new("/sys/block").join(&name).join("size")).unwrap();
        let disk = doc
            .resources
            .storage
            .disks
            .iter()
            .find(|d| d.id == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(disk.size, sectors * 512, "{name}");
        assert_eq!(
            disk.device,
            read_trim(&Path::new("/sys/block").join(&name).join("dev")).unwrap()
        );
    }

    // PCI: every function is listed.
    assert_eq!(
        doc.resources.pci.total as usize,
        entries(Path::new("/sys/bus/pci/devices")).len()
    );
    // The environment names this kernel.
    assert_eq!(
        d["environment"]["kernel_version"],
        read_trim(Path::new("/proc/sys/kernel/osrelease")).unwrap()
    );
    // It serializes, and reads back as JSON with the same content.
    let text = serde_json::to_string(&doc).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), d);
}
