//! Times `inventory::derive` (JSON parse + derivation) on a large generated machine:
//! 256 threads in 2 sockets, 8 NUMA nodes, 64 disks with partitions, 16 NIC ports with SR-IOV
//! VFs, ~150 PCI devices, USB devices, a full `networks` section (bond, VLANs, bridge) and SMBIOS.
//!
//! `cargo run --release -p ingot-core --example inventory_bench [iterations]`
//! `cargo run --release -p ingot-core --example inventory_bench -- --write FILE` (the document only)

use std::time::{Duration, Instant};

use ingot_core::inventory::derive;
use serde_json::{json, Value};

const THREADS: u64 = 256;
const SOCKETS: u64 = 2;
const NUMA: u64 = 8;
const DISKS: u64 = 64;
const NIC_CARDS: u64 = 8;
const PORTS_PER_CARD: u64 = 2;
const VFS_PER_CARD: u64 = 4;

fn mac(a: u64, b: u64) -> String {
    format!(
        "0c:c4:7a:{:02x}:{:02x}:{:02x}",
        a & 0xff,
        (b >> 8) & 0xff,
        b & 0xff
    )
}

/// 0 → "a", 25 → "z", 26 → "aa" (kernel disk naming).
fn letters(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    out.iter().rev().map(|&b| b as char).collect()
}

