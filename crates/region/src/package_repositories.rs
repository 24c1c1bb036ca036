//! Package repositories (MAAS `package-repositories/`): the apt sources deployed machines
//! receive through vendor-data. The two default Ubuntu archives are the mirrors of Ubuntu
//! deployments; every enabled custom repository is added to every deployment's sources.

use crate::settings::need_admin;
use crate::{FieldErrors, Region, RegionError, Result};
use ingot_core::deploy::{apt_sources_of, AptSource};
use ingot_store::repositories::PackageRepository;
use ingot_store::{StoreError, User};
use ingot_wire::Params;

pub const POCKETS_TO_DISABLE: &[&str] = &["updates", "security", "backports"];
pub const COMPONENTS_TO_DISABLE: &[&str] = &["restricted", "universe", "multiverse"];
pub const KNOWN_ARCHES: &[&str] = &[
    "amd64", "i386", "armhf", "arm64", "ppc64el", "riscv64", "s390x",
];
const MAIN_ARCHES: &[&str] = &["amd64", "i386"];
const PORTS_ARCHES: &[&str] = &["armhf", "arm64", "ppc64el", "riscv64", "s390x"];

/// A list parameter as MAAS takes it: repeated and/or comma-separated; `""`, `None` and `[]`
/// clear it.
fn list(p: &Params, name: &str) -> Option<Vec<String>> {
    if !p.contains(name) {
        return None;
    }
    let v: Vec<String> = p
        .get_all(name)
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Some(if v == ["None"] || v == ["[]"] {
        vec![]
    } else {
        v
    })
}

/// A repository URL: http(s) or ftp, or a Launchpad PPA (`ppa:owner/name`).
fn repo_url(u: &str) -> std::result::Result<String, String> {
    let u = u.trim();
    if let Some(ppa) = u.strip_prefix("ppa:") {
        let ok = ppa.split('/').count() == 2
            && ppa
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-._+".contains(c));
        return if ok {
            Ok(format!("http://ppa.launchpad.net/{ppa}/ubuntu"))
        } else {
            Err(format!("'{u}' is not a PPA (ppa:owner/name)."))
        };
    }
    match u.split_once("://") {
        Some(("http" | "https" | "ftp", rest))
            if !rest.is_empty() && !rest.contains(char::is_whitespace) =>
        {
            Ok(u.to_string())
        }
        _ => Err(format!(
            "'{u}' is not an http, https or ftp URL, nor a PPA."
        )),
    }
}

fn not_found() -> RegionError {
    RegionError::NotFound("No PackageRepository matches the given query.".into())
}

impl Region {
    pub async fn package_repositories(&self) -> Result<Vec<PackageRepository>> {
        Ok(self.store.package_repositories().await?)
    }

    /// A repository by id or name.
    pub async fn package_repository(&self, key: &str) -> Result<PackageRepository> {
        let all = self.store.package_repositories().await?;
        all.into_iter()
            .find(|r| key.parse::<i64>().is_ok_and(|id| id == r.id) || r.name == key)
            .ok_or_else(not_found)
    }

