//! Turning `PROFILE HANDLER ACTION [params] [key=value ...]` into an HTTP request,
//! the way the `maas` CLI does. No network here.

use std::path::PathBuf;

use percent_encoding::{percent_encode, AsciiSet};
use reqwest::Url;

use crate::apiurl::{origin, path_after_api_root, uri_path};
use crate::describe::{commands, find_command, parse_description, Action, Command};
use crate::error::{CliError, Result};
use crate::multipart::{content_type, encode_multipart, generate_boundary, Part};
use crate::oauth::OAUTH_SET;
use crate::profile::Profile;

/// Characters left as they are in a substituted path segment: the unreserved
/// ones plus `:` and `@` (allowed in a segment, handy for MAC addresses).
const SEGMENT_SET: &AsciiSet = &OAUTH_SET.remove(b':').remove(b'@');

/// A fully built request, ready to be signed and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// `GET`, `POST`, `PUT`, `DELETE`, ...
    pub method: String,
    /// Absolute URL including the query string.
    pub url: String,
    /// `multipart/form-data; boundary=...` when there is a body.
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// A request before the multipart body is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPlan {
    pub method: String,
    pub url: String,
    /// Form parts (POST/PUT and other body methods); `None` for GET/DELETE.
    pub form: Option<Vec<Part>>,
}

impl RequestPlan {
    /// Encode the body with `boundary`.
    pub fn prepare_with_boundary(self, boundary: &str) -> PreparedRequest {
        match self.form {
            Some(parts) => PreparedRequest {
                method: self.method,
                url: self.url,
                content_type: Some(content_type(boundary)),
                body: Some(encode_multipart(&parts, boundary)),
            },
            None => PreparedRequest {
                method: self.method,
                url: self.url,
                content_type: None,
                body: None,
            },
        }
    }

    /// Encode the body with a fresh random boundary.
    pub fn prepare(self) -> PreparedRequest {
        let boundary = generate_boundary(self.form.as_deref().unwrap_or(&[]));
        self.prepare_with_boundary(&boundary)
    }
}

/// One `key=value` / `key@=path` data argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataArg {
    Value(String, String),
    File(String, PathBuf),
}

impl DataArg {
    /// Parse `key=value` or `key@=path` (split at the first `=`).
    pub fn parse(arg: &str) -> Result<DataArg> {
        match arg.split_once('=') {
            Some((name, value)) if !name.is_empty() => match name.strip_suffix('@') {
                Some(name) if !name.is_empty() => {
                    Ok(DataArg::File(name.to_string(), PathBuf::from(value)))
                }
                Some(_) => Err(CliError::NotKeyValue(arg.to_string())),
                None => Ok(DataArg::Value(name.to_string(), value.to_string())),
            },
            _ => Err(CliError::NotKeyValue(arg.to_string())),
        }
    }

    fn name(&self) -> &str {
        match self {
            DataArg::Value(n, _) | DataArg::File(n, _) => n,
        }
    }

    fn content(&self) -> Result<Vec<u8>> {
        match self {
            DataArg::Value(_, v) => Ok(v.clone().into_bytes()),
            DataArg::File(name, path) => {
                std::fs::read(path).map_err(|source| CliError::ParamFile {
                    name: name.clone(),
                    path: path.clone(),
                    source,
                })
            }
        }
    }

    fn into_part(self) -> Result<Part> {
        let content = self.content()?;
        Ok(match self {
            DataArg::Value(name, _) => Part {
                name,
                content,
                filename: None,
            },
            DataArg::File(name, path) => {
                let filename = path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.clone());
                Part::file(name, filename, content)
            }
        })
    }
}

/// Whether `arg` looks like a data argument rather than a positional value.
fn looks_like_data(arg: &str) -> bool {
    match arg.split_once('=') {
        Some((name, _)) => {
            let name = name.strip_suffix('@').unwrap_or(name);
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        None => false,
    }
}

/// `application/x-www-form-urlencoded` like Python's `urlencode` (space → `+`).
fn form_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, OAUTH_SET)
        .to_string()
        .replace("%20", "+")
}

/// The usage line of an action.
pub fn action_usage(profile: &str, command: &Command, action: &Action) -> String {
    let mut usage = format!("ingot {profile} {} {}", command.name, action.command_name());
    for p in &command.handler.params {
        usage.push(' ');
        usage.push_str(p);
    }
    usage.push_str(" [key=value ...]");
    usage
}