fn machine() -> Value {
    let cores_per_socket = THREADS / SOCKETS / 2;
    let sockets: Vec<Value> = (0..SOCKETS)
        .map(|s| {
            let cores: Vec<Value> = (0..cores_per_socket)
                .map(|c| {
                    let base = (s * cores_per_socket + c) * 2;
                    let node = base * NUMA / THREADS;
                    json!({"core": c, "die": 0, "frequency": 2450 + c, "threads": [
                        {"id": base, "thread": 0, "online": true, "isolated": false, "numa_node": node},
                        {"id": base + 1, "thread": 1, "online": true, "isolated": false, "numa_node": node},
                    ]})
                })
                .collect();
            json!({"name": "AMD EPYC 7763 64-Core Processor", "vendor": "AuthenticAMD",
                   "socket": s, "frequency": 2450, "frequency_minimum": 1500,
                   "frequency_turbo": 3529,
                   "cache": [{"level": 1, "type": "Data", "size": 32768},
                             {"level": 2, "type": "Unified", "size": 524288},
                             {"level": 3, "type": "Unified", "size": 33554432}],
                   "cores": cores})
        })
        .collect();
    let node_mem: u64 = 128 << 30;
    let nodes: Vec<Value> = (0..NUMA)
        .map(|n| {
            json!({"numa_node": n, "hugepages_used": 0, "hugepages_total": 1024,
                        "used": 1u64 << 33, "total": node_mem})
        })
        .collect();

    let mut pci: Vec<Value> = Vec::new();
    let disks: Vec<Value> = (0..DISKS)
        .map(|i| {
            let (id, kind, path, size, rpm) = if i < 16 {
                let addr = format!("0000:{:02x}:00.0", 0x40 + i);
                pci.push(
                    json!({"driver": "nvme", "driver_version": "1.0", "numa_node": i % NUMA,
                                "pci_address": addr, "vendor": "Samsung Electronics Co Ltd",
                                "vendor_id": "144d", "product": "NVMe SSD Controller PM173X",
                                "product_id": "a824", "iommu_group": i}),
                );
                (
                    format!("nvme{i}n1"),
                    "nvme",
                    format!("pci-{addr}-nvme-1"),
                    3_840_755_982_336u64,
                    0,
                )
            } else {
                // Pairs of SAS paths to the same LUN (condensed as multipath).
                let lun = (i - 16) / 2;
                let hba = (i - 16) % 2;
                (
                    format!("sd{}", letters(i - 16)),
                    "scsi",
                    format!(
                        "pci-0000:{:02x}:00.0-sas-0x5000c500{:08x}-lun-{lun}",
                        0x60 + hba,
                        0xa000 + lun
                    ),
                    16_000_900_661_248u64,
                    7200,
                )
            };
            let serial = if kind == "nvme" {
                format!("S6EWNA0T{i:06}")
            } else {
                format!("ZL2{:05}", (i - 16) / 2)
            };
            json!({"id": id, "device": format!("259:{i}"), "model": "Generic Disk", "type": kind,
                   "read_only": false, "size": size, "removable": false, "numa_node": i % NUMA,
                   "device_path": path, "block_size": 4096, "firmware_version": "GDC7302Q",
                   "rpm": rpm, "serial": serial, "device_id": format!("wwn-0x5002538e{i:08x}"),
                   "partitions": (1..=3).map(|p| json!({"id": format!("{id}p{p}"),
                       "device": format!("259:{}", i * 4 + p), "read_only": false,
                       "size": size / 4, "partition": p})).collect::<Vec<_>>()})
        })
        .collect();

    let mut networks = serde_json::Map::new();
    let cards: Vec<Value> = (0..NIC_CARDS)
        .map(|c| {
            let addr = format!("0000:{:02x}:00.0", 0x80 + c);
            pci.push(json!({"driver": "mlx5_core", "driver_version": "5.15", "numa_node": c % NUMA,
                            "pci_address": addr, "vendor": "Mellanox Technologies", "vendor_id": "15b3",
                            "product": "MT2892 Family [ConnectX-6 Dx]", "product_id": "101d"}));
            let ports: Vec<Value> = (0..PORTS_PER_CARD)
                .map(|p| {
                    let name = format!("enp{}s0f{p}np{p}", 0x80 + c);
                    let m = mac(c, p);
                    networks.insert(name.clone(), json!({
                        "addresses": [], "hwaddr": m, "mtu": 9000, "state": "up",
                        "type": "broadcast", "bond": null, "bridge": null, "vlan": null,
                        "counters": {"bytes_received": 1, "bytes_sent": 2, "packets_received": 3, "packets_sent": 4}}));
                    json!({"id": name, "address": m, "port": p, "protocol": "ethernet",
                           "supported_modes": ["1000baseKX/Full", "10000baseKR/Full", "25000baseCR/Full",
                                               "100000baseCR4/Full"],
                           "supported_ports": ["fibre"], "port_type": "direct attach copper",
                           "transceiver_type": "internal", "auto_negotiation": true,
                           "link_detected": true, "link_speed": 100000, "link_duplex": "full"})
                })
                .collect();
            let vfs: Vec<Value> = (0..VFS_PER_CARD)
                .map(|v| {
                    let vaddr = format!("0000:{:02x}:00.{}", 0x80 + c, v + 2);
                    pci.push(json!({"driver": "mlx5_core", "numa_node": c % NUMA, "pci_address": vaddr,
                                    "vendor_id": "15b3", "product_id": "101e",
                                    "vendor": "Mellanox Technologies",
                                    "product": "ConnectX Family mlx5Gen Virtual Function"}));
                    json!({"driver": "mlx5_core", "numa_node": c % NUMA, "pci_address": vaddr,
                           "vendor_id": "15b3", "product_id": "101e",
                           "ports": [{"id": format!("enp{}s0f0v{v}", 0x80 + c), "address": mac(c, 0x100 + v),
                                      "port": 0, "protocol": "ethernet", "link_detected": false}]})
                })
                .collect();
            json!({"driver": "mlx5_core", "driver_version": "5.15", "numa_node": c % NUMA,
                   "pci_address": addr, "vendor": "Mellanox Technologies", "vendor_id": "15b3",
                   "product": "MT2892 Family [ConnectX-6 Dx]", "product_id": "101d",
                   "firmware_version": "22.31.1014", "ports": ports,
                   "sriov": {"current_vfs": VFS_PER_CARD, "maximum_vfs": 8, "vfs": vfs}})
        })
        .collect();
    networks.insert("bond0".into(), json!({
        "addresses": [{"family": "inet", "address": "10.0.0.10", "netmask": "24", "scope": "global"},
                      {"family": "inet6", "address": "fe80::1", "netmask": "64", "scope": "link"}],
        "hwaddr": mac(0, 0), "mtu": 9000, "state": "up", "type": "broadcast",
        "bond": {"mode": "802.3ad", "lower_devices": ["enp128s0f0np0", "enp129s0f0np0"]},
        "bridge": null, "vlan": null}));
    for vid in [100u64, 200, 300] {
        networks.insert(format!("bond0.{vid}"), json!({
            "addresses": [{"family": "inet", "address": format!("10.{}.0.10", vid / 100), "netmask": "24", "scope": "global"}],
            "hwaddr": mac(0, 0), "mtu": 9000, "state": "up", "type": "broadcast",
            "bond": null, "bridge": null, "vlan": {"lower_device": "bond0", "vid": vid}}));
    }
    networks.insert("br0".into(), json!({
        "addresses": [{"family": "inet", "address": "10.9.0.10", "netmask": "24", "scope": "global"}],
        "hwaddr": mac(0, 0), "mtu": 9000, "state": "up", "type": "broadcast",
        "bond": null, "bridge": {"upper_devices": ["bond0.300"]}, "vlan": null}));
    networks.insert(
        "lo".into(),
        json!({
        "addresses": [{"family": "inet", "address": "127.0.0.1", "netmask": "8", "scope": "local"}],
        "hwaddr": "", "mtu": 65536, "state": "up", "type": "loopback",
        "bond": null, "bridge": null, "vlan": null}),
    );

    // Root ports, bridges, SMBus, IOMMU … to reach a plausible PCI device count.
    for i in 0..80u64 {
        pci.push(json!({"driver": "pcieport", "numa_node": i % NUMA,
                        "pci_address": format!("0000:{:02x}:{:02x}.{}", i / 32, i % 32, i % 8),
                        "vendor": "Advanced Micro Devices, Inc. [AMD]", "vendor_id": "1022",
                        "product": "Starship/Matisse GPP Bridge", "product_id": "1483"}));
    }
    let usb: Vec<Value> = (0..8u64)
        .map(|i| {
            json!({"bus_address": 1 + i / 4, "device_address": 2 + i, "vendor_id": "046b",
                        "product_id": "ff10", "vendor": "American Megatrends, Inc.",
                        "product": "Virtual Keyboard and Mouse", "speed": 480,
                        "interfaces": [{"class": "Human Interface Device", "class_id": 3,
                                        "driver": "usbhid", "number": 0}]})
        })
        .collect();

    json!({
        "api_version": "1.0",
        "api_extensions": ["resources", "resources_cpu_socket", "resources_gpu", "resources_numa",
            "resources_v2", "resources_disk_sata", "resources_network_firmware", "resources_disk_id",
            "resources_usb_pci", "resources_cpu_threads_numa", "resources_cpu_core_die", "api_os",
            "resources_system", "resources_pci_iommu", "resources_network_usb",
            "resources_disk_address"],
        "environment": {"kernel": "Linux", "kernel_architecture": "x86_64",
                        "kernel_version": "5.15.0-91-generic", "os_name": "Ubuntu",
                        "os_version": "22.04", "server": "maas-machine-resources",
                        "server_name": "bigbox", "server_version": "3.4.0"},
        "resources": {
            "cpu": {"architecture": "x86_64", "sockets": sockets, "total": THREADS},
            "memory": {"nodes": nodes, "hugepages_total": 8192, "hugepages_used": 0,
                       "hugepages_size": 2097152, "used": 1u64 << 36, "total": node_mem * NUMA},
            "gpu": {"cards": [], "total": 0},
            "network": {"cards": cards, "total": NIC_CARDS * PORTS_PER_CARD},
            "storage": {"disks": disks, "total": DISKS},
            "usb": {"devices": usb, "total": 8},
            "pci": {"devices": pci, "total": 0},
            "system": {"uuid": "4c4c4544-0051-3010-8057-b4c04f564833", "vendor": "Dell Inc.",
                       "product": "PowerEdge R7525", "family": "PowerEdge", "version": "",
                       "sku": "SKU=NotProvided;ModelName=PowerEdge R7525", "serial": "7Q0WV43",
                       "type": "physical",
                       "firmware": {"vendor": "Dell Inc.", "date": "09/14/2023", "version": "2.13.3"},
                       "chassis": {"vendor": "Dell Inc.", "type": "Rack Mount Chassis",
                                   "serial": "7Q0WV43", "version": ""},
                       "motherboard": {"vendor": "Dell Inc.", "product": "0H2KKJ",
                                       "serial": ".7Q0WV43.CNFCP0023J00LL.", "version": "A02"}},
        },
        "networks": networks,
    })
}

