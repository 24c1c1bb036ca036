//! What a network-booting machine fetches over HTTP: its iPXE script (decided by
//! `ingot_core::boot::decide`, the one boot decision) and the ephemeral kernel and initrd,
//! served by content address with Range requests. Every fetch is a hop of the MAC's netboot
//! timeline. These endpoints are anonymous, as a booting machine has no credentials.

use crate::{bad, not_found, App, Req, Res};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use ingot_core::boot::{decide, BootDecision, BootFacts, Firmware, KnownMachine};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One entry of `images/index.json` (written by `ingot images build`).
#[derive(Debug, Clone, Deserialize)]
pub struct ImageSet {
    pub name: String,
    pub arch: String,
    pub kernel: Blob,
    pub initrd: Blob,
    #[serde(default)]
    pub kernel_version: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Blob {
    pub sha256: String,
    pub size: u64,
}

/// The image sets in an images directory (none when it has no index yet).
pub fn image_sets(dir: &Path) -> Vec<ImageSet> {
    std::fs::read(dir.join("index.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<ImageSet>>(&b).ok())
        .unwrap_or_default()
}

fn firmware(s: Option<&str>) -> Firmware {
    match s.unwrap_or("ipxe") {
        "bios" => Firmware::Bios,
        "uefi" => Firmware::Uefi,
        "uefi-http" => Firmware::UefiHttp,
        _ => Firmware::Ipxe,
    }
}

fn ipxe(body: String) -> Res {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response())
}

/// `GET /MAAS/boot/ipxe?mac=…&arch=amd64&firmware=bios|uefi|uefi-http|ipxe`
pub(crate) async fn script(app: &App, r: &Req) -> Res {
    let p = r.params();
    let raw = p.get("mac").ok_or_else(|| bad("mac is required"))?;
    let mac = ingot_core::ids::normalize_mac(raw)
        .ok_or_else(|| bad(format!("'{raw}' is not a MAC address")))?;
    let arch = p.get("arch").unwrap_or("amd64").to_string();
    let fw = firmware(p.get("firmware"));
    let st = &app.region.store;
    let machine = st.machine_by_mac(&mac).await?;
    let image = app
        .images_dir
        .as_deref()
        .map(image_sets)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .find(|i| i.arch == arch);
    let enlistment_allowed = st.get_setting("unknown_machines").await?.as_deref() != Some("ignore");
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
    let base = format!("{}/MAAS", r.base);
    // A known machine's ephemeral environment reports with the machine's own credentials (as
    // MAAS's preseed URL hands them out to whoever asks for that machine on the boot network).
    let creds = match (&decision, &machine) {
        (BootDecision::Ephemeral(p), Some(m)) if *p != ingot_core::boot::Purpose::Enlist => {
            let t = st.ensure_machine_token(m.id).await?;
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
        let o = app.region.kernel_opts(machine.as_ref()).await?;
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
    st.record_netboot(
        &mac,
        "http",
        &format!("GET /MAAS/boot/ipxe ({arch}, {fw:?}) -> {summary}"),
    )
    .await?;
    ipxe(body)
}

/// `GET /MAAS/boot/images/{sha256}?mac=…`: a kernel or initrd, with Range support.
pub(crate) async fn image(
    app: &App,
    r: &Req,
    sha: &str,
    req_headers: &axum::http::HeaderMap,
) -> Res {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found("No such image."));
    }
    let Some(dir) = app.images_dir.as_deref() else {
        return Err(not_found("No images on this region."));
    };
    let path: PathBuf = dir.join(sha.to_ascii_lowercase());
    if !path.is_file() {
        return Err(not_found("No such image."));
    }
    if let Some(mac) = r
        .params()
        .get("mac")
        .and_then(ingot_core::ids::normalize_mac)
    {
        let range = req_headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" ({v})"))
            .unwrap_or_default();
        app.region
            .store
            .record_netboot(
                &mac,
                "http",
                &format!("GET /MAAS/boot/images/{}{range}", &sha[..12]),
            )
            .await?;
    }
    let mut req = axum::http::Request::new(axum::body::Body::empty());
    *req.method_mut() = r.method.clone();
    *req.headers_mut() = req_headers.clone();
    let resp = tower::ServiceExt::oneshot(tower_http::services::ServeFile::new(path), req)
        .await
        .map_err(|e| bad(format!("cannot read the image: {e}")))?;
    Ok(resp.map(axum::body::Body::new).into_response())
}

/// The iPXE loaders UEFI HTTP clients fetch (DHCP points them at `/MAAS/boot/files/`): only
/// these names, from Debian's `ipxe` package.
const LOADERS: &[&str] = &["ipxe.efi", "snponly.efi", "undionly.kpxe", "ipxe.pxe"];

/// `GET /MAAS/boot/files/{name}?mac=…`
pub(crate) async fn loader(
    app: &App,
    r: &Req,
    name: &str,
    req_headers: &axum::http::HeaderMap,
) -> Res {
    if !LOADERS.contains(&name) {
        return Err(not_found(format!("No boot file '{name}'.")));
    }
    // Debian ships some loaders as symlinks into /boot: follow them to a regular file.
    let path = std::fs::canonicalize(app.ipxe_dir.join(name))
        .map_err(|_| not_found(format!("{name} is not installed (Debian package ipxe).")))?;
    if !path.is_file() {
        return Err(not_found(format!(
            "{name} is not installed (Debian package ipxe)."
        )));
    }
    if let Some(mac) = r
        .params()
        .get("mac")
        .and_then(ingot_core::ids::normalize_mac)
    {
        app.region
            .store
            .record_netboot(&mac, "http", &format!("GET /MAAS/boot/files/{name}"))
            .await?;
    }
    let mut req = axum::http::Request::new(axum::body::Body::empty());
    *req.method_mut() = r.method.clone();
    *req.headers_mut() = req_headers.clone();
    let resp = tower::ServiceExt::oneshot(tower_http::services::ServeFile::new(path), req)
        .await
        .map_err(|e| bad(format!("cannot read {name}: {e}")))?;
    Ok(resp.map(axum::body::Body::new).into_response())
}

/// `GET /MAAS/maas-run-scripts`: the program a running machine downloads to register itself
/// (`register-machine`), upload its hardware (`report-results`) and keep it in sync
/// (`hardware-sync`): `ingot-agent` itself, anonymously as MAAS serves its script.
pub(crate) async fn run_scripts_program(app: &App, req_headers: &axum::http::HeaderMap) -> Res {
    let path = &app.agent_binary;
    if !path.is_file() {
        return Err(not_found(format!(
            "This region has no ingot-agent to serve (looked for {}; set INGOT_AGENT_BINARY).",
            path.display()
        )));
    }
    let mut req = axum::http::Request::new(axum::body::Body::empty());
    *req.headers_mut() = req_headers.clone();
    // No extension: served as application/octet-stream.
    let resp = tower::ServiceExt::oneshot(tower_http::services::ServeFile::new(path), req)
        .await
        .map_err(|e| bad(format!("cannot read ingot-agent: {e}")))?;
    Ok(resp.map(axum::body::Body::new).into_response())
}