    /// Create (`key` None) or update a repository (admin), with MAAS's checks: a name and a
    /// URL (or PPA); pockets and components that may be turned off; known architectures;
    /// default archives stay enabled and take `disabled_components`, custom ones `components`.
    pub async fn save_package_repository(
        &self,
        u: &User,
        key: Option<&str>,
        p: &Params,
    ) -> Result<PackageRepository> {
        need_admin(u)?;
        let mut r = match key {
            Some(k) => self.package_repository(k).await?,
            None => PackageRepository {
                enabled: true,
                disable_sources: true,
                ..Default::default()
            },
        };
        let creating = key.is_none();
        let mut fe = FieldErrors::default();
        match p.get("name").map(str::trim) {
            Some(n) if !n.is_empty() => r.name = n.to_string(),
            Some(_) | None if creating || p.contains("name") => {
                fe.add("name", "This field is required.")
            }
            _ => {}
        }
        match p.get("url") {
            Some(u) => match repo_url(u) {
                Ok(u) => r.url = u,
                Err(e) => fe.add("url", e),
            },
            None if creating => fe.add("url", "This field is required."),
            None => {}
        }
        if let Some(d) = list(p, "distributions") {
            r.distributions = d;
        }
        if let Some(v) = list(p, "disabled_pockets") {
            match v.iter().find(|x| !POCKETS_TO_DISABLE.contains(&x.as_str())) {
                Some(bad) => fe.add(
                    "disabled_pockets",
                    format!(
                        "'{bad}' is not a valid Ubuntu archive pocket. You can only disable {}.",
                        POCKETS_TO_DISABLE.join(", ")
                    ),
                ),
                None => r.disabled_pockets = v,
            }
        }
        if let Some(v) = list(p, "disabled_components") {
            if !r.default && !v.is_empty() {
                fe.add(
                    "disabled_components",
                    "This is a custom repository. Please update 'components' instead.",
                );
            } else if let Some(bad) = v
                .iter()
                .find(|x| !COMPONENTS_TO_DISABLE.contains(&x.as_str()))
            {
                fe.add(
                    "disabled_components",
                    format!(
                        "'{bad}' is not a valid Ubuntu archive component. You can only disable {}.",
                        COMPONENTS_TO_DISABLE.join(", ")
                    ),
                );
            } else {
                r.disabled_components = v;
            }
        }
        if let Some(v) = list(p, "components") {
            if r.default && !v.is_empty() {
                fe.add("components", "This is a default Ubuntu repository. Please update 'disabled_components' instead.");
            } else {
                r.components = v;
            }
        }
        if let Some(v) = list(p, "arches") {
            match v.iter().find(|a| !KNOWN_ARCHES.contains(&a.as_str())) {
                Some(bad) => fe.add(
                    "arches",
                    format!(
                        "'{bad}' is not a valid architecture. Known architectures: {}",
                        KNOWN_ARCHES.join(", ")
                    ),
                ),
                None => r.arches = v,
            }
        }
        if r.arches.is_empty() {
            let d = if r.name == "ports_archive" {
                PORTS_ARCHES
            } else {
                MAIN_ARCHES
            };
            r.arches = d.iter().map(|a| a.to_string()).collect();
        }
        if let Some(k) = p.get("key") {
            r.key = k.to_string();
        }
        if let Some(e) = p.get_bool("enabled")? {
            r.enabled = e;
        }
        if let Some(d) = p.get_bool("disable_sources")? {
            r.disable_sources = d;
        }
        if r.default && !r.enabled {
            fe.add("enabled", "Default repositories may not be disabled.");
        }
        fe.check()?;
        self.store
            .save_package_repository(&r)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate(m) => RegionError::field("name", m),
                e => e.into(),
            })
    }

    /// Delete a custom repository (admin); the default archives stay.
    pub async fn delete_package_repository(&self, u: &User, key: &str) -> Result<()> {
        need_admin(u)?;
        let r = self.package_repository(key).await?;
        if r.default {
            return Err(RegionError::BadRequest(format!(
                "{} is a default repository and cannot be deleted.",
                r.name
            )));
        }
        Ok(self.store.delete_package_repository(r.id).await?)
    }

    /// What the repositories ask of a machine installing `osystem`: the primary mirror (an
    /// Ubuntu deployment's is the default `main_archive`), the pockets to turn off, and the
    /// enabled custom repositories as apt sources.
    pub(crate) async fn apt_from_repositories(
        &self,
        osystem: &str,
    ) -> Result<(Option<String>, Vec<String>, Vec<AptSource>)> {
        let repos = self.store.package_repositories().await?;
        let main = repos.iter().find(|r| r.default && r.name == "main_archive");
        let ubuntu = osystem == "ubuntu";
        let mirror = main.filter(|_| ubuntu).map(|r| r.url.clone());
        let disable = main
            .filter(|_| ubuntu)
            .map(|r| r.disabled_pockets.clone())
            .unwrap_or_default();
        let sources = repos
            .iter()
            .filter(|r| r.enabled && !r.default)
            .flat_map(|r| {
                apt_sources_of(
                    &r.name,
                    &r.url,
                    &r.distributions,
                    &r.components,
                    &r.arches,
                    Some(&r.key),
                )
            })
            .collect();
        Ok((mirror, disable, sources))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_ppas() {
        for (given, want) in [
            (
                "http://mirror.example/ubuntu",
                Ok("http://mirror.example/ubuntu"),
            ),
            (
                "ppa:maas/stable",
                Ok("http://ppa.launchpad.net/maas/stable/ubuntu"),
            ),
            ("ppa:nope", Err(())),
            ("file:///etc/passwd", Err(())),
            ("http://", Err(())),
            ("mirror.example", Err(())),
        ] {
            assert_eq!(
                repo_url(given).map_err(|_| ()),
                want.map(String::from),
                "{given}"
            );
        }
    }
}
