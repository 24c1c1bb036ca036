//! ingot-cli: the client side of the `ingot` command, in the style of the `maas` CLI.
//!
//! ```text
//! ingot login PROFILE URL [APIKEY]
//! ingot logout PROFILE
//! ingot list
//! ingot refresh
//! ingot PROFILE HANDLER ACTION [uri params] [key=value | key@=path ...]
//! ```
//!
//! Profiles are stored in `CONFIG_DIR/profiles.json` (see [`profile`]).

pub mod apiurl;
pub mod client;
pub mod describe;
pub mod error;
pub mod help;
pub mod multipart;
pub mod naming;
pub mod oauth;
pub mod profile;
pub mod request;
pub mod upload;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use reqwest::Url;

pub use apiurl::normalise_api_url;
pub use error::CliError;
pub use naming::handler_command_name;
pub use oauth::{oauth_header, Credentials};
pub use profile::{Profile, ProfileStore};
pub use request::{build_request, plan_request, PreparedRequest, RequestPlan};

use client::{Client, Response};
use describe::{commands, find_command, parse_description, Description};
use error::Result;
use naming::did_you_mean;

/// The largest request body an Ingot region reads whole (`api::MAX_BODY`).
const BODY_LIMIT: usize = 64 << 20;

/// Words that are commands, not profile names.
const RESERVED: &[&str] = &["login", "logout", "list", "refresh", "help"];

fn is_help(arg: &str) -> bool {
    arg == "-h" || arg == "--help"
}

/// Run a client command. `args` are the command-line words after the program
/// name, e.g. `["login", "admin", "http://127.0.0.1:5240/MAAS/", "ck:tk:ts"]`,
/// `["admin", "machines", "read"]`, `["admin", "machine", "deploy", "abc123",
/// "distro_series=jammy"]`, `["admin", "--help"]`.
///
/// Writes the response body (pretty JSON when JSON) to `out`, errors and help
/// to `err`; returns the process exit code (0 success, 2 error).
pub async fn run(
    args: &[String],
    config_dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let code = match dispatch(args, config_dir, out, err).await {
        Ok(code) => code,
        Err(e) => {
            report(&e, err);
            2
        }
    };
    let _ = out.flush();
    let _ = err.flush();
    code
}

/// Default config dir: `$INGOT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/ingot`,
/// else `~/.config/ingot`.
pub fn default_config_dir() -> PathBuf {
    config_dir_from(
        std::env::var_os("INGOT_CONFIG_DIR"),
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")),
    )
}

fn config_dir_from(
    ingot: Option<OsString>,
    xdg: Option<OsString>,
    home: Option<OsString>,
) -> PathBuf {
    if let Some(dir) = ingot.filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // The XDG spec says relative values are to be ignored.
    if let Some(xdg) = xdg.filter(|x| !x.is_empty() && Path::new(x).is_absolute()) {
        return PathBuf::from(xdg).join("ingot");
    }
    match home.filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".config").join("ingot"),
        None => PathBuf::from(".config").join("ingot"),
    }
}

/// Write an error the way `run` reports it.
fn report(e: &CliError, err: &mut dyn Write) {
    match e {
        CliError::Http {
            status,
            reason,
            body,
        } => {
            let status_line = format!("HTTP {status} {reason}");
            let _ = writeln!(err, "{}", status_line.trim_end());
            if !body.is_empty() {
                let _ = writeln!(err);
                let _ = err.write_all(body);
                if !body.ends_with(b"\n") {
                    let _ = writeln!(err);
                }
            }
        }
        other => {
            let _ = writeln!(err, "Error: {other}");
        }
    }
}

