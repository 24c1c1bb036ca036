//! A machine's hardware as `lshw -xml` shows it, made from the stored machine-resources
//! (LXD resources) document. MAAS commissions with `lshw -xml`, serves that document as the
//! `lshw` part of `machines/{id}/?op=details` and evaluates tag definitions (XPath) over it;
//! Ingot's ephemeral environment has no lshw, so the same layout is rendered from what the
//! agent reported. Pure: no IO.
//!
//! # The layout
//! ```text
//! <list>
//!  <node id="HOSTNAME" class="system">          description (chassis type), product, vendor,
//!                                               version, serial; settings uuid, family, sku
//!   <node id="core" class="bus">                the motherboard: product, vendor, version, serial
//!    <node id="firmware" class="memory">        the BIOS: vendor, version, date
//!    <node id="cpu" class="processor">          one per socket (cpu:0, cpu:1, …): product, vendor,
//!                                               size/capacity in Hz, cores/threads settings,
//!                                               a capability per CPU flag (when reported)
//!    <node id="memory" class="memory">          size in bytes
//!    <node id="pci" class="bridge">             PCI devices (businfo pci@ADDRESS):
//!     <node id="network" class="network">       one per port: logicalname, serial (MAC), vendor,
//!                                               product, size (link speed, bit/s)
//!     <node id="storage" class="storage">       a storage controller, its disks inside
//!      <node id="disk" class="disk">            logicalname /dev/NAME, product, serial, size
//!     <node id="display" class="display">, <node id="generic" class="generic">
//!    <node id="usb" class="generic">            USB devices (businfo usb@BUS:DEVICE)
//!    network and disk nodes without a PCI address
//! ```
//! Siblings sharing an id are numbered as lshw numbers them (`disk:0`, `disk:1`).
//! What lshw reads that the resources document does not carry (DMI handles, physical ids,
//! partitions, memory banks, caches) is left out.
//!
//! CPU flags: a socket's or a core's `flags` list (what `/proc/cpuinfo` says) becomes the
//! processor's capabilities; `lm` is also shown as lshw's `x86-64`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::inventory::{self, HardwareType, Inventory, InventoryError};

/// A child element with text: `(name, attributes, text)`.
type Field = (&'static str, Vec<(&'static str, String)>, String);

/// One `<node>` of the tree.
#[derive(Debug, Default)]
struct Node {
    id: String,
    class: &'static str,
    /// Child elements with text, in order.
    fields: Vec<Field>,
    settings: Vec<(String, String)>,
    capabilities: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Node {
    fn new(id: &str, class: &'static str) -> Self {
        Node {
            id: id.into(),
            class,
            ..Default::default()
        }
    }

    /// A text field, left out when there is no value.
    fn field(&mut self, name: &'static str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) {
            self.fields.push((name, Vec::new(), t.to_string()));
        }
        self
    }

    /// A `<size units="…">`-style field.
    fn measure(&mut self, name: &'static str, units: &str, n: u64) -> &mut Self {
        self.fields
            .push((name, vec![("units", units.to_string())], n.to_string()));
        self
    }

    fn setting(&mut self, id: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.settings.push((id.to_string(), v.to_string()));
        }
        self
    }

    fn capability(&mut self, id: &str, text: &str) -> &mut Self {
        self.capabilities.push((id.to_string(), text.to_string()));
        self
    }

    /// lshw's numbering: ids that several children share get `:0`, `:1`, … in order.
    fn number_children(&mut self) {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for c in &self.children {
            *counts.entry(c.id.clone()).or_default() += 1;
        }
        let mut next: BTreeMap<String, usize> = BTreeMap::new();
        for c in &mut self.children {
            if counts.get(&c.id).copied().unwrap_or(0) > 1 {
                let n = next.entry(c.id.clone()).or_default();
                c.id = format!("{}:{}", c.id, n);
                *n += 1;
            }
            c.number_children();
        }
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = " ".repeat(depth);
        out.push_str(&format!(
            "{pad}<node id=\"{}\" claimed=\"true\" class=\"{}\">\n",
            escape(&self.id),
            self.class
        ));
        for (name, attrs, text) in &self.fields {
            out.push_str(&format!("{pad} <{name}"));
            for (k, v) in attrs {
                out.push_str(&format!(" {k}=\"{}\"", escape(v)));
            }
            out.push_str(&format!(">{}</{name}>\n", escape(text)));
        }
        if !self.settings.is_empty() {
            out.push_str(&format!("{pad} <configuration>\n"));
            for (id, v) in &self.settings {
                out.push_str(&format!(
                    "{pad}  <setting id=\"{}\" value=\"{}\" />\n",
                    escape(id),
                    escape(v)
                ));
            }
            out.push_str(&format!("{pad} </configuration>\n"));
        }
        if !self.capabilities.is_empty() {
            out.push_str(&format!("{pad} <capabilities>\n"));
            for (id, text) in &self.capabilities {
                if text.is_empty() {
                    out.push_str(&format!("{pad}  <capability id=\"{}\" />\n", escape(id)));
                } else {
                    out.push_str(&format!(
                        "{pad}  <capability id=\"{}\" >{}</capability>\n",
                        escape(id),
                        escape(text)
                    ));
                }
            }
            out.push_str(&format!("{pad} </capabilities>\n"));
        }
        for c in &self.children {
            c.write(out, depth + 1);
        }
        out.push_str(&format!("{pad}</node>\n"));
    }
}

