//! TLS for Ingot's HTTP, on rustls (ring provider, as reqwest's `rustls-tls` uses it):
//!
//! - [`server`]: the certificate and key `ingot serve --tls-cert/--tls-key` serves the API,
//!   the web UI and the metadata API with;
//! - [`client`]: how a rack (`ingot rack`) and `maas-run-scripts` trust the region — the
//!   built-in web roots (default), a CA file (`--ca-file`), or the region's certificate itself,
//!   pinned by the SHA-256 fingerprint of its DER encoding (`--pin-sha256`) — and the clear
//!   error they give when the region's certificate is not the one they trust.
//!
//! Files are read here, once for every binary; nothing else of the machine is touched.

pub mod client;
pub mod server;

use std::path::{Path, PathBuf};

pub use client::{certificate_refusal, describe, refusal, Refusal, Trust, TrustArgs};
pub use server::ServerTls;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sha2::Digest;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Pem { path: PathBuf, what: String },
    #[error(
        "'{0}' is not a SHA-256 fingerprint: 64 hex digits, colons allowed (`openssl x509 -noout -fingerprint -sha256 -in CERT`)"
    )]
    BadPin(String),
    #[error("give a CA file or a pinned fingerprint, not both")]
    Both,
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Client(String),
}

/// The SHA-256 of a certificate's DER encoding: what `--pin-sha256` names and `ingot serve`
/// logs, written as `openssl x509 -fingerprint -sha256` prints it (`AB:CD:…`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(sha2::Sha256::digest(der).into())
    }

    /// 64 hex digits, upper or lower case, with or without colons between the bytes (a
    /// `sha256 Fingerprint=` prefix, as openssl prints it, is allowed).
    pub fn parse(text: &str) -> Result<Fingerprint, TlsError> {
        let bad = || TlsError::BadPin(text.to_string());
        let t = text.trim();
        let t = t.rsplit_once('=').map_or(t, |(_, v)| v);
        let digits: Vec<u8> = t.bytes().filter(|b| *b != b':').collect();
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| bad())?;
            out[i] = u8::from_str_radix(s, 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(out))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate of a PEM file, in order; an error when there is none.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |what: String| TlsError::Pem {
        path: path.to_path_buf(),
        what,
    };
    let certs = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(pem("no PEM certificate in it".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_as_openssl_prints_them_and_in_plain_hex() {
        let f = Fingerprint::of(b"certificate");
        let shown = f.to_string();
        assert_eq!(shown.len(), 32 * 3 - 1);
        assert_eq!(Fingerprint::parse(&shown).unwrap(), f);
        assert_eq!(
            Fingerprint::parse(&shown.replace(':', "").to_lowercase()).unwrap(),
            f
        );
        assert_eq!(
            Fingerprint::parse(&format!("sha256 Fingerprint={shown}\n")).unwrap(),
            f
        );
        for bad in ["", "AB", &shown[3..], &shown.replace('A', "G"), "é"] {
            assert!(
                matches!(Fingerprint::parse(bad), Err(TlsError::BadPin(_))),
                "{bad:?}"
            );
        }
    }
}
