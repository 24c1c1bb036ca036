//! What a network-booting machine fetches over HTTP: its iPXE script (the region's
//! `boot_script`) and the ephemeral kernel and initrd, served by content address with Range
//! requests. Every fetch is a hop of the MAC's netboot
//! timeline. These endpoints are anonymous, as a booting machine has no credentials.

use crate::{bad, not_found, App, Req, Res};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use ingot_region::boot::ScriptRequest;
use std::path::PathBuf;

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
    let base = format!("{}/MAAS", r.base);
    let req = ScriptRequest {
        mac: p.get("mac"),
        arch: p.get("arch"),
        firmware: p.get("firmware"),
        base: &base,
    };
    ipxe(
        app.region
            .boot_script(app.images_dir.as_deref(), req)
            .await?,
    )
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
    let range = req_headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    app.region
        .record_netboot(
            r.params().get("mac"),
            "http",
            &format!("GET /MAAS/boot/images/{}{range}", &sha[..12]),
        )
        .await?;
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
    app.region
        .record_netboot(
            r.params().get("mac"),
            "http",
            &format!("GET /MAAS/boot/files/{name}"),
        )
        .await?;
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
