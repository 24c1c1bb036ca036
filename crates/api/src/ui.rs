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
             <label>Username <input name=\"username\" autocomplete=\"username\" autofocus required value=\"{}\"></label>\
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

const CSS: &str = include_str!("../assets/ui.css");
const APP_JS: &str = include_str!("../assets/app.js");
const ADD_JS: &str = include_str!("../assets/add.js");
const COMMON_JS: &str = include_str!("../assets/common.js");
const CLONE_JS: &str = include_str!("../assets/clone.js");
const IMAGES_JS: &str = include_str!("../assets/images.js");

/// `/MAAS/r/…`: the pages; without a live session, the sign-in form.
pub(crate) async fn pages(app: &App, r: &Req, rest: &[&str]) -> Res {
    if r.method != Method::GET && r.method != Method::HEAD {
        return Err(crate::bad("The UI's pages are read with GET."));
    }
    match rest {
        ["ui.css"] => return Ok(asset(CSS, "text/css; charset=utf-8")),
        ["app.js"] => return Ok(asset(APP_JS, "text/javascript; charset=utf-8")),
        ["add.js"] => return Ok(asset(ADD_JS, "text/javascript; charset=utf-8")),
        ["common.js"] => return Ok(asset(COMMON_JS, "text/javascript; charset=utf-8")),
        ["clone.js"] => return Ok(asset(CLONE_JS, "text/javascript; charset=utf-8")),
        ["images.js"] => return Ok(asset(IMAGES_JS, "text/javascript; charset=utf-8")),
        ["events"] => return crate::live::events(app, r).await,
        _ => {}
    }
    // Every page is for a signed-in user; without a live session, the sign-in form.
    let session = match cookie(r, SESSION_COOKIE) {
        Some(t) => app.region.ui_session(t).await?,
        None => None,
    };
    let Some((u, csrf)) = session else {
        return Ok(redirect("/MAAS/accounts/login/", &[]));
    };
    // A page: the header every page has, then its own content.
    let ok = |title: &str, live: bool, body: &str| {
        Ok(page(
            StatusCode::OK,
            title,
            &format!("{}{body}", header(title, &u, &csrf, live)),
            &[],
        ))
    };
    match rest {
        ["controllers"] => ok(
            "Controllers",
            false,
            &crate::ui_controllers::page(app).await?,
        ),
        ["add"] => ok("Add machine", false, &crate::ui_add::page(app).await?),
        ["clone"] => ok("Clone", false, &crate::ui_clone::page(app, r, &u).await?),
        ["zones"] => ok(
            "Zones",
            false,
            &crate::ui_catalog::named(app, &u, ingot_region::model::NamedKind::Zone).await?,
        ),
        ["pools"] => ok(
            "Resource pools",
            false,
            &crate::ui_catalog::named(app, &u, ingot_region::model::NamedKind::Pool).await?,
        ),
        ["tags"] => ok("Tags", false, &crate::ui_catalog::tags(app, &u).await?),
        ["network"] => ok("Network", false, &crate::ui_network::page(app, &u).await?),
        ["images"] => ok("Images", false, &crate::ui_images::page(app, &u).await?),
        ["scripts"] => ok("Scripts", false, &crate::ui_scripts::page(app, &u).await?),
        ["subnet", id] => {
            let (title, body) = crate::ui_network::subnet_page(app, r, &u, id).await?;
            ok(&title, false, &body)
        }
        ["account"] => ok(
            "Account",
            false,
            &crate::ui_account::account(app, &u).await?,
        ),
        ["users"] => ok("Users", false, &crate::ui_account::users(app, &u).await?),
        ["settings"] => ok("Settings", false, &crate::ui_settings::page(app, &u).await?),
        ["machine", sid, "part"] => Ok(fragment(&crate::ui_machine::part(app, r, &u, sid).await?)),
        ["machine", sid] => {
            let (host, body) = crate::ui_machine::page(app, r, &u, sid).await?;
            ok(&host, true, &body)
        }
        ["list"] => Ok(fragment(&crate::ui_machines::list(app, r, &u).await?)),
        [] | ["machines"] => {
            let list = crate::ui_machines::list(app, r, &u).await?;
            ok(
                "Machines",
                true,
                &crate::ui_machines::shell(app, r, &list).await?,
            )
        }
        _ => Err(crate::not_found(format!("Nothing at {}", r.path))),
    }
}

