//! How a rack or `maas-run-scripts` trusts the region's certificate, and the error it gives
//! when the certificate is not the one it trusts.
//!
//! - [`Trust::WebRoots`]: reqwest's built-in web roots, as without this crate.
//! - [`Trust::Ca`]: the certificates of a PEM file are the only roots; the region's certificate
//!   must chain to one of them and name the host of the URL (rustls/webpki's checks).
//! - [`Trust::Pin`]: the region's end-entity certificate must be exactly this one (the SHA-256
//!   of its DER encoding); no chain, name or validity period is checked — the pin says which
//!   certificate, as for a self-signed one — but the handshake's signature still has to be
//!   made with its key.
//! - [`Trust::Any`]: any certificate (the CLI's `-k`/`--insecure`, as `maas login -k`): the
//!   connection is encrypted but the server is not authenticated.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};

use crate::{read_certs, Fingerprint, TlsError};

/// The command-line options of every client of the region (`ingot rack`, `maas-run-scripts`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// PEM file of the CA(s) the region's certificate must be signed by (and name the URL's
    /// host), instead of the built-in web roots. A self-signed certificate: --pin-sha256.
    #[arg(
        long,
        env = "INGOT_CA_FILE",
        conflicts_with = "pin_sha256",
        global = true
    )]
    pub ca_file: Option<PathBuf>,
    /// The SHA-256 fingerprint of the region's certificate (64 hex digits, colons allowed, as
    /// `openssl x509 -noout -fingerprint -sha256` prints it and `ingot serve` logs it): only
    /// that certificate is accepted.
    #[arg(long, env = "INGOT_PIN_SHA256", global = true)]
    pub pin_sha256: Option<String>,
}

impl TrustArgs {
    pub fn trust(&self) -> Result<Trust, TlsError> {
        match (&self.ca_file, &self.pin_sha256) {
            (Some(_), Some(_)) => Err(TlsError::Both),
            (Some(f), None) => Trust::ca_file(f),
            (None, Some(p)) => Ok(Trust::Pin(Fingerprint::parse(p)?)),
            (None, None) => Ok(Trust::WebRoots),
        }
    }
}

/// What a client of the region trusts.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    #[default]
    WebRoots,
    Ca {
        /// Where they came from, named in refusals.
        file: PathBuf,
        certs: Vec<CertificateDer<'static>>,
    },
    Pin(Fingerprint),
    /// No check of the certificate at all (only the handshake's own consistency).
    Any,
}

impl Trust {
    /// The certificates of a PEM file as the only roots.
    pub fn ca_file(path: &Path) -> Result<Trust, TlsError> {
        Ok(Trust::Ca {
            file: path.to_path_buf(),
            certs: read_certs(path)?,
        })
    }

    /// A reqwest client builder that trusts this (add timeouts and build).
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = match self {
            Trust::WebRoots => return Ok(reqwest::Client::builder()),
            Trust::Ca { file, certs } => Check::ca(file, certs, &provider)?,
            Trust::Pin(pin) => Check::Pin(*pin),
            Trust::Any => Check::Any,
        };
        let verifier = Arc::new(RegionVerifier {
            check,
            provider: provider.clone(),
        });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(reqwest::Client::builder().use_preconfigured_tls(config))
    }
}

/// Why the region's certificate was refused: what was trusted and what was presented.
#[derive(Clone)]
pub struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

// rustls shows `CertificateError::Other` with Debug: the message itself, not a struct.
impl std::fmt::Debug for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Refused {}

fn refuse(message: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Refused(
        message,
    )))))
}

/// How the region's certificate is checked: it is the pinned one, or it verifies (webpki)
/// against the CA file's certificates only; a refusal restated as what was trusted and what
/// was presented. The handshake's signature is checked the same way for both.
#[derive(Debug)]
enum Check {
    Any,
    Pin(Fingerprint),
    Ca {
        inner: Arc<WebPkiServerVerifier>,
        file: PathBuf,
        cas: Vec<Fingerprint>,
    },
}