fn main() {
    let doc = match serde_json::to_vec(&machine()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot serialise the generated machine: {e}");
            std::process::exit(1);
        }
    };
    // `--write FILE`: only write the generated document (the store and HTTP benchmarks use it).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--write") {
        let Some(path) = args.get(2) else {
            eprintln!("usage: inventory_bench --write FILE | [iterations]");
            std::process::exit(2);
        };
        if let Err(e) = std::fs::write(path, &doc) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1);
        }
        println!("wrote {} bytes to {path}", doc.len());
        return;
    }
    let iterations: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
        .max(1);
    let inv = match derive(&doc) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("derive failed on the generated machine: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "document: {} bytes; derived {} threads, {} NUMA nodes, {} block devices \
         (from {DISKS} disks, multipath condensed), {} interfaces ({} VFs), {} logical, \
         {} PCI, {} USB devices",
        doc.len(),
        inv.cpu_count,
        inv.numa_nodes.len(),
        inv.block_devices.len(),
        inv.interfaces.len(),
        inv.interfaces.iter().filter(|i| i.is_vf).count(),
        inv.logical_interfaces.len(),
        inv.pci_devices.len(),
        inv.usb_devices.len(),
    );

    for _ in 0..iterations / 10 {
        std::hint::black_box(derive(std::hint::black_box(&doc)).is_ok());
    }
    let mut times: Vec<Duration> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let r = derive(std::hint::black_box(&doc));
        times.push(t.elapsed());
        std::hint::black_box(r.is_ok());
    }
    times.sort_unstable();
    let mut parse_only: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            let v = serde_json::from_slice::<Value>(std::hint::black_box(&doc));
            let d = t.elapsed();
            std::hint::black_box(v.is_ok());
            d
        })
        .collect();
    parse_only.sort_unstable();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "derive (parse + derive), {iterations} iterations: median {:?}, p99 {:?}, mean {:?}, \
         min {:?}, max {:?}",
        pct(0.5),
        pct(0.99),
        mean,
        times[0],
        times[times.len() - 1]
    );
    println!(
        "of which JSON parse alone (serde_json::Value): median {:?}",
        parse_only[parse_only.len() / 2]
    );
}