pub use crate::markup::escape;

/// What lshw writes next to the CPU flags it knows.
fn flag_description(flag: &str) -> &'static str {
    match flag {
        "fpu" => "mathematical co-processor",
        "vme" => "virtual mode extensions",
        "de" => "debugging extensions",
        "pse" => "page size extensions",
        "tsc" => "time stamp counter",
        "msr" => "model-specific registers",
        "pae" => "4GB+ memory addressing (Physical Address Extension)",
        "mce" => "machine check exceptions",
        "apic" => "on-chip advanced programmable interrupt controller (APIC)",
        "mtrr" => "memory type range registers",
        "cmov" => "conditional move instruction",
        "mmx" => "multimedia extensions (MMX)",
        "sse" => "streaming SIMD extensions (SSE)",
        "sse2" => "streaming SIMD extensions (SSE2)",
        "ht" => "HyperThreading",
        "nx" => "no-execute bit (NX)",
        "x86-64" => "64bits extensions (x86-64)",
        "vmx" => "CPU virtualization (Vanderpool)",
        "svm" => "CPU virtualization (AMD-V)",
        _ => "",
    }
}

/// lshw's name for a CPU vendor id (`/proc/cpuinfo`'s `vendor_id`).
fn cpu_vendor(v: &str) -> &str {
    match v {
        "GenuineIntel" => "Intel Corp.",
        "AuthenticAMD" => "Advanced Micro Devices [AMD]",
        v => v,
    }
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The processors of the resources object's `cpu` part.
fn processors(res: &Value, inv: &Inventory) -> Vec<Node> {
    let cpu = res.get("cpu");
    let arch = cpu
        .and_then(|c| c.get("architecture"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let width = match arch {
        "x86_64" | "aarch64" | "ppc64le" | "ppc64" | "s390x" | "riscv64" => Some(64),
        "i386" | "i486" | "i586" | "i686" | "armv7l" | "armv8l" => Some(32),
        _ => None,
    };
    let sockets: Vec<&Value> = cpu
        .and_then(|c| c.get("sockets"))
        .and_then(Value::as_array)
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for s in &sockets {
        let mut n = Node::new("cpu", "processor");
        let num = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        n.field("description", Some("CPU"))
            .field(
                "product",
                s.get("name")
                    .and_then(Value::as_str)
                    .or(inv.cpu_model.as_deref()),
            )
            .field(
                "vendor",
                s.get("vendor").and_then(Value::as_str).map(cpu_vendor),
            )
            .field("businfo", Some(&format!("cpu@{}", num("socket"))));
        let freq = match num("frequency") {
            0 => inv.cpu_speed,
            f => f,
        };
        if freq > 0 {
            n.measure("size", "Hz", freq.saturating_mul(1_000_000));
        }
        if num("frequency_turbo") > 0 {
            n.measure(
                "capacity",
                "Hz",
                num("frequency_turbo").saturating_mul(1_000_000),
            );
        }
        if let Some(w) = width {
            n.measure("width", "bits", w);
        }
        let cores: Vec<&Value> = s
            .get("cores")
            .and_then(Value::as_array)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        let threads: usize = cores
            .iter()
            .map(|c| {
                c.get("threads")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum();
        let online = cores
            .iter()
            .filter(|c| {
                c.get("threads").and_then(Value::as_array).is_some_and(|t| {
                    t.iter()
                        .any(|t| t.get("online") != Some(&Value::Bool(false)))
                })
            })
            .count();
        n.setting("cores", Some(&cores.len().to_string()))
            .setting("enabledcores", Some(&online.to_string()))
            .setting("threads", Some(&threads.to_string()));
        let mut flags: Vec<&str> = strings(s.get("flags")).collect();
        for c in &cores {
            flags.extend(strings(c.get("flags")));
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in flags {
            let f = f.trim().to_ascii_lowercase();
            if f.is_empty() || !seen.insert(f.clone()) {
                continue;
            }
            if f == "lm" && seen.insert("x86-64".into()) {
                n.capability("x86-64", flag_description("x86-64"));
            }
            n.capability(&f, flag_description(&f));
        }
        out.push(n);
    }
    if out.is_empty() && (inv.cpu_count > 0 || inv.cpu_model.is_some()) {
        let mut n = Node::new("cpu", "processor");
        n.field("description", Some("CPU"))
            .field("product", inv.cpu_model.as_deref());
        if inv.cpu_speed > 0 {
            n.measure("size", "Hz", inv.cpu_speed.saturating_mul(1_000_000));
        }
        n.setting("threads", Some(&inv.cpu_count.to_string()));
        out.push(n);
    }
    out
}

fn disk_node(d: &inventory::BlockDevice) -> Node {
    let mut n = Node::new("disk", "disk");
    let description = if d.name.starts_with("nvme") {
        "NVMe disk"
    } else {
        "Disk"
    };
    n.field("description", Some(description))
        .field("product", Some(&d.model))
        .field("logicalname", Some(&format!("/dev/{}", d.name)))
        .field("version", d.firmware_version.as_deref())
        .field("serial", Some(&d.serial))
        .measure("size", "bytes", d.size)
        .setting("logicalsectorsize", Some(&d.block_size.to_string()))
        .setting("sectorsize", Some(&d.block_size.to_string()));
    if let Some(u) = &d.usb_address {
        n.field("businfo", Some(&format!("usb@{u}")));
    }
    for t in &d.tags {
        n.capability(t, "");
    }
    n
}

fn network_node(i: &inventory::Interface) -> Node {
    let mut n = Node::new("network", "network");
    n.field("description", Some("Ethernet interface"))
        .field("product", i.product.as_deref())
        .field("vendor", i.vendor.as_deref());
    if let Some(a) = &i.pci_address {
        n.field("businfo", Some(&format!("pci@{a}")));
    } else if let Some(a) = &i.usb_address {
        n.field("businfo", Some(&format!("usb@{a}")));
    }
    n.field("logicalname", Some(&i.name))
        .field("version", i.firmware_version.as_deref())
        .field("serial", Some(&i.mac));
    if i.link_speed > 0 {
        n.measure("size", "bit/s", i.link_speed.saturating_mul(1_000_000));
    }
    if i.interface_speed > 0 {
        n.measure(
            "capacity",
            "bit/s",
            i.interface_speed.saturating_mul(1_000_000),
        );
    }
    n.setting("driver", i.driver.as_deref())
        .setting("firmware", i.firmware_version.as_deref())
        .setting("link", Some(if i.link_connected { "yes" } else { "no" }));
    n.capability("ethernet", "")
        .capability("physical", "Physical interface");
    if i.sriov_max_vf > 0 {
        n.capability("sriov", "Single Root I/O Virtualization");
    }
    n
}

/// The lshw-shaped document for a machine-resources document (full or a bare LXD resources
/// object, as [`inventory::derive_value`] takes them).
pub fn render(doc: &Value) -> Result<String, InventoryError> {
    let inv = inventory::derive_value(doc)?;
    let res = doc.get("resources").unwrap_or(doc);
    Ok(render_inventory(&inv, res))
}

/// [`render`] for the document's bytes.
pub fn render_bytes(doc: &[u8]) -> Result<String, InventoryError> {
    let v: Value = serde_json::from_slice(doc).map_err(|e| InventoryError::Json(e.to_string()))?;
    render(&v)
}

/// The tree from a derived inventory and the resources object it came from (for what the
/// inventory does not keep: CPU sockets, vendors and flags).
fn render_inventory(inv: &Inventory, res: &Value) -> String {
    let md = |k: &str| inv.metadata.get(k).map(String::as_str);
    let mut system = Node::new(
        inv.hostname
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or("computer"),
        "system",
    );
    system
        .field(
            "description",
            Some(md("chassis_type").unwrap_or("Computer")),
        )
        .field("product", md("system_product"))
        .field("vendor", md("system_vendor"))
        .field("version", md("system_version"))
        .field("serial", md("system_serial"))
        .setting("family", md("system_family"))
        .setting("sku", md("system_sku"))
        .setting("uuid", inv.hardware_uuid.as_deref());
    if inv.is_virtual {
        system.capability("virtual", "Virtual machine");
    }

    let mut core = Node::new("core", "bus");
    core.field("description", Some("Motherboard"))
        .field("product", md("mainboard_product"))
        .field("vendor", md("mainboard_vendor"))
        .field("version", md("mainboard_version"))
        .field("serial", md("mainboard_serial"));
    let firmware = [
        "mainboard_firmware_vendor",
        "mainboard_firmware_version",
        "mainboard_firmware_date",
    ];
    if firmware.iter().any(|k| md(k).is_some()) {
        let mut f = Node::new("firmware", "memory");
        f.field("description", Some("BIOS"))
            .field("vendor", md("mainboard_firmware_vendor"))
            .field("version", md("mainboard_firmware_version"))
            .field("date", md("mainboard_firmware_date"));
        core.children.push(f);
    }
    core.children.extend(processors(res, inv));
    let mut memory = Node::new("memory", "memory");
    // The inventory keeps MiB; lshw shows bytes.
    let bytes = res
        .get("memory")
        .and_then(|m| m.get("total"))
        .and_then(Value::as_u64)
        .unwrap_or(inv.memory.saturating_mul(1024 * 1024));
    memory
        .field("description", Some("System Memory"))
        .measure("size", "bytes", bytes);
    core.children.push(memory);

    let ports: Vec<&inventory::Interface> = inv.interfaces.iter().filter(|i| !i.is_vf).collect();
    let mut placed_ports = vec![false; ports.len()];
    let mut placed_disks = vec![false; inv.block_devices.len()];
    let mut pci = Node::new("pci", "bridge");
    pci.field("description", Some("PCI bridge"));
    for d in &inv.pci_devices {
        let here = |a: &Option<String>| a.as_deref() == Some(d.pci_address.as_str());
        if d.hardware_type == HardwareType::Network {
            // Each port of the card is a network node, as lshw shows each function.
            let mut any = false;
            for (k, i) in ports.iter().enumerate() {
                if here(&i.pci_address) && !placed_ports[k] {
                    placed_ports[k] = true;
                    any = true;
                    let mut n = network_node(i);
                    if i.vendor.is_none() {
                        n.field("vendor", d.vendor.as_deref());
                    }
                    pci.children.push(n);
                }
            }
            if any {
                continue;
            }
        }
        let (id, class, description) = match d.hardware_type {
            HardwareType::Network => ("network", "network", "Network controller"),
            HardwareType::Storage => ("storage", "storage", "Storage controller"),
            HardwareType::Gpu => ("display", "display", "Display controller"),
            HardwareType::Node => ("generic", "generic", "PCI device"),
        };
        let mut n = Node::new(id, class);
        n.field("description", Some(description))
            .field("product", d.product.as_deref())
            .field("vendor", d.vendor.as_deref())
            .field("businfo", Some(&format!("pci@{}", d.pci_address)))
            .setting("driver", d.driver.as_deref());
        for (k, b) in inv.block_devices.iter().enumerate() {
            if here(&b.pci_address) && !placed_disks[k] {
                placed_disks[k] = true;
                n.children.push(disk_node(b));
            }
        }
        pci.children.push(n);
    }
    // GPUs LXD lists only under `gpu` (no `pci` part in older documents).
    let cards = res
        .get("gpu")
        .and_then(|g| g.get("cards"))
        .and_then(Value::as_array);
    for card in cards.into_iter().flatten() {
        let text = |k: &str| card.get(k).and_then(Value::as_str);
        let addr = text("pci_address").unwrap_or_default();
        if inv.pci_devices.iter().any(|d| d.pci_address == addr) {
            continue;
        }
        let mut n = Node::new("display", "display");
        n.field("description", Some("VGA compatible controller"))
            .field("product", text("product"))
            .field("vendor", text("vendor"));
        if !addr.is_empty() {
            n.field("businfo", Some(&format!("pci@{addr}")));
        }
        n.setting("driver", text("driver"));
        pci.children.push(n);
    }
    if !pci.children.is_empty() {
        core.children.push(pci);
    }
    for d in &inv.usb_devices {
        let mut n = Node::new("usb", "generic");
        n.field("description", Some("USB device"))
            .field("product", d.product.as_deref())
            .field("vendor", d.vendor.as_deref())
            .field("businfo", Some(&format!("usb@{}", d.usb_address)))
            .setting("driver", d.driver.as_deref());
        core.children.push(n);
    }
    for (k, i) in ports.iter().enumerate() {
        if !placed_ports[k] {
            core.children.push(network_node(i));
        }
    }
    for (k, b) in inv.block_devices.iter().enumerate() {
        if !placed_disks[k] {
            core.children.push(disk_node(b));
        }
    }
    system.children.push(core);
    let mut root = Node::default();
    root.children.push(system);
    root.number_children();

    let mut out = String::from(
        "<?xml version=\"1.0\" standalone=\"yes\" ?>\n\
         <!-- generated by Ingot from the machine-resources inventory, in lshw's layout -->\n\
         <list>\n",
    );
    for n in &root.children {
        n.write(&mut out, 0);
    }
    out.push_str("</list>\n");
    out
}