impl Check {
    fn ca(
        file: &Path,
        certs: &[CertificateDer<'static>],
        provider: &Arc<CryptoProvider>,
    ) -> Result<Check, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots.add(c.clone()).map_err(|e| TlsError::Pem {
                path: file.to_path_buf(),
                what: format!("not a usable CA certificate: {e}"),
            })?;
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsError::Client(e.to_string()))?;
        Ok(Check::Ca {
            inner,
            file: file.to_path_buf(),
            cas: certs.iter().map(|c| Fingerprint::of(c)).collect(),
        })
    }
}

#[derive(Debug)]
struct RegionVerifier {
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RegionVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of(end_entity);
        match &self.check {
            Check::Any => Ok(ServerCertVerified::assertion()),
            Check::Pin(pin) if seen == *pin => Ok(ServerCertVerified::assertion()),
            Check::Pin(pin) => Err(refuse(format!(
                "the region's certificate has SHA-256 fingerprint {seen}, not the pinned {pin}"
            ))),
            Check::Ca { inner, file, cas } => inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| {
                    let why = match &e {
                        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                            "it is not signed by a CA of that file".to_string()
                        }
                        rustls::Error::InvalidCertificate(c) => reason(c),
                        other => other.to_string(),
                    };
                    let cas: Vec<String> = cas.iter().map(ToString::to_string).collect();
                    refuse(format!(
                        "the region's certificate (SHA-256 {seen}) does not verify against the CA file {} (SHA-256 {}): {why}",
                        file.display(),
                        cas.join(", ")
                    ))
                }),
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls error somewhere in `e`'s chain. TLS errors travel inside `std::io::Error`s
/// (reqwest's connector wraps tokio-rustls's in another), whose `source()` skips the error they
/// wrap, so each one is opened too.
fn rustls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        let mut inner = e;
        loop {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
            match inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        next = e.source();
    }
    None
}

/// Why a server's certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// By a CA file or a pin: what was trusted and what was seen, in words.
    Trusted(String),
    /// By the built-in web roots: webpki's reason, in words.
    WebRoots(String),
}

/// Why the server's certificate was refused, when that is what `e` (a reqwest error, or
/// anything holding one) is. `None` for every other error.
pub fn refusal(e: &(dyn StdError + 'static)) -> Option<Refusal> {
    let rustls::Error::InvalidCertificate(c) = rustls_error(e)? else {
        return None;
    };
    if let CertificateError::Other(OtherError(inner)) = c {
        if let Some(r) = inner.downcast_ref::<Refused>() {
            return Some(Refusal::Trusted(r.to_string()));
        }
    }
    Some(Refusal::WebRoots(reason(c)))
}

/// [`refusal`] in words for a rack or `maas-run-scripts`, whose options are `--ca-file` and
/// `--pin-sha256`.
pub fn certificate_refusal(e: &(dyn StdError + 'static)) -> Option<String> {
    Some(match refusal(e)? {
        Refusal::Trusted(why) => why,
        Refusal::WebRoots(why) => format!(
            "the region's certificate is refused ({why}): give the CA that signed it (--ca-file) or its fingerprint (--pin-sha256)"
        ),
    })
}

/// webpki's refusal in words (its own are Debug names, some wrapped in `Other`).
fn reason(c: &CertificateError) -> String {
    match c {
        CertificateError::UnknownIssuer => "not signed by a trusted CA".into(),
        CertificateError::Other(OtherError(inner)) => match inner.to_string().as_str() {
            "CaUsedAsEndEntity" => "it is a CA certificate, as self-signed ones often are".into(),
            other => other.into(),
        },
        other => other.to_string(),
    }
}

/// `e` and its causes on one line, a certificate refusal said plainly: reqwest's own message
/// ("error sending request for url (…)") names neither.
pub fn describe(e: &(dyn StdError + 'static)) -> String {
    if let Some(why) = certificate_refusal(e) {
        return format!("{e}: {why}");
    }
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}
