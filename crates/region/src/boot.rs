//! What a network-booting machine is told: its iPXE script, decided by
//! `ingot_core::boot::decide` (the one boot decision), and the netboot timeline every fetch is
//! recorded on. A booting machine has no credentials; its MAC address names it.

use crate::{Region, RegionError, Result};
use ingot_core::boot::{decide, BootDecision, BootFacts, Firmware, KnownMachine, Purpose};
use ingot_images::ImageSet;
use std::path::Path;

/// The image sets of an images directory (none when it has no readable index yet).
pub fn image_sets(images_dir: &Path) -> Vec<ImageSet> {
    ingot_images::list_in(images_dir).unwrap_or_default()
}

/// The firmware a script request names (`bios`, `uefi`, `uefi-http`; iPXE otherwise).
pub fn firmware(s: Option<&str>) -> Firmware {
    match s.unwrap_or("ipxe") {
        "bios" => Firmware::Bios,
        "uefi" => Firmware::Uefi,
        "uefi-http" => Firmware::UefiHttp,
        _ => Firmware::Ipxe,
    }
}

/// A request for an iPXE script, as the machine's firmware sends it.
#[derive(Debug, Clone, Copy)]
pub struct ScriptRequest<'a> {
    pub mac: Option<&'a str>,
    pub arch: Option<&'a str>,
    pub firmware: Option<&'a str>,
    /// The region's URL as the machine reached it, ending in `/MAAS`.
    pub base: &'a str,
}

/// A MAC address from a request, normalised.
pub fn request_mac(raw: Option<&str>) -> Result<String> {
    let raw = raw.ok_or_else(|| RegionError::BadRequest("mac is required".into()))?;
    ingot_core::ids::normalize_mac(raw)
        .ok_or_else(|| RegionError::BadRequest(format!("'{raw}' is not a MAC address")))
}

impl Region {
    /// The iPXE script for a machine booting from the network, recorded on its timeline.
    pub async fn boot_script(
        &self,
        images_dir: Option<&Path>,
        req: ScriptRequest<'_>,
    ) -> Result<String> {
        let mac = request_mac(req.mac)?;
        let arch = req.arch.unwrap_or("amd64").to_string();
        let fw = firmware(req.firmware);
        let base = req.base;
        let machine = self.store.machine_by_mac(&mac).await?;
        let image = images_dir
            .map(image_sets)
            .unwrap_or_default()
            .into_iter()
            .rev()
            .find(|i| i.arch == arch);
        let enlistment_allowed = self.get_config("unknown_machines").await?
            != ingot_core::settings::Value::Text("ignore".into());
        let facts = BootFacts {
            machine: machine.as_ref().map(|m| KnownMachine {
                status: m.status,
                netboot: m.netboot,
                deploy_queued: m.deploy_queued.is_some(),
            }),
            firmware: fw,
            arch: arch.clone(),
            image_available: image.is_some(),
            enlistment_allowed,
        };
        let decision = decide(&facts);
        // A known machine's ephemeral environment reports with the machine's own credentials
        // (as MAAS's preseed URL hands them out to whoever asks for that machine on the boot
        // network).
        let creds = match (&decision, &machine) {
            (BootDecision::Ephemeral(p), Some(m)) if *p != Purpose::Enlist => {
                let t = self.store.ensure_machine_token(m.id).await?;
                format!(
                    " ingot.system_id={} ingot.token={}:{}:{}",
                    m.system_id, t.consumer_key, t.token_key, t.token_secret
                )
            }
            _ => String::new(),
        };
        // Kernel options on ephemeral boots (the installed system gets the same ones).
        let mut opts = String::new();
        if let BootDecision::Ephemeral(_) = &decision {
            let o = self.kernel_opts(machine.as_ref()).await?;
            if !o.is_empty() {
                opts = format!(" {o}");
            }
        }
        let (summary, body) = match (&decision, &image) {
            (BootDecision::Ephemeral(purpose), Some(img)) => (
                format!("ephemeral {} ({})", purpose.as_str(), img.name),
                format!(
                    "#!ipxe\necho Ingot: booting the ephemeral environment ({purpose}) for {mac}\nkernel {base}/boot/images/{k}?mac={mac} initrd=initrd console=ttyS0 ingot.url={base} ingot.purpose={purpose} ingot.mac={mac}{creds} BOOTIF=01-{bootif}{opts}\ninitrd --name initrd {base}/boot/images/{i}?mac={mac}\nboot\n",
                    purpose = purpose.as_str(),
                    bootif = mac.replace(':', "-"),
                    k = img.kernel.sha256,
                    i = img.initrd.sha256,
                ),
            ),
            // UEFI firmware moves on to its next boot option (the disk) only when the network
            // boot fails: iPXE's plain `exit` returns success, and EDK2 then stops in its boot
            // manager menu. BIOS ignores the status.
            (BootDecision::LocalDisk, _) => ("local disk".into(), "#!ipxe\necho Ingot: booting from the local disk\niseq ${platform} efi && exit 1 || exit\n".into()),
            (BootDecision::Nothing(why), _) => (format!("nothing: {why}"), format!("#!ipxe\necho Ingot: nothing to boot for {mac}: {why}\nsleep 10\npoweroff || exit\n")),
            (BootDecision::Ephemeral(_), None) => ("nothing: no image".into(), "#!ipxe\necho Ingot: no ephemeral image\nexit\n".into()),
        };
        self.store
            .record_netboot(
                &mac,
                "http",
                &format!("GET /MAAS/boot/ipxe ({arch}, {fw:?}) -> {summary}"),
            )
            .await?;
        Ok(body)
    }

    /// Record a hop of a MAC's netboot timeline (when the request names a valid MAC).
    pub async fn record_netboot(&self, mac: Option<&str>, hop: &str, detail: &str) -> Result<()> {
        if let Some(mac) = mac.and_then(ingot_core::ids::normalize_mac) {
            self.store.record_netboot(&mac, hop, detail).await?;
        }
        Ok(())
    }
}
