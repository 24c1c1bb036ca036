//! `users/`, `account/` (API tokens), `account/prefs/sshkeys/`, and `/MAAS/accounts/authenticate/`.

use crate::{no_content, ok_json, render, unknown_op, App, Req, Res};
use axum::http::Method;
use ingot_region::model::User;
use serde_json::json;
use serde_json::Value;

pub(crate) async fn login(app: &App, r: &Req) -> Res {
    let p = r.params();
    let u = app
        .region
        .login(
            p.get("username").unwrap_or_default(),
            p.get("password").unwrap_or_default(),
        )
        .await?;
    let t = app
        .region
        .create_user_token(&u, p.get("consumer").unwrap_or_default())
        .await?;
    ok_json(
        json!({"consumer_key": t.consumer_key, "token_key": t.token_key, "token_secret": t.token_secret, "name": t.name}),
    )
}

pub(crate) async fn users(app: &App, r: &Req, u: &User) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => {
            let us = app.region.list_users().await?;
            ok_json(Value::Array(us.iter().map(render::user).collect()))
        }
        (&Method::GET, Some("whoami")) => ok_json(render::user(u)),
        (&Method::POST, None) => {
            let nu = app.region.add_user(u, &r.params()).await?;
            ok_json(render::user(&nu))
        }
        _ => Err(unknown_op(r)),
    }
}

pub(crate) async fn user_item(app: &App, r: &Req, u: &User, name: &str) -> Res {
    match (&r.method, r.op()) {
        (&Method::GET, None) => ok_json(render::user(&app.region.user_named(name).await?)),
        (&Method::DELETE, None) => {
            app.region.delete_user(u, name).await?;
            no_content()
        }
        (&Method::PUT, None) => ok_json(render::user(
            &app.region.set_user_admin(u, name, &r.params()).await?,
        )),
        _ => {
            app.region.user_named(name).await?;
            Err(unknown_op(r))
        }
    }
}

pub(crate) async fn account(app: &App, r: &Req, u: &User) -> Res {
    let p = r.params();
    match (&r.method, r.op()) {
        (&Method::POST, Some("create_authorisation_token")) => {
            let t = app
                .region
                .create_user_token(u, p.get("name").unwrap_or_default())
                .await?;
            ok_json(
                json!({"consumer_key": t.consumer_key, "token_key": t.token_key, "token_secret": t.token_secret, "name": t.name}),
            )
        }
        (&Method::POST, Some("update_token_name")) => {
            app.region
                .update_token_name(u, p.get("token"), p.get("name"))
                .await?;
            no_content()
        }
        (&Method::POST, Some("delete_authorisation_token")) => {
            app.region.delete_user_token(u, p.get("token_key")).await?;
            no_content()
        }
        (&Method::GET, Some("list_authorisation_tokens")) => {
            let ts = app.region.user_tokens(u).await?;
            ok_json(Value::Array(ts.iter().map(render::token).collect()))
        }
        _ => Err(unknown_op(r)),
    }
}

pub(crate) async fn sshkeys(app: &App, r: &Req, u: &User, id: Option<&str>) -> Res {
    let key_json = |id: i64, key: &str| json!({"id": id, "key": key, "keysource": null, "resource_uri": format!("{}/account/prefs/sshkeys/{id}/", render::API)});
    match (id, &r.method) {
        (None, &Method::GET) => {
            let ks = app.region.sshkeys(u).await?;
            ok_json(Value::Array(
                ks.iter().map(|(i, k)| key_json(*i, k)).collect(),
            ))
        }
        (None, &Method::POST) => {
            let p = r.params();
            let (id, key) = app
                .region
                .add_sshkey(u, p.get("key").unwrap_or_default())
                .await?;
            ok_json(key_json(id, &key))
        }
        (Some(id), &Method::GET) => {
            let (id, k) = app.region.sshkey(u, id).await?;
            ok_json(key_json(id, &k))
        }
        (Some(id), &Method::DELETE) => {
            app.region.delete_sshkey(u, id).await?;
            no_content()
        }
        (Some(id), _) => {
            app.region.sshkey(u, id).await?;
            Err(unknown_op(r))
        }
        _ => Err(unknown_op(r)),
    }
}
