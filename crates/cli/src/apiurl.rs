//! Server URL handling.

use reqwest::Url;

use crate::error::{CliError, Result};

/// Normalise a server URL to the API base, as maas's `api_url` does:
/// `http://h:5240/MAAS`, `http://h:5240/MAAS/` and `http://h:5240/MAAS/api/2.0`
/// all become `http://h:5240/MAAS/api/2.0/`. Query and fragment are dropped.
pub fn normalise_api_url(input: &str) -> Result<Url> {
    let trimmed = input.trim();
    let invalid = |reason: &str| CliError::InvalidUrl {
        url: trimmed.to_string(),
        reason: reason.to_string(),
    };
    if !trimmed.contains("://") {
        return Err(invalid(
            "expected an http:// or https:// URL such as http://HOST:5240/MAAS/",
        ));
    }
    let mut url = Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("only http:// and https:// URLs are supported"));
    }
    if url.host_str().unwrap_or("").is_empty() {
        return Err(invalid("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not supported"));
    }
    url.set_query(None);
    url.set_fragment(None);
    let mut path = url.path().to_string();
    if !path.ends_with('/') {
        path.push('/');
    }
    if !ends_with_api_version(&path) {
        path.push_str("api/2.0/");
    }
    url.set_path(&path);
    Ok(url)
}

/// Whether `path` (ending in `/`) ends with `/api/VERSION/`.
fn ends_with_api_version(path: &str) -> bool {
    let Some(stripped) = path.strip_suffix('/') else {
        return false;
    };
    match stripped.rsplit_once('/') {
        Some((rest, version)) => is_version(version) && rest.ends_with("/api"),
        None => false,
    }
}

fn is_version(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The part of a handler path after its `/api/VERSION/` prefix:
/// `/MAAS/api/2.0/machines/{system_id}/` → `machines/{system_id}/`.
pub fn path_after_api_root(path: &str) -> Option<&str> {
    let mut search_from = 0;
    while let Some(found) = path[search_from..].find("/api/") {
        let start = search_from + found + "/api/".len();
        let rest = &path[start..];
        if let Some((version, after)) = rest.split_once('/') {
            if is_version(version) {
                return Some(after);
            }
        }
        search_from = start - 1;
    }
    None
}

/// The path (and any query) of an absolute or relative URI string, without
/// parsing it (handler URIs contain `{param}` templates).
pub fn uri_path(uri: &str) -> Option<&str> {
    if let Some((_, after_scheme)) = uri.split_once("://") {
        after_scheme.find('/').map(|i| &after_scheme[i..])
    } else if uri.starts_with('/') {
        Some(uri)
    } else {
        None
    }
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        match normalise_api_url(s) {
            Ok(u) => u.to_string(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn normalises_like_maas() {
        let want = "http://127.0.0.1:5240/MAAS/api/2.0/";
        assert_eq!(norm("http://127.0.0.1:5240/MAAS"), want);
        assert_eq!(norm("http://127.0.0.1:5240/MAAS/"), want);
        assert_eq!(norm("http://127.0.0.1:5240/MAAS/api/2.0"), want);
        assert_eq!(norm("http://127.0.0.1:5240/MAAS/api/2.0/"), want);
        assert_eq!(norm("  http://127.0.0.1:5240/MAAS/?x=1#f "), want);
        assert_eq!(
            norm("https://maas.example/"),
            "https://maas.example/api/2.0/"
        );
        assert_eq!(
            norm("https://maas.example"),
            "https://maas.example/api/2.0/"
        );
        assert_eq!(
            norm("http://[::1]:5240/MAAS/api/1.0/"),
            "http://[::1]:5240/MAAS/api/1.0/"
        );
        assert_eq!(
            norm("http://h/MAAS/apix/2.0/"),
            "http://h/MAAS/apix/2.0/api/2.0/"
        );
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(norm("127.0.0.1:5240/MAAS").starts_with("ERR"));
        assert!(norm("ftp://h/MAAS").starts_with("ERR"));
        assert!(norm("http://").starts_with("ERR"));
        assert!(norm("http://u:p@h/MAAS").starts_with("ERR"));
    }

    #[test]
    fn api_root_suffix() {
        assert_eq!(
            path_after_api_root("/MAAS/api/2.0/machines/{system_id}/"),
            Some("machines/{system_id}/")
        );
        assert_eq!(path_after_api_root("/api/2.0/"), Some(""));
        assert_eq!(
            path_after_api_root("/x/api/v/api/2.0/users/"),
            Some("users/")
        );
        assert_eq!(path_after_api_root("/MAAS/machines/"), None);
    }

    #[test]
    fn uri_paths() {
        assert_eq!(
            uri_path("http://other:80/MAAS/api/2.0/machines/{system_id}/"),
            Some("/MAAS/api/2.0/machines/{system_id}/")
        );
        assert_eq!(uri_path("/MAAS/api/2.0/"), Some("/MAAS/api/2.0/"));
        assert_eq!(uri_path("http://host"), None);
        assert_eq!(uri_path("machines/"), None);
    }
}
