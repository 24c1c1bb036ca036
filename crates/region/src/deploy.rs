//! Deployment in the region: which uploaded image a deploy installs, the addresses AUTO links
//! get, the configuration the ephemeral environment fetches (`core::deploy::DeployConfig`),
//! release with disk erasing and what a release takes back.
//!
//! The machine's statuses are still decided by `ingot-core` (actions, signals, status
//! events); this module loads the facts those decisions and the agent need.

use crate::{actor, facts, forms, DeployParams, Region, RegionError, Result};
use ingot_core::actions::{plan, Action, ActionOptions};
use ingot_core::deploy::{
    check_http_url, check_remote_syslog, machine_ntp_servers, parse_ntp_servers,
    render_network_config, render_vendor_data, url_host, DeployConfig, ImageKind, ImageSource,
    Reporting, VendorSettings,
};
use ingot_core::scripts::{self, HardwareType, WIPE_DISKS_SCRIPT};
use ingot_core::signal::ResultSet;
use ingot_core::Status;
use ingot_store::commissioning::NewResult;
use ingot_store::deploy::{BootResource, ALLOC_AUTO};
use ingot_store::network::StaticIp;
use ingot_store::{Machine, User};
use ingot_wire::Params;

// ------------------------------------------------------------------------------ names

/// The canonical `os/series` of an uploaded resource's `name` (`custom/NAME`, `os/series`, or a
/// bare `NAME`, which is a custom image as in MAAS).
pub fn resource_name(name: &str) -> std::result::Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("This field is required.".into());
    }
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    };
    let (os, series) = name.split_once('/').unwrap_or(("custom", name));
    if !ok(os) || !ok(series) {
        return Err(format!(
            "'{name}' is not a valid name: use custom/NAME or NAME (letters, digits, '.', '-', '_')."
        ));
    }
    Ok(format!(
        "{}/{}",
        os.to_ascii_lowercase(),
        series.to_ascii_lowercase()
    ))
}

/// Architectures images can be uploaded for (Debian names), with their subarchitectures.
const ARCHES: &[&str] = &["amd64", "arm64", "i386", "armhf", "ppc64el", "s390x"];

