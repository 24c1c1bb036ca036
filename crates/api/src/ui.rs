//! The web UI's first pages, under `/MAAS/r/` (MAAS's UI path; `/` and `/MAAS/` lead there):
//! sign-in with a username and password (`POST /MAAS/accounts/login/`: a session cookie,
//! HttpOnly and SameSite=Strict, Secure over TLS, and a CSRF token), sign-out, and the machine
//! list rendered on the server from the same region operation and JSON as `machines/`, with
//! `key:value` filters kept in the URL. Every page carries a Content-Security-Policy that
//! forbids framing, inline scripts and foreign origins; everything users or machines supplied
//! is escaped as text. The same session authenticates the API (`api_principal`), with the
//! CSRF token required on every request that is not GET or HEAD.

use crate::{App, Req, Res};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ingot_region::model::User;
use ingot_region::{Principal, RegionError};
use serde_json::Value;

pub(crate) const SESSION_COOKIE: &str = "ingot_session";
pub(crate) const CSRF_COOKIE: &str = "ingot_csrf";
/// The header (as Django's, which MAAS's UI sends) or form field carrying the CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrftoken";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; object-src 'none'";

/// A cookie of the request.
pub(crate) fn cookie<'a>(r: &'a Req, name: &str) -> Option<&'a str> {
    r.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Text as HTML (element content and quoted attribute values).
pub(crate) use ingot_core::markup::escape as esc;

fn secure(r: &Req) -> bool {
    r.base.starts_with("https:")
}

fn set_cookie(r: &Req, name: &str, value: &str, max_age: i64, http_only: bool) -> String {
    format!(
        "{name}={value}; Path=/MAAS; Max-Age={max_age}; SameSite=Strict{}{}",
        if http_only { "; HttpOnly" } else { "" },
        if secure(r) { "; Secure" } else { "" }
    )
}

/// An HTML page with the security headers every UI page has.
fn page(status: StatusCode, title: &str, body: &str, cookies: &[String]) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} | Ingot</title><link rel=\"stylesheet\" href=\"/MAAS/r/ui.css\"></head>\
         <body>{body}</body></html>\n",
        esc(title)
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(to) {
        h.insert(header::LOCATION, v);
    }
    secure_headers(h);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Who calls the API with a session cookie and no `Authorization` (None: no live session).
/// A request that changes something must carry the session's CSRF token.
pub(crate) async fn api_principal(app: &App, r: &Req) -> Result<Option<Principal>, RegionError> {
    let Some(token) = cookie(r, SESSION_COOKIE) else {
        return Ok(None);
    };
    if r.method == Method::GET || r.method == Method::HEAD {
        return Ok(app
            .region
            .ui_session(token)
            .await?
            .map(|(u, _)| Principal::User(u)));
    }
    let csrf = r.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    Ok(Some(Principal::User(
        app.region.ui_session_for_change(token, csrf).await?,
    )))
}

/// A form post from another site is refused (login CSRF): its `Origin`, when the browser
/// sends one, must be this server.
fn same_origin(r: &Req) -> bool {
    match r.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(o) => o == r.base,
    }
}

fn login_page(status: StatusCode, error: Option<&str>, username: &str) -> Response {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        status,
        "Sign in",
        &format!(
            "<main class=\"login\"><h1>Ingot</h1>{err}\
             <form method=\"post\" action=\"/MAAS/accounts/login/\">\
             <label>Username <input name=\"username\" autocomplete=\"username\" required value=\"{}\"></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">Sign in</button></form></main>",
            esc(username)
        ),
        &[],
    )
}

/// `/MAAS/accounts/login/` (GET: the form; POST: sign in) and `/MAAS/accounts/logout/`.
pub(crate) async fn accounts(app: &App, r: &Req, what: &str) -> Res {
    match (what, &r.method) {
        ("login", &Method::GET) => Ok(login_page(StatusCode::OK, None, "")),
        ("login", &Method::POST) => {
            if !same_origin(r) {
                return Ok(login_page(
                    StatusCode::FORBIDDEN,
                    Some("Sign-in refused: the form was sent from another site."),
                    "",
                ));
            }
            let p = r.params();
            let username = p.get("username").unwrap_or_default().to_string();
            match app
                .region
                .ui_login(&username, p.get("password").unwrap_or_default())
                .await
            {
                Ok((_, s)) => Ok(redirect(
                    "/MAAS/r/",
                    &[
                        set_cookie(r, SESSION_COOKIE, &s.token, s.max_age, true),
                        set_cookie(r, CSRF_COOKIE, &s.csrf, s.max_age, false),
                    ],
                )),
                Err(RegionError::Unauthorized(m)) => {
                    Ok(login_page(StatusCode::UNAUTHORIZED, Some(&m), &username))
                }
                Err(e) => Err(e.into()),
            }
        }
        ("logout", &Method::POST) => {
            let token = cookie(r, SESSION_COOKIE).unwrap_or_default().to_string();
            let p = r.params();
            let csrf = r
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .or_else(|| p.get("csrf"));
            app.region.ui_session_for_change(&token, csrf).await?;
            app.region.ui_logout(&token).await?;
            Ok(redirect(
                "/MAAS/accounts/login/",
                &[
                    set_cookie(r, SESSION_COOKIE, "", 0, true),
                    set_cookie(r, CSRF_COOKIE, "", 0, false),
                ],
            ))
        }
        _ => Err(crate::not_found(format!("Nothing at {}", r.path))),
    }
}