/// The pages' links, in the order of the navigation bar: (path under `/MAAS/r/`, name).
const NAV: &[(&str, &str)] = &[
    ("", "Machines"),
    ("add", "Add machine"),
    ("clone", "Clone"),
    ("controllers", "Controllers"),
    ("network", "Network"),
    ("images", "Images"),
    ("scripts", "Scripts"),
    ("zones", "Zones"),
    ("pools", "Resource pools"),
    ("tags", "Tags"),
    ("settings", "Settings"),
    ("users", "Users"),
    ("account", "Account"),
];

/// The top of every page: its title, the navigation (the current page marked for assistive
/// technology), who is signed in and the sign-out button; `live` adds the live stream's state.
fn header(title: &str, u: &User, csrf: &str, live: bool) -> String {
    let links: String = NAV
        .iter()
        .map(|(path, name)| {
            format!(
                "<a href=\"/MAAS/r/{path}\"{}>{name}</a>",
                if *name == title {
                    " aria-current=\"page\""
                } else {
                    ""
                }
            )
        })
        .collect();
    format!(
        "<header><h1>{}</h1><nav aria-label=\"Main\">{links}</nav><p>Signed in as {}</p>{}\
         <form method=\"post\" action=\"/MAAS/accounts/logout/\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Sign out</button></form></header>",
        esc(title),
        esc(&u.username),
        if live { "<p id=\"live\" class=\"live\">static</p>" } else { "" },
        esc(csrf),
    )
}

fn asset(text: &'static str, content_type: &'static str) -> Response {
    let mut resp = text.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure_headers(resp.headers_mut());
    resp
}

/// A part of a page (what the live list fetches), with the page's headers.
fn fragment(html: &str) -> Response {
    let mut resp = html.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(resp.headers_mut());
    resp
}

/// `<option>`s of (value, label) pairs, `selected` chosen.
pub(crate) fn options<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a str)>,
    selected: &str,
) -> String {
    items
        .into_iter()
        .map(|(v, l)| {
            format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(v),
                if v == selected { " selected" } else { "" },
                esc(l)
            )
        })
        .collect()
}

/// `<option>`s of names (each its own label), `selected` chosen.
pub(crate) fn name_options(names: &[String], selected: &str) -> String {
    options(names.iter().map(|n| (n.as_str(), n.as_str())), selected)
}

/// The zones' and pools' names, for the pages' selects.
pub(crate) async fn zones_and_pools(app: &App) -> Result<(Vec<String>, Vec<String>), RegionError> {
    let names = |v: Vec<ingot_region::model::Named>| v.into_iter().map(|n| n.name).collect();
    Ok((
        names(
            app.region
                .list_named(ingot_region::model::NamedKind::Zone)
                .await?,
        ),
        names(
            app.region
                .list_named(ingot_region::model::NamedKind::Pool)
                .await?,
        ),
    ))
}

/// The user of a live session (for reads).
pub(crate) async fn session_user(app: &App, r: &Req) -> Result<Option<User>, RegionError> {
    match cookie(r, SESSION_COOKIE) {
        Some(t) => Ok(app.region.ui_session(t).await?.map(|(u, _)| u)),
        None => Ok(None),
    }
}

/// A refusal as a person reads it: field errors' messages, else the error's text.
pub(crate) fn refusal(e: &RegionError) -> String {
    match e {
        RegionError::Fields(f) => f.values().flatten().cloned().collect::<Vec<_>>().join(" "),
        other => other.to_string(),
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
}
