//! The region's side: its certificate chain and private key (PEM files) as a rustls server
//! configuration.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

use crate::{read, read_certs, Fingerprint, TlsError};

/// What `ingot serve --tls-cert CERT --tls-key KEY` serves with.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    /// The fingerprint of the certificate (the chain's first): what `--pin-sha256` takes.
    pub fingerprint: Fingerprint,
}

impl ServerTls {
    /// `cert`: the certificate, then any intermediates; `key`: its private key (PKCS#8, PKCS#1
    /// or SEC1). Refused when the key is not the certificate's.
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        let chain = read_certs(cert)?;
        let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| TlsError::Pem {
            path: key.to_path_buf(),
            what: format!("no private key in it: {e}"),
        })?;
        let fingerprint = Fingerprint::of(&chain[0]);
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError::Pem {
            path: key.to_path_buf(),
            what: format!("not the key of {}: {e}", cert.display()),
        })?;
        // The server speaks HTTP/1.1 only (axum's http1 feature).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
            fingerprint,
        })
    }
}