/// Build the request for an already resolved command and action.
pub fn plan_for(
    profile: &Profile,
    command: &Command,
    action: &Action,
    args: &[String],
) -> Result<RequestPlan> {
    let params = &command.handler.params;
    // Positional URI parameters come first.
    let mut values = Vec::with_capacity(params.len());
    for (i, param) in params.iter().enumerate() {
        match args.get(i) {
            Some(v) if !looks_like_data(v) => values.push(v.as_str()),
            _ => {
                return Err(CliError::MissingParam {
                    param: param.clone(),
                    usage: action_usage(&profile.name, command, action),
                })
            }
        }
    }
    let data = args
        .get(params.len()..)
        .unwrap_or(&[])
        .iter()
        .map(|a| DataArg::parse(a))
        .collect::<Result<Vec<_>>>()?;

    // Path template: prefer the URI's path, fall back to `path`.
    let template = command
        .handler
        .uri
        .as_deref()
        .and_then(uri_path)
        .or(command.handler.path.as_deref())
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| CliError::NoHandlerUri(command.handler.name.clone()))?;
    let mut path = template.to_string();
    for (param, value) in params.iter().zip(values) {
        let encoded = percent_encode(value.as_bytes(), SEGMENT_SET).to_string();
        path = path.replace(&format!("{{{param}}}"), &encoded);
    }

    // Re-root the path on the profile's URL: the describe document names the
    // host the server saw, which need not be the one we reach it by.
    let base = Url::parse(&profile.url).map_err(|e| CliError::BadDescription {
        url: profile.url.clone(),
        reason: format!("the profile URL is invalid: {e}"),
    })?;
    let mut url = match path_after_api_root(&path) {
        Some(rest) => {
            let mut u = base.to_string();
            if !u.ends_with('/') {
                u.push('/');
            }
            u.push_str(rest);
            u
        }
        None => format!("{}{}", origin(&base), path),
    };

    let method = action.method.trim().to_ascii_uppercase();
    let mut query: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(op) = &action.op {
        query.push(("op".to_string(), op.clone().into_bytes()));
    }
    let form = if method == "GET" || method == "DELETE" {
        for d in data {
            let content = d.content()?;
            query.push((d.name().to_string(), content));
        }
        None
    } else {
        Some(
            data.into_iter()
                .map(DataArg::into_part)
                .collect::<Result<Vec<_>>>()?,
        )
    };
    if !query.is_empty() {
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k.as_bytes()), form_encode(v)))
            .collect();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&encoded.join("&"));
    }
    Ok(RequestPlan { method, url, form })
}

/// Plan the request for `handler`/`action` (command names or aliases) of `profile`.
pub fn plan_request(
    profile: &Profile,
    handler: &str,
    action: &str,
    args: &[String],
) -> Result<RequestPlan> {
    let description = parse_description(&profile.description, &profile.url)?;
    let cmds = commands(&description, profile.credentials.is_some());
    let command = find_command(&cmds, &profile.name, handler)?;
    let action = command.find_action(action)?;
    plan_for(profile, command, action, args)
}

