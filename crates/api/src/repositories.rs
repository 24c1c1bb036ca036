//! `package-repositories/` in MAAS's shape.

use crate::{no_content, ok_json, App, Req, Res};
use axum::http::Method;
use ingot_region::model::{PackageRepository, User};
use serde_json::{json, Value};

fn repo_json(r: &PackageRepository) -> Value {
    json!({
        "id": r.id, "name": r.name, "url": r.url,
        "distributions": r.distributions, "disabled_pockets": r.disabled_pockets,
        "disabled_components": r.disabled_components, "disable_sources": r.disable_sources,
        "components": r.components, "arches": r.arches, "key": r.key, "enabled": r.enabled,
        "resource_uri": format!("{}/package-repositories/{}/", crate::render::API, r.id),
    })
}

/// `package-repositories/`: list, create (admin).
pub(crate) async fn collection(app: &App, r: &Req, u: &User) -> Res {
    if r.method == Method::POST {
        let repo = app
            .region
            .save_package_repository(u, None, &r.params())
            .await?;
        return ok_json(repo_json(&repo));
    }
    let all = app.region.package_repositories().await?;
    ok_json(Value::Array(all.iter().map(repo_json).collect()))
}

/// `package-repositories/{id}/`: read, update and delete (admin).
pub(crate) async fn item(app: &App, r: &Req, u: &User, id: &str) -> Res {
    let repo = match r.method {
        Method::PUT => {
            app.region
                .save_package_repository(u, Some(id), &r.params())
                .await?
        }
        Method::DELETE => {
            app.region.delete_package_repository(u, id).await?;
            return no_content();
        }
        _ => app.region.package_repository(id).await?,
    };
    ok_json(repo_json(&repo))
}