/// One `key:value` filter of the machine list, or free text (the host name contains it).
fn matches(m: &Value, term: &str) -> bool {
    let text = |v: &Value| v.as_str().unwrap_or("").to_lowercase();
    let term = term.to_lowercase();
    match term.split_once(':') {
        Some(("status", v)) => text(&m["status_name"]).replace(' ', "") == v.replace(' ', ""),
        Some(("owner", v)) => text(&m["owner"]) == v,
        Some(("pool", v)) => text(&m["pool"]["name"]) == v,
        Some(("zone", v)) => text(&m["zone"]["name"]) == v,
        Some(("arch", v)) => text(&m["architecture"]).starts_with(v),
        Some(("tag", v)) => m["tag_names"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| text(x) == v)),
        _ => text(&m["hostname"]).contains(&term),
    }
}

fn gib(bytes_mib: &Value) -> String {
    match bytes_mib.as_f64() {
        Some(mib) => format!("{:.1} GiB", mib / 1024.0),
        None => String::new(),
    }
}

/// `/MAAS/r/`: the machine list of the signed-in user, grouped by status with counts.
async fn machines_page(app: &App, r: &Req, u: &User, csrf: &str) -> Res {
    let q = r.query.get("q").unwrap_or_default().to_string();
    let ms = app
        .region
        .list_machines(u, ingot_region::model::MachineFilter::default())
        .await?;
    let net = crate::render::Net::for_machines(&app.region, &ms).await?;
    let mut rows: Vec<Value> = ms
        .iter()
        .map(|m| crate::render::machine(m, &net))
        .filter(|m| q.split_whitespace().all(|t| matches(m, t)))
        .collect();
    rows.sort_by(|a, b| {
        (a["status_name"].as_str(), a["hostname"].as_str())
            .cmp(&(b["status_name"].as_str(), b["hostname"].as_str()))
    });
    let mut body = format!(
        "<header><h1>Machines</h1><p>Signed in as {}</p>\
         <form method=\"post\" action=\"/MAAS/accounts/logout/\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Sign out</button></form>\
         </header><form method=\"get\" action=\"/MAAS/r/\" class=\"search\">\
         <input name=\"q\" value=\"{}\" placeholder=\"hostname, status:ready owner:… pool:… zone:… tag:… arch:…\">\
         <button type=\"submit\">Filter</button></form>\
         <p class=\"count\">{} machine{}</p>",
        esc(&u.username),
        esc(csrf),
        esc(&q),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    let mut i = 0;
    while i < rows.len() {
        let status = rows[i]["status_name"].as_str().unwrap_or("").to_string();
        let n = rows[i..]
            .iter()
            .take_while(|m| m["status_name"].as_str() == Some(status.as_str()))
            .count();
        body.push_str(&format!(
            "<section><h2>{} <span class=\"n\">{n}</span></h2><table><thead><tr>\
             <th>Hostname</th><th>Status</th><th>Power</th><th>Owner</th><th>Architecture</th>\
             <th>Cores</th><th>Memory</th><th>Pool</th><th>Zone</th><th>Tags</th></tr></thead><tbody>",
            esc(&status)
        ));
        for m in &rows[i..i + n] {
            let s = |k: &str| esc(m[k].as_str().unwrap_or(""));
            let tags: Vec<String> = m["tag_names"]
                .as_array()
                .map(|t| t.iter().filter_map(|x| x.as_str()).map(esc).collect())
                .unwrap_or_default();
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s("hostname"),
                s("status_name"),
                s("status_message"),
                s("power_state"),
                s("owner"),
                s("architecture"),
                m["cpu_count"],
                gib(&m["memory"]),
                esc(m["pool"]["name"].as_str().unwrap_or("")),
                esc(m["zone"]["name"].as_str().unwrap_or("")),
                tags.join(", ")
            ));
        }
        body.push_str("</tbody></table></section>");
        i += n;
    }
    Ok(page(StatusCode::OK, "Machines", &body, &[]))
}

const CSS: &str = include_str!("ui.css");

/// `/MAAS/r/…`: the pages; without a live session, the sign-in form.
pub(crate) async fn pages(app: &App, r: &Req, rest: &[&str]) -> Res {
    if r.method != Method::GET && r.method != Method::HEAD {
        return Err(crate::bad("The UI's pages are read with GET."));
    }
    match rest {
        ["ui.css"] => {
            let mut resp = CSS.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            );
            secure_headers(resp.headers_mut());
            Ok(resp)
        }
        [] | ["machines"] => {
            let session = match cookie(r, SESSION_COOKIE) {
                Some(t) => app.region.ui_session(t).await?,
                None => None,
            };
            match session {
                Some((u, csrf)) => machines_page(app, r, &u, &csrf).await,
                None => Ok(redirect("/MAAS/accounts/login/", &[])),
            }
        }
        _ => Err(crate::not_found(format!("Nothing at {}", r.path))),
    }
}

/// `/` and `/MAAS/`: to the UI.
pub(crate) fn to_ui() -> Response {
    redirect("/MAAS/r/", &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn filters_of_the_machine_list() {
        let m = serde_json::json!({
            "hostname": "web-01", "status_name": "Failed commissioning", "owner": "Alice",
            "pool": {"name": "prod"}, "zone": {"name": "z1"}, "architecture": "amd64/generic",
            "tag_names": ["ssd", "gpu"],
        });
        for (term, want) in [
            ("web", true),
            ("db", false),
            ("status:failedcommissioning", true),
            ("status:ready", false),
            ("owner:alice", true),
            ("pool:prod", true),
            ("zone:z2", false),
            ("arch:amd64", true),
            ("tag:gpu", true),
            ("tag:nvme", false),
        ] {
            assert_eq!(matches(&m, term), want, "{term}");
        }
    }
}