/// Build the complete request (method, URL, body) for
/// `PROFILE HANDLER ACTION args...`, with a random multipart boundary.
pub fn build_request(
    profile: &Profile,
    handler: &str,
    action: &str,
    args: &[String],
) -> Result<PreparedRequest> {
    Ok(plan_request(profile, handler, action, args)?.prepare())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::Credentials;
    use serde_json::json;

    fn profile(creds: bool) -> Profile {
        Profile {
            name: "p".into(),
            url: "http://10.0.0.5:5240/MAAS/api/2.0/".into(),
            credentials: creds.then(|| Credentials {
                consumer_key: "ck".into(),
                token_key: "tk".into(),
                token_secret: "ts".into(),
            }),
            description: json!({
                "doc": "API", "hash": "h",
                "resources": [
                    {"name": "MachinesHandler", "anon": {"name": "AnonMachinesHandler",
                        "uri": "http://elsewhere/MAAS/api/2.0/machines/", "params": [], "actions": [
                        {"name": "is_registered", "method": "GET", "op": "is_registered", "restful": false, "doc": ""}]},
                     "auth": {"name": "MachinesHandler", "doc": "Machines.",
                        "uri": "http://elsewhere:80/MAAS/api/2.0/machines/",
                        "path": "/MAAS/api/2.0/machines/", "params": [], "actions": [
                        {"name": "read", "method": "GET", "op": null, "restful": true, "doc": "List."},
                        {"name": "create", "method": "POST", "op": null, "restful": true, "doc": "Create."},
                        {"name": "allocate", "method": "POST", "op": "allocate", "restful": false, "doc": "Alloc."}]}},
                    {"name": "MachineHandler", "anon": null, "auth": {"name": "MachineHandler",
                        "uri": "http://elsewhere/MAAS/api/2.0/machines/{system_id}/",
                        "path": "/MAAS/api/2.0/machines/{system_id}/", "params": ["system_id"], "actions": [
                        {"name": "read", "method": "GET", "op": null, "restful": true, "doc": "Read."},
                        {"name": "delete", "method": "DELETE", "op": null, "restful": true, "doc": "Delete."},
                        {"name": "update", "method": "PUT", "op": null, "restful": true, "doc": "Update."},
                        {"name": "deploy", "method": "POST", "op": "deploy", "restful": false, "doc": "Deploy."},
                        {"name": "query_power_state", "method": "GET", "op": "query_power_state", "restful": false, "doc": "Q."}]}},
                    {"name": "ResourcePoolsHandler", "anon": null, "auth": {"name": "ResourcePoolsHandler",
                        "path": "/MAAS/api/2.0/resourcepools/", "params": [], "actions": [
                        {"name": "read", "method": "GET", "op": null, "restful": true, "doc": ""}]}},
                    {"name": "OddHandler", "anon": null, "auth": {"name": "OddHandler",
                        "uri": "http://elsewhere/other/{x}/", "params": ["x"], "actions": [
                        {"name": "read", "method": "get", "op": null, "restful": true, "doc": ""}]}}
                ]
            }),
            cacerts: None,
            insecure: false,
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn plan(handler: &str, action: &str, a: &[&str]) -> Result<RequestPlan> {
        plan_request(&profile(true), handler, action, &args(a))
    }

    #[test]
    fn get_collection_with_query() {
        let p = plan(
            "machines",
            "read",
            &["hostname=a", "hostname=b c", "zone=z&x"],
        )
        .expect("plan");
        assert_eq!(p.method, "GET");
        assert_eq!(
            p.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/?hostname=a&hostname=b+c&zone=z%26x"
        );
        assert_eq!(p.form, None);
        let r = p.prepare();
        assert_eq!(r.body, None);
        assert_eq!(r.content_type, None);
    }

    #[test]
    fn get_without_args_has_no_query() {
        let p = plan("machines", "read", &[]).expect("plan");
        assert_eq!(p.url, "http://10.0.0.5:5240/MAAS/api/2.0/machines/");
    }

    #[test]
    fn post_with_op_and_uri_param() {
        let p = plan("machine", "deploy", &["abc123", "distro_series=jammy"]).expect("plan");
        assert_eq!(p.method, "POST");
        assert_eq!(
            p.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/abc123/?op=deploy"
        );
        assert_eq!(p.form, Some(vec![Part::text("distro_series", "jammy")]));
        let r = p.prepare_with_boundary("BB");
        assert_eq!(
            r.content_type.as_deref(),
            Some("multipart/form-data; boundary=BB")
        );
        assert_eq!(
            r.body.map(|b| String::from_utf8_lossy(&b).into_owned()).as_deref(),
            Some("--BB\r\nContent-Disposition: form-data; name=\"distro_series\"\r\n\r\njammy\r\n--BB--\r\n")
        );
    }

    #[test]
    fn post_create_repeats_keys_and_sends_empty_form() {
        let p = plan(
            "machines",
            "create",
            &[
                "hostname=h",
                "mac_addresses=52:54:00:00:00:01",
                "mac_addresses=52:54:00:00:00:02",
                "power_type=manual",
            ],
        )
        .expect("plan");
        assert_eq!(p.url, "http://10.0.0.5:5240/MAAS/api/2.0/machines/");
        let names: Vec<&str> = p.form.iter().flatten().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["hostname", "mac_addresses", "mac_addresses", "power_type"]
        );

        let p = plan("machines", "allocate", &[]).expect("plan");
        assert_eq!(
            p.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/?op=allocate"
        );
        let r = p.prepare_with_boundary("Z");
        assert_eq!(
            r.body,
            Some(b"--Z--\r\n".to_vec()),
            "empty multipart body like maas"
        );
    }

    #[test]
    fn put_and_delete() {
        let p = plan("machine", "update", &["abc", "hostname=new"]).expect("plan");
        assert_eq!(p.method, "PUT");
        assert_eq!(p.url, "http://10.0.0.5:5240/MAAS/api/2.0/machines/abc/");
        assert!(p.form.is_some());
        let p = plan("machine", "delete", &["abc", "force=true"]).expect("plan");
        assert_eq!(p.method, "DELETE");
        assert_eq!(
            p.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/abc/?force=true"
        );
        assert_eq!(p.form, None);
    }

    #[test]
    fn op_comes_first_in_query() {
        let p = plan("machine", "query-power-state", &["x1", "a=1"]).expect("plan");
        assert_eq!(
            p.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/x1/?op=query_power_state&a=1"
        );
        let p = plan("machine", "query_power_state", &["x1"]).expect("plan");
        assert_eq!(
            p.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/x1/?op=query_power_state"
        );
    }

    #[test]
    fn uri_params_are_encoded_and_path_fallbacks_work() {
        let p = plan("machine", "read", &["a/b c"]).expect("plan");
        assert_eq!(
            p.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/a%2Fb%20c/"
        );
        // Only `path` given.
        let p = plan("resource_pools", "read", &[]).expect("plan");
        assert_eq!(p.url, "http://10.0.0.5:5240/MAAS/api/2.0/resourcepools/");
        // A path outside the API root keeps its path on the profile's host; method normalised.
        let p = plan("odd", "read", &["52:54:00:aa:bb:cc"]).expect("plan");
        assert_eq!(p.method, "GET");
        assert_eq!(p.url, "http://10.0.0.5:5240/other/52:54:00:aa:bb:cc/");
    }

    #[test]
    fn missing_uri_param_is_named() {
        let e = plan("machine", "deploy", &[]).expect_err("missing");
        assert!(e.to_string().contains("'system_id'"), "{e}");
        let e = plan("machine", "deploy", &["distro_series=jammy"]).expect_err("missing");
        assert!(
            matches!(&e, CliError::MissingParam { param, .. } if param == "system_id"),
            "{e}"
        );
        assert!(
            e.to_string().contains("ingot p machine deploy system_id"),
            "{e}"
        );
    }

    #[test]
    fn bad_data_args() {
        assert!(matches!(
            plan("machines", "read", &["oops"]),
            Err(CliError::NotKeyValue(_))
        ));
        assert!(matches!(
            plan("machines", "read", &["=x"]),
            Err(CliError::NotKeyValue(_))
        ));
        assert!(matches!(
            plan("machines", "create", &["@=x"]),
            Err(CliError::NotKeyValue(_))
        ));
        // A value may contain '='.
        let p = plan("machines", "read", &["a=b=c"]).expect("plan");
        assert!(p.url.ends_with("?a=b%3Dc"), "{}", p.url);
    }

    #[test]
    fn file_parameters() {
        let dir = crate::profile::tests::TempDir::new("files");
        std::fs::create_dir_all(&dir.0).expect("mkdir");
        let file = dir.0.join("user-data.yaml");
        std::fs::write(&file, b"#cloud-config\x00\xff").expect("write");
        let arg = format!("user_data@={}", file.display());
        let p = plan("machine", "deploy", &["abc", &arg]).expect("plan");
        assert_eq!(
            p.form,
            Some(vec![Part::file(
                "user_data",
                "user-data.yaml",
                b"#cloud-config\x00\xff".to_vec()
            )])
        );
        let p = plan("machines", "read", &[&format!("q@={}", file.display())]).expect("plan");
        assert!(p.url.ends_with("?q=%23cloud-config%00%FF"), "{}", p.url);
        let e = plan(
            "machine",
            "deploy",
            &["abc", "user_data@=/nonexistent/ingot/x"],
        )
        .expect_err("no file");
        assert!(matches!(e, CliError::ParamFile { .. }), "{e}");
    }

    #[test]
    fn unknown_handler_and_action() {
        assert!(matches!(
            plan("nodes", "read", &[]),
            Err(CliError::UnknownHandler { .. })
        ));
        assert!(matches!(
            plan("machines", "explode", &[]),
            Err(CliError::UnknownAction { .. })
        ));
    }

    #[test]
    fn anonymous_profile_uses_anon_handlers() {
        let p = profile(false);
        assert!(matches!(
            plan_request(&p, "machines", "read", &[]),
            Err(CliError::UnknownHandler { .. })
        ));
        let r = build_request(
            &p,
            "anon-machines",
            "is-registered",
            &args(&["mac_address=52:54:00:00:00:01"]),
        )
        .expect("build");
        assert_eq!(
            r.url,
            "http://10.0.0.5:5240/MAAS/api/2.0/machines/?op=is_registered&mac_address=52%3A54%3A00%3A00%3A00%3A01"
        );
    }

    #[test]
    fn build_request_uses_random_boundary() {
        let r = build_request(&profile(true), "machine", "deploy", &args(&["abc", "x=1"]))
            .expect("build");
        let ct = r.content_type.unwrap_or_default();
        let boundary = ct
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap_or_default();
        assert!(!boundary.is_empty());
        let body = String::from_utf8(r.body.unwrap_or_default()).unwrap_or_default();
        assert!(body.starts_with(&format!("--{boundary}\r\n")));
        assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    }
}