/// The canonical `arch/subarch` of an upload's `architecture`.
pub fn resource_arch(arch: &str) -> std::result::Result<String, String> {
    let arch = arch.trim();
    if arch.is_empty() {
        return Err("This field is required.".into());
    }
    let (a, sub) = arch.split_once('/').unwrap_or((arch, "generic"));
    if !ARCHES.contains(&a) || sub != "generic" {
        return Err(format!(
            "'{arch}' is not a supported architecture: use one of {}.",
            ARCHES
                .iter()
                .map(|a| format!("{a}/generic"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(format!("{a}/generic"))
}

/// The stored file type of an upload's `filetype` (default `tgz`): see
/// `core::deploy::ImageKind` for the kinds; `ddqcow2` is stored as uploaded and converted to
/// `ddraw` when the upload completes.
pub fn resource_filetype(ft: Option<&str>) -> std::result::Result<&'static str, String> {
    match ft.map(str::trim).filter(|f| !f.is_empty()).unwrap_or("tgz") {
        // A qcow2 disk (cloud images): converted to raw once the upload completes.
        "ddqcow2" | "qcow2" => Ok("ddqcow2"),
        other => ImageKind::parse(other).map(ImageKind::filetype).ok_or_else(|| {
            let names: Vec<&str> = ImageKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "'{other}' is not a supported file type: use tgz, tbz or txz (a root file system tarball), squashfs (a root file system), ddraw (a raw disk image), {} (a compressed or tarred raw disk image) or ddqcow2 (a qcow2 disk image, converted to raw on upload).",
                names[5..].join(", ")
            )
        }),
    }
}

// ------------------------------------------------------------------------------ storage

impl Region {
    /// A machine's kernel options (MAAS's `kernel_opts`), for its ephemeral boots and its
    /// installed system alike: the global setting (the only part for an unknown machine),
    /// then those of the machine's tags, in tag-name order, space-separated.
    pub async fn kernel_opts(&self, m: Option<&Machine>) -> Result<String> {
        let mut opts: Vec<String> = Vec::new();
        if let Some(global) = self.text_setting("kernel_opts").await? {
            opts.extend(global.split_whitespace().map(str::to_string));
        }
        if let Some(m) = m.filter(|m| !m.tags.is_empty()) {
            for t in self.store.list_tags().await? {
                if m.tags.contains(&t.name) {
                    opts.extend(t.kernel_opts.split_whitespace().map(str::to_string));
                }
            }
        }
        Ok(opts.join(" "))
    }

    // -------------------------------------------------------------------------- images
    /// The complete image a deploy installs: `distro_series` (`custom/NAME`, `os/series`, or a
    /// series with `osystem`), else the `default_osystem`/`default_distro_series` settings,
    /// else the only uploaded image. Sets the deploy's osystem and series to the image's.
    async fn choose_image(
        &self,
        m: &Machine,
        params: &Params,
        d: &mut DeployParams,
    ) -> Result<BootResource> {
        let arch = m
            .architecture
            .as_deref()
            .and_then(|a| a.split('/').next())
            .unwrap_or("amd64")
            .to_string();
        let images: Vec<BootResource> = self
            .store
            .boot_resources()
            .await?
            .into_iter()
            .filter(|b| {
                b.complete
                    && b.architecture.split('/').next() == Some(arch.as_str())
                    // Only what the agent installs (not a qcow2 still being converted).
                    && ImageKind::parse(&b.filetype).is_some()
            })
            .collect();
        if images.is_empty() {
            return Err(RegionError::field(
                "distro_series",
                format!("No image has been uploaded for {arch} (boot-resources/): upload one before deploying."),
            ));
        }
        let given = |k: &str| params.get(k).map(str::trim).filter(|v| !v.is_empty());
        let mut wanted = vec![format!("{}/{}", d.osystem, d.distro_series)];
        let explicit_os =
            given("osystem").is_some() || given("distro_series").is_some_and(|s| s.contains('/'));
        if !explicit_os {
            wanted.push(format!("custom/{}", d.distro_series));
        }
        let found = wanted
            .iter()
            .find_map(|w| images.iter().find(|b| &b.name == w));
        let chosen = match found {
            Some(b) => b,
            // Nothing asked for and the defaults name no image: the only one there is.
            None if given("distro_series").is_none() && given("osystem").is_none() => {
                let custom: Vec<&BootResource> = images
                    .iter()
                    .filter(|b| b.name.starts_with("custom/"))
                    .collect();
                match (custom.as_slice(), images.as_slice()) {
                    ([one], _) => *one,
                    ([], [one]) => one,
                    _ => return Err(self.not_an_image(&wanted[0], &images)),
                }
            }
            None => return Err(self.not_an_image(&wanted[0], &images)),
        };
        if let Some((os, series)) = chosen.name.split_once('/') {
            d.osystem = os.to_string();
            d.distro_series = series.to_string();
        }
        Ok(chosen.clone())
    }

    fn not_an_image(&self, wanted: &str, images: &[BootResource]) -> RegionError {
        let names: Vec<String> = images.iter().map(|b| format!("'{}'", b.name)).collect();
        RegionError::field(
            "distro_series",
            format!(
                "'{wanted}' is not a valid distro_series.  It should be one of: {}.",
                names.join(", ")
            ),
        )
    }

    // -------------------------------------------------------------------------- deploy
    /// `op=deploy`: the image chosen and checked, AUTO links given addresses, then the action
    /// (admission queue included). Bad input changes nothing: the addresses are given back
    /// when the deploy is refused.
    pub async fn deploy(
        &self,
        user: &User,
        system_id: &str,
        params: &Params,
        opts: &ActionOptions,
    ) -> Result<Machine> {
        let mut d = forms::deploy_params(self, params).await?;
        let m = self.load(system_id).await?;
        plan(Action::Deploy, &facts(&m), actor(user), opts)?;
        self.choose_image(&m, params, &mut d).await?;
        if m.interfaces.is_empty() {
            return Err(RegionError::BadRequest(
                "This machine has no network interface (MAC address): it cannot network-boot to be installed.".into(),
            ));
        }
        // The storage layout must give the installed OS a root filesystem (and an ESP on UEFI).
        self.check_deploy_storage(&m).await?;
        let auto = self.allocate_auto(&m).await?;
        match self
            .act(user, system_id, Action::Deploy, opts, Some(&d))
            .await
        {
            Ok(m) => Ok(m),
            Err(e) => {
                self.free_auto(&auto).await?;
                Err(e)
            }
        }
    }

    /// Give every AUTO link without an address one from its subnet (the allocator STATIC links
    /// and reservations use). All or nothing: when a subnet is exhausted the addresses given so
    /// far are freed and the deploy is refused (503).
    async fn allocate_auto(&self, m: &Machine) -> Result<Vec<(i64, i64)>> {
        let subnets = self.store.subnets().await?;
        let mut done: Vec<(i64, i64)> = Vec::new();
        for iface in &m.interfaces {
            for l in iface
                .links
                .iter()
                .filter(|l| l.mode == "auto" && l.staticip_id.is_none())
            {
                let Some(sn) = l
                    .subnet_id
                    .and_then(|id| subnets.iter().find(|s| s.id == id))
                else {
                    continue;
                };
                let template = StaticIp {
                    id: 0,
                    subnet_id: sn.id,
                    ip: String::new(),
                    alloc_type: ALLOC_AUTO,
                    mac: None,
                    hostname: m.hostname.clone(),
                    user_id: m.owner_id,
                    interface_id: Some(iface.id),
                    created: 0,
                };
                // The link holds the address from the insert's own transaction on.
                let ip = match self
                    .allocate_static(sn, None, "subnet", template, Some(l.id))
                    .await
                {
                    Ok(ip) => ip,
                    Err(e) => {
                        self.free_auto(&done).await?;
                        return Err(match e {
                            RegionError::Conflict(why) | RegionError::Unavailable(why) => {
                                RegionError::Unavailable(format!(
                                    "Cannot give {} an AUTO address: {why}",
                                    iface.name
                                ))
                            }
                            e => e,
                        });
                    }
                };
                done.push((l.id, ip.id));
            }
        }
        Ok(done)
    }

    async fn free_auto(&self, given: &[(i64, i64)]) -> Result<()> {
        for (link, ip) in given {
            self.store.free_link_staticip(*link, *ip).await?;
        }
        Ok(())
    }

    // -------------------------------------------------------------------------- release
    /// The options of `op=release`: `erase` defaults to `enable_disk_erasing_on_release`;
    /// with erasing, `secure_erase` / `quick_erase` default to `disk_erase_with_secure_erase` /
    /// `disk_erase_with_quick_erase`.
    pub async fn release_options(&self, params: &Params) -> Result<ActionOptions> {
        let mut o = forms::action_options(params)?;
        let setting = |name: &'static str| self.bool_setting(name);
        if params.get_bool("erase")?.is_none() && !o.erase {
            o.erase = setting("enable_disk_erasing_on_release").await?;
        }
        if o.erase {
            if o.secure_erase.is_none() {
                o.secure_erase = Some(setting("disk_erase_with_secure_erase").await?);
            }
            if o.quick_erase.is_none() {
                o.quick_erase = Some(setting("disk_erase_with_quick_erase").await?);
            }
        }
        Ok(o)
    }

    /// `op=release` over several machines (system ids): all are checked before any is
    /// changed; those already READY are left alone. Returns the ones released.
    pub async fn release_machines(
        &self,
        u: &User,
        ids: &[String],
        params: &Params,
    ) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Err(RegionError::field("machines", "This field is required."));
        }
        let opts = self.release_options(params).await?;
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for id in ids {
            match self.store.machine(id).await? {
                Some(m) => found.push(m),
                None => unknown.push(id.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(RegionError::BadRequest(format!(
                "Unknown machine(s): {}.",
                unknown.join(", ")
            )));
        }
        let mut conflicts = Vec::new();
        for m in &found {
            match plan(Action::Release, &facts(m), actor(u), &opts) {
                Ok(_) => {}
                Err(ingot_core::ActionError::WrongStatus(_)) => {
                    conflicts.push(format!("{} ('{}')", m.system_id, m.status.label()))
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !conflicts.is_empty() {
            return Err(RegionError::Conflict(format!(
                "Machine(s) cannot be released in their current state: {}.",
                conflicts.join(", ")
            )));
        }
        let mut released = Vec::new();
        for m in found {
            if m.status == Status::Ready {
                continue;
            }
            self.act(u, &m.system_id, Action::Release, &opts, None)
                .await?;
            released.push(m.system_id);
        }
        Ok(released)
    }

    /// The result set a release with erasing runs: `wipe-disks`.
    pub(crate) fn erase_result_set() -> Vec<(ResultSet, Vec<NewResult>)> {
        let timeout = scripts::builtin(WIPE_DISKS_SCRIPT)
            .map(|b| i64::try_from(b.timeout).unwrap_or(i64::MAX))
            .unwrap_or(0);
        vec![(
            ResultSet::Release,
            vec![NewResult {
                name: WIPE_DISKS_SCRIPT.into(),
                script_id: None,
                timeout_secs: timeout,
                hardware_type: HardwareType::Storage.number(),
            }],
        )]
    }

    /// `wipe-disks`' parameter values, as the agent reads them from `maas-scripts/`.
    pub(crate) fn wipe_parameters(opts: &ActionOptions) -> serde_json::Value {
        serde_json::json!({
            "quick_erase": {"type": "boolean", "value": opts.quick_erase.unwrap_or(false)},
            "secure_erase": {"type": "boolean", "value": opts.secure_erase.unwrap_or(false)},
        })
    }

    // -------------------------------------------------------------------------- config
    /// The vendor-data every machine's cloud-init reads, from the deploy configuration and
    /// from the metadata API (`meta-data/vendor-data`): NTP servers, the proxy, the archive,
    /// remote syslog, the package repositories, as the settings say. `base` is the region's
    /// URL as the machine reaches it (its host is the machine's NTP server when no external
    /// one is set).
    pub async fn vendor_data(&self, m: &Machine, base: &str) -> Result<String> {
        Ok(render_vendor_data(&self.vendor_settings(m, base).await?)
            .unwrap_or_else(|| "#cloud-config\n{}\n".to_string()))
    }

    /// The settings `m`'s installed OS receives as cloud-init vendor-data, with the package
    /// repositories. Values were checked when they were set; one that no longer parses is
    /// left out, not sent.
    /// NTP: `ntp_servers`, or, unless `ntp_external_only`, the host the machine reaches Ingot
    /// through when there are none. The proxy: `http_proxy` while `enable_http_proxy` (Ingot
    /// has no built-in proxy, so `use_peer_proxy` changes nothing). The archive: a
    /// `main_archive` an administrator set, else (Ubuntu deployments only) the default
    /// `main_archive` package repository.
    pub async fn vendor_settings(&self, m: &Machine, base: &str) -> Result<VendorSettings> {
        let get = |name: &'static str| self.text_setting(name);
        let proxy_on = self.bool_setting("enable_http_proxy").await?;
        let (archive, disable_suites, apt_sources) = self.apt_from_repositories(&m.osystem).await?;
        let ntp = get("ntp_servers")
            .await?
            .and_then(|t| parse_ntp_servers(&t).ok())
            .unwrap_or_default();
        let external_only = self.bool_setting("ntp_external_only").await?;
        Ok(VendorSettings {
            ntp_servers: machine_ntp_servers(ntp, external_only, url_host(base)),
            http_proxy: get("http_proxy")
                .await?
                .filter(|u| proxy_on && check_http_url(u).is_ok()),
            apt_mirror: self
                .set_text_setting("main_archive")
                .await?
                .filter(|u| check_http_url(u).is_ok())
                .or(archive),
            remote_syslog: get("remote_syslog")
                .await?
                .filter(|r| check_remote_syslog(r).is_ok()),
            apt_sources,
            disable_suites,
        })
    }

    /// The deploy configuration the ephemeral environment fetches
    /// (`GET /MAAS/metadata/latest/deploy-config`). `base` is the region's URL as the machine
    /// reaches it (`http://HOST:PORT/MAAS`, the `ingot.url` of the iPXE script). 409 unless
    /// the machine is DEPLOYING and admitted.
    pub async fn deploy_config(&self, machine_id: i64, base: &str) -> Result<DeployConfig> {
        let m = self.store.machine_by_id(machine_id).await?.ok_or_else(|| {
            RegionError::NotFound("The machine of this token no longer exists.".into())
        })?;
        if m.status != Status::Deploying {
            return Err(RegionError::Conflict(format!(
                "The machine is not deploying (it is '{}').",
                m.status.label()
            )));
        }
        if m.deploy_queued.is_some() {
            return Err(RegionError::Conflict(
                "The deployment is waiting for a slot (max_concurrent_deployments).".into(),
            ));
        }
        self.build_deploy_config(m, base).await
    }

    /// `machines/{id}/?op=get_curtin_config`: the configuration the machine installs (or
    /// installed) from, for anyone who may see the machine, while it is Deploying, Deployed or
    /// Failed deployment (as MAAS answers it); the machine's token secret is not shown.
    pub async fn installation_config(
        &self,
        user: &User,
        system_id: &str,
        base: &str,
    ) -> Result<DeployConfig> {
        let m = self.machine_for(user, system_id).await?;
        if !matches!(
            m.status,
            Status::Deploying | Status::Deployed | Status::FailedDeployment
        ) {
            return Err(RegionError::BadRequest(format!(
                "Machine {} is not in a deployment state.",
                m.hostname
            )));
        }
        let mut c = self.build_deploy_config(m, base).await?;
        c.reporting.token_secret = "(not shown)".into();
        Ok(c)
    }

    async fn build_deploy_config(&self, m: Machine, base: &str) -> Result<DeployConfig> {
        let name = format!("{}/{}", m.osystem, m.distro_series);
        let arch = m
            .architecture
            .as_deref()
            .and_then(|a| a.split('/').next())
            .unwrap_or("amd64")
            .to_string();
        let image = self
            .store
            .boot_resources()
            .await?
            .into_iter()
            .find(|b| b.name == name && b.architecture.split('/').next() == Some(arch.as_str()))
            .filter(|b| b.complete)
            .ok_or_else(|| {
                RegionError::Conflict(format!(
                    "The image {name} ({arch}) this machine deploys is no longer available."
                ))
            })?;
        let uefi = self.machine_boots_uefi(&m).await?;
        let storage = self
            .deploy_storage_for(&m, uefi)
            .await
            .map_err(|e| match e {
                RegionError::BadRequest(why) => RegionError::Conflict(why),
                e => e,
            })?;
        let subnets = self.store.subnets().await?;
        let routes = self.store.static_routes().await?;
        let racks: Vec<String> = self
            .store
            .racks()
            .await?
            .into_iter()
            .map(|r| r.address)
            .filter(|a| !a.is_empty())
            .collect();
        let network_config =
            render_network_config(&crate::network::net_ifaces(&m, &subnets, &routes, &racks));
        let user_data = self.store.user_data(m.id).await?.map(|ud| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(ud)
        });
        let ssh_keys = self.public_keys(&m).await?;
        let token = self.store.ensure_machine_token(m.id).await?;
        let vendor_data = render_vendor_data(&self.vendor_settings(&m, base).await?);
        let kernel_opts = self.kernel_opts(Some(&m)).await?;
        let special_mounts = self.store.storage_model(m.id).await?.special_mounts();
        let kind = ImageKind::parse(&image.filetype).ok_or_else(|| {
            RegionError::field(
                "distro_series",
                format!(
                    "{}: file type {} cannot be installed",
                    image.name, image.filetype
                ),
            )
        })?;
        Ok(DeployConfig {
            system_id: m.system_id.clone(),
            fqdn: format!("{}.{}", m.hostname, m.domain),
            hostname: m.hostname.clone(),
            image: ImageSource {
                name: image.name.clone(),
                url: format!("{base}/boot/images/{}", image.sha256),
                sha256: image.sha256.clone(),
                size: u64::try_from(image.size).unwrap_or(0),
                kind,
            },
            storage,
            network_config,
            user_data,
            ssh_keys,
            reporting: Reporting {
                endpoint: format!("{base}/metadata/status/{}", m.system_id),
                consumer_key: token.consumer_key,
                token_key: token.token_key,
                token_secret: token.token_secret,
            },
            vendor_data,
            kernel_opts,
            special_mounts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arches_filetypes() {
        assert_eq!(resource_name("foo").unwrap(), "custom/foo");
        assert_eq!(resource_name("custom/Foo").unwrap(), "custom/foo");
        assert_eq!(resource_name("ubuntu/jammy").unwrap(), "ubuntu/jammy");
        assert!(resource_name("").is_err());
        assert!(resource_name("a/b/c").is_err());
        assert!(resource_name("bad name").is_err());
        assert_eq!(resource_arch("amd64/generic").unwrap(), "amd64/generic");
        assert_eq!(resource_arch("amd64").unwrap(), "amd64/generic");
        assert!(resource_arch("vax/generic").is_err());
        assert!(resource_arch("amd64/hwe-22.04").is_err());
        assert_eq!(resource_filetype(None).unwrap(), "root-tgz");
        assert_eq!(resource_filetype(Some("tgz")).unwrap(), "root-tgz");
        assert_eq!(resource_filetype(Some("ddraw")).unwrap(), "ddraw");
        assert_eq!(resource_filetype(Some("ddtgz")).unwrap(), "ddtgz");
        assert_eq!(resource_filetype(Some("txz")).unwrap(), "root-txz");
        assert_eq!(resource_filetype(Some("ddqcow2")).unwrap(), "ddqcow2");
        let e = resource_filetype(Some("zip")).unwrap_err();
        assert!(
            e.contains("ddgz, ddbz2, ddxz, ddtar, ddtgz, ddtbz, ddtxz"),
            "{e}"
        );
    }
}