async fn dispatch(
    args: &[String],
    config_dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32> {
    let Some(first) = args.first() else {
        let store = ProfileStore::load(config_dir)?;
        err.write_all(help::top_usage(&store.names()).as_bytes())?;
        return Ok(2);
    };
    let rest = &args[1..];
    match first.as_str() {
        "-h" | "--help" | "help" => {
            let names = ProfileStore::load(config_dir)
                .map(|s| s.names())
                .unwrap_or_default();
            err.write_all(help::top_usage(&names).as_bytes())?;
            Ok(0)
        }
        "login" => login(rest, config_dir, out, err).await,
        "logout" => logout(rest, config_dir, err),
        "list" => list(rest, config_dir, out, err),
        "refresh" => refresh(rest, config_dir, err).await,
        other if other.starts_with('-') => Err(CliError::Usage(format!(
            "unknown option '{other}' (try 'ingot --help')"
        ))),
        _ => profile_command(args, config_dir, out, err).await,
    }
}

/// Reject options we do not know, and give help when asked.
fn check_options(args: &[String], usage: fn() -> String, err: &mut dyn Write) -> Result<bool> {
    if args.iter().any(|a| is_help(a)) {
        err.write_all(usage().as_bytes())?;
        return Ok(true);
    }
    if let Some(opt) = args.iter().find(|a| a.starts_with("--")) {
        return Err(CliError::Usage(format!(
            "unknown option '{opt}'\n{}",
            usage()
        )));
    }
    Ok(false)
}

fn validate_profile_name(name: &str) -> Result<()> {
    let reason = if name.trim().is_empty() {
        Some("it is empty")
    } else if name.starts_with('-') {
        Some("it must not start with '-'")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it must not contain spaces or control characters")
    } else if RESERVED.contains(&name) {
        Some("it is the name of a command")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(CliError::InvalidProfileName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

async fn read_api_key(err: &mut dyn Write) -> Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        write!(err, "API key (leave empty for anonymous access): ")?;
        err.flush()?;
    }
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| CliError::Stdin(e.to_string()))?
    .map_err(|e| CliError::Stdin(e.to_string()))?;
    Ok(line)
}

/// Fetch and check `{api}describe/`.
async fn fetch_description(client: &Client, api: &Url) -> Result<serde_json::Value> {
    let url = join(api, "describe/")?;
    let response = client.get(&url, None).await?;
    if !response.is_success() {
        return Err(unexpected(&url, &response));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&response.body).map_err(|e| CliError::BadDescription {
            url: url.to_string(),
            reason: format!("not JSON ({e}); is this an Ingot or MAAS server?"),
        })?;
    parse_description(&value, url.as_str())?;
    Ok(value)
}

fn join(api: &Url, rel: &str) -> Result<Url> {
    api.join(rel).map_err(|e| CliError::InvalidUrl {
        url: api.to_string(),
        reason: e.to_string(),
    })
}

fn unexpected(url: &Url, response: &Response) -> CliError {
    let snippet = response.snippet(500);
    CliError::Unexpected {
        url: url.to_string(),
        status: response.status,
        reason: response.reason.clone(),
        body: if snippet.is_empty() {
            String::new()
        } else {
            format!("\n\n{snippet}")
        },
    }
}

async fn login(
    args: &[String],
    config_dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32> {
    let (opts, args) = LoginOptions::parse(args)?;
    if check_options(&args, help::login_usage, err)? {
        return Ok(0);
    }
    let (name, url, key) = match args.as_slice() {
        [name, url] => (name, url, None),
        [name, url, key] => (name, url, Some(key)),
        _ => {
            return Err(CliError::Usage(format!(
                "login takes PROFILE URL [APIKEY]\n{}",
                help::login_usage()
            )))
        }
    };
    validate_profile_name(name)?;
    let api = normalise_api_url(url)?;
    let key = match key {
        Some(k) if k != "-" => k.clone(),
        _ => read_api_key(err).await?,
    };
    let credentials = Credentials::parse(&key)?;

    let (trust, cacerts) = match &opts.cacerts {
        Some(file) => {
            let pem = std::fs::read(file)
                .map_err(|e| CliError::CaCerts(format!("cannot read {}: {e}", file.display())))?;
            let trust =
                ingot_tls::Trust::ca_file(file).map_err(|e| CliError::CaCerts(e.to_string()))?;
            (trust, Some(pem))
        }
        None if opts.insecure => (ingot_tls::Trust::Any, None),
        None => (ingot_tls::Trust::WebRoots, None),
    };
    let client = Client::for_server(&api, &trust)?;
    let description = fetch_description(&client, &api).await?;
    if let Some(creds) = &credentials {
        let whoami = join(&api, "users/?op=whoami")?;
        let response = client.get(&whoami, Some(creds)).await?;
        match response.status {
            401 | 403 => {
                return Err(CliError::ApiKeyRejected {
                    url: api.to_string(),
                })
            }
            s if (200..300).contains(&s) => {}
            _ => return Err(unexpected(&whoami, &response)),
        }
    }

    let mut store = ProfileStore::load(config_dir)?;
    let cacerts = match cacerts {
        Some(pem) => Some(store.save_cacerts(name, &pem)?),
        None => None,
    };
    if let Some(old) = store.get(name).and_then(|p| p.cacerts.clone()) {
        if cacerts.as_ref() != Some(&old) {
            let _ = std::fs::remove_file(old);
        }
    }
    store.insert(Profile {
        name: name.clone(),
        url: api.to_string(),
        credentials,
        description,
        cacerts,
        insecure: opts.insecure,
    });
    store.save()?;
    writeln!(
        out,
        "\nYou are now logged in to the Ingot server at {api} with the profile name '{name}'.\n\n\
         For help with the available commands, try:\n\n  ingot {name} --help\n"
    )?;
    Ok(0)
}

/// `login`'s options, as the `maas` CLI's: `--cacerts FILE` (the CA file the server's
/// certificate must chain to; a copy is kept with the profile) and `-k`/`--insecure` (no check
/// of the server's certificate).
#[derive(Debug, Default, PartialEq)]
struct LoginOptions {
    cacerts: Option<PathBuf>,
    insecure: bool,
}

impl LoginOptions {
    /// The options, and the other words in their order.
    fn parse(args: &[String]) -> Result<(LoginOptions, Vec<String>)> {
        let mut opts = LoginOptions::default();
        let mut rest = Vec::new();
        let mut words = args.iter();
        while let Some(word) = words.next() {
            match word.as_str() {
                "-k" | "--insecure" => opts.insecure = true,
                "--cacerts" => {
                    let file = words.next().ok_or_else(|| {
                        CliError::Usage(format!("--cacerts needs a FILE\n{}", help::login_usage()))
                    })?;
                    opts.cacerts = Some(PathBuf::from(file));
                }
                w if w.starts_with("--cacerts=") => {
                    opts.cacerts = Some(PathBuf::from(&w["--cacerts=".len()..]));
                }
                _ => rest.push(word.clone()),
            }
        }
        if opts.insecure && opts.cacerts.is_some() {
            return Err(CliError::Usage(
                "give --cacerts FILE or -k/--insecure, not both".into(),
            ));
        }
        Ok((opts, rest))
    }
}

fn unknown_profile(store: &ProfileStore, name: &str) -> CliError {
    let names = store.names();
    let hint = if names.is_empty() {
        " No profiles are logged in; use 'ingot login PROFILE URL [APIKEY]'.".to_string()
    } else {
        let close = did_you_mean(&names, name);
        if close.is_empty() {
            format!(" Known profiles: {}.", names.join(", "))
        } else {
            close
        }
    };
    CliError::UnknownProfile {
        name: name.to_string(),
        hint,
    }
}

fn logout(args: &[String], config_dir: &Path, err: &mut dyn Write) -> Result<i32> {
    if check_options(args, help::logout_usage, err)? {
        return Ok(0);
    }
    let [name] = args else {
        return Err(CliError::Usage(format!(
            "logout takes exactly one PROFILE\n{}",
            help::logout_usage()
        )));
    };
    let mut store = ProfileStore::load(config_dir)?;
    if store.remove(name).is_none() {
        return Err(unknown_profile(&store, name));
    }
    store.save()?;
    Ok(0)
}

fn list(
    args: &[String],
    config_dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32> {
    if check_options(args, help::list_usage, err)? {
        return Ok(0);
    }
    if !args.is_empty() {
        return Err(CliError::Usage(format!(
            "list takes no arguments\n{}",
            help::list_usage()
        )));
    }
    let store = ProfileStore::load(config_dir)?;
    for p in store.profiles() {
        writeln!(out, "{} {}", p.name, p.url)?;
    }
    Ok(0)
}

async fn refresh(args: &[String], config_dir: &Path, err: &mut dyn Write) -> Result<i32> {
    if check_options(args, help::refresh_usage, err)? {
        return Ok(0);
    }
    if !args.is_empty() {
        return Err(CliError::Usage(format!(
            "refresh takes no arguments\n{}",
            help::refresh_usage()
        )));
    }
    let mut store = ProfileStore::load(config_dir)?;
    let mut failures = 0;
    let mut refreshed = 0;
    for profile in store.profiles_mut() {
        let result = async {
            let api = normalise_api_url(&profile.url)?;
            let client = Client::for_server(&api, &profile.trust()?)?;
            fetch_description(&client, &api).await
        }
        .await;
        match result {
            Ok(description) => {
                profile.description = description;
                refreshed += 1;
            }
            Err(e) => {
                failures += 1;
                writeln!(
                    err,
                    "Error: could not refresh profile '{}': {e}",
                    profile.name
                )?;
            }
        }
    }
    if refreshed > 0 {
        store.save()?;
    }
    Ok(if failures > 0 { 2 } else { 0 })
}

async fn profile_command(
    args: &[String],
    config_dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32> {
    let Some((name, rest)) = args.split_first() else {
        return Err(CliError::Usage("missing profile".into()));
    };
    let store = ProfileStore::load(config_dir)?;
    let profile = store
        .get(name)
        .ok_or_else(|| unknown_profile(&store, name))?;
    let description: Description = parse_description(&profile.description, &profile.url)?;
    let cmds = commands(&description, profile.credentials.is_some());

    let Some((handler_word, rest)) = rest.split_first() else {
        err.write_all(help::profile_help(name, &profile.url, &description, &cmds).as_bytes())?;
        writeln!(err, "\nError: missing COMMAND")?;
        return Ok(2);
    };
    if is_help(handler_word) {
        err.write_all(help::profile_help(name, &profile.url, &description, &cmds).as_bytes())?;
        return Ok(0);
    }
    let command = find_command(&cmds, name, handler_word)?;

    let Some((action_word, rest)) = rest.split_first() else {
        err.write_all(help::handler_help(name, command).as_bytes())?;
        writeln!(err, "\nError: missing action")?;
        return Ok(2);
    };
    if is_help(action_word) {
        err.write_all(help::handler_help(name, command).as_bytes())?;
        return Ok(0);
    }
    let action = command.find_action(action_word)?;
    if rest.iter().any(|a| is_help(a)) {
        err.write_all(help::action_help(name, command, action).as_bytes())?;
        return Ok(0);
    }

    if let Some(content) = upload::chunked_content(command, action, rest) {
        let resource =
            upload::create_and_upload(profile, command, action, rest, content, out, err).await?;
        let pretty = serde_json::to_string_pretty(&resource).map_err(std::io::Error::other)?;
        writeln!(out, "{pretty}")?;
        return Ok(0);
    }
    let request = request::plan_for(profile, command, action, rest)?.prepare();
    let server = Url::parse(&profile.url).map_err(|e| CliError::InvalidUrl {
        url: profile.url.clone(),
        reason: e.to_string(),
    })?;
    let client = Client::for_server(&server, &profile.trust()?)?;
    let response = match client.send(&request, profile.credentials.as_ref()).await {
        // The server's answer is read when it comes while the body is still being sent; a
        // connection that broke anyway gets the likely reason.
        Err(CliError::Connection { url, message })
            if request.body.as_ref().is_some_and(|b| b.len() > BODY_LIMIT) =>
        {
            let mib = request.body.as_ref().map_or(0, Vec::len) >> 20;
            return Err(CliError::Connection {
                url,
                message: format!(
                    "{message} (while sending a {mib} MiB request: regions refuse bodies over {} MiB, except images uploaded with boot-resources create)",
                    BODY_LIMIT >> 20
                ),
            });
        }
        r => r?,
    };
    if !response.is_success() {
        return Err(CliError::Http {
            status: response.status,
            reason: response.reason,
            body: response.body,
        });
    }
    print_body(&response, out)?;
    Ok(0)
}

/// Print a successful response: pretty JSON for JSON, "Success." for an empty body.
fn print_body(response: &Response, out: &mut dyn Write) -> Result<()> {
    if response.status == 204 || response.body.is_empty() {
        writeln!(out, "Success.")?;
        return Ok(());
    }
    if response.is_json() {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&response.body) {
            let pretty = serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?;
            writeln!(out, "{pretty}")?;
            return Ok(());
        }
    }
    out.write_all(&response.body)?;
    if std::str::from_utf8(&response.body).is_ok() && !response.body.ends_with(b"\n") {
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn login_options() {
        let w = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (o, rest) = LoginOptions::parse(&w(&["p", "--cacerts", "ca.pem", "u", "k"])).unwrap();
        assert_eq!(o.cacerts, Some(PathBuf::from("ca.pem")));
        assert!(!o.insecure);
        assert_eq!(rest, w(&["p", "u", "k"]));
        let (o, rest) = LoginOptions::parse(&w(&["--cacerts=a b.pem", "p", "u", "-"])).unwrap();
        assert_eq!(o.cacerts, Some(PathBuf::from("a b.pem")));
        assert_eq!(rest, w(&["p", "u", "-"]));
        let (o, rest) = LoginOptions::parse(&w(&["-k", "p", "u"])).unwrap();
        assert!(o.insecure && o.cacerts.is_none());
        assert_eq!(rest, w(&["p", "u"]));
        assert!(LoginOptions::parse(&w(&["p", "u", "--cacerts"])).is_err());
        assert!(LoginOptions::parse(&w(&["--insecure", "--cacerts", "x", "p", "u"])).is_err());
        // Other options are left for the usage check.
        let (_, rest) = LoginOptions::parse(&w(&["--bogus", "p", "u"])).unwrap();
        assert_eq!(rest, w(&["--bogus", "p", "u"]));
    }

    #[test]
    fn config_dir_precedence() {
        assert_eq!(
            config_dir_from(os("/a"), os("/x"), os("/h")),
            PathBuf::from("/a")
        );
        assert_eq!(
            config_dir_from(os(""), os("/x"), os("/h")),
            PathBuf::from("/x/ingot")
        );
        assert_eq!(
            config_dir_from(None, os("rel"), os("/h")),
            PathBuf::from("/h/.config/ingot")
        );
        assert_eq!(
            config_dir_from(None, None, os("/h")),
            PathBuf::from("/h/.config/ingot")
        );
        assert_eq!(
            config_dir_from(None, None, None),
            PathBuf::from(".config/ingot")
        );
    }

    #[test]
    fn profile_names() {
        assert!(validate_profile_name("admin").is_ok());
        assert!(validate_profile_name("my-region.1").is_ok());
        for bad in ["", " ", "-x", "a b", "login", "list", "refresh", "logout"] {
            assert!(validate_profile_name(bad).is_err(), "{bad:?}");
        }
    }

    fn response(status: u16, ct: Option<&str>, body: &[u8]) -> Response {
        Response {
            status,
            reason: String::new(),
            content_type: ct.map(str::to_string),
            body: body.to_vec(),
        }
    }

    fn printed(r: &Response) -> String {
        let mut out = Vec::new();
        print_body(r, &mut out).expect("print");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn output_formats() {
        assert_eq!(
            printed(&response(
                200,
                Some("application/json"),
                br#"{"a":[1,{"b":null}]}"#
            )),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ]\n}\n"
        );
        assert_eq!(printed(&response(204, None, b"")), "Success.\n");
        assert_eq!(
            printed(&response(200, Some("application/json"), b"")),
            "Success.\n"
        );
        assert_eq!(
            printed(&response(200, Some("text/plain"), b"hello")),
            "hello\n"
        );
        assert_eq!(
            printed(&response(200, Some("application/json"), b"not json")),
            "not json\n"
        );
        let mut out = Vec::new();
        print_body(
            &response(200, Some("application/octet-stream"), &[0xff, 0]),
            &mut out,
        )
        .expect("print");
        assert_eq!(out, vec![0xff, 0]);
    }

    #[test]
    fn http_errors_are_reported_with_body() {
        let mut err = Vec::new();
        report(
            &CliError::Http {
                status: 404,
                reason: "Not Found".into(),
                body: b"No machine matches the given query.".to_vec(),
            },
            &mut err,
        );
        assert_eq!(
            String::from_utf8_lossy(&err),
            "HTTP 404 Not Found\n\nNo machine matches the given query.\n"
        );
    }
}
