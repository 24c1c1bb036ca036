//! BMC passwords and keys are stored encrypted at rest (XChaCha20-Poly1305). The key is 32
//! random bytes in a file: `<data-dir>/secret.key` (created 0600 on first start) or a file
//! given with `--secret-key-file`. Regions sharing one PostgreSQL database must share the key.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};
use std::path::Path;

const PREFIX: &str = "enc:v1:";

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret key file {0}: {1}")]
    Io(String, std::io::Error),
    #[error("secret key file {0} must hold exactly 32 bytes (found {1})")]
    BadKey(String, usize),
    #[error("a stored secret could not be decrypted: wrong key file?")]
    Decrypt,
}

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> SecretBox {
        SecretBox {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Read the key file, creating it (mode 0600) with a random key if `create` and it is missing.
    pub fn from_file(path: &Path, create: bool) -> Result<SecretBox, SecretError> {
        let name = path.display().to_string();
        if create && !path.exists() {
            let key: [u8; 32] = rand::random();
            write_private(path, &key).map_err(|e| SecretError::Io(name.clone(), e))?;
        }
        let bytes = std::fs::read(path).map_err(|e| SecretError::Io(name.clone(), e))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::BadKey(name, bytes.len()))?;
        Ok(SecretBox::from_key(&key))
    }

    pub fn seal(&self, plain: &str) -> String {
        use base64::Engine;
        let nonce: [u8; 24] = rand::random();
        // Encryption with a fresh nonce cannot fail for inputs of this size.
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut buf = nonce.to_vec();
        buf.extend(ct);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(buf)
        )
    }

    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        use base64::Engine;
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let buf = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SecretError::Decrypt)?;
        if buf.len() < 24 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ct) = buf.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Decrypt)
    }

    /// Encrypt the secret fields of `power_type` that are not encrypted yet.
    pub fn seal_params(&self, power_type: &str, params: &mut Map<String, Value>) {
        for f in ingot_power::schema::secret_fields(power_type) {
            if let Some(Value::String(v)) = params.get_mut(f) {
                if !v.is_empty() && !v.starts_with(PREFIX) {
                    *v = self.seal(v);
                }
            }
        }
    }

    /// The parameters with their secret fields decrypted.
    pub fn open_params(
        &self,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, SecretError> {
        let mut out = params.clone();
        for v in out.values_mut() {
            if let Value::String(s) = v {
                if s.starts_with(PREFIX) {
                    *s = self.open(s)?;
                }
            }
        }
        Ok(out)
    }
}

pub fn is_sealed(v: &str) -> bool {
    v.starts_with(PREFIX)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)?.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let b = SecretBox::from_key(&[7; 32]);
        let s = b.seal("hunter2");
        assert!(s.starts_with(PREFIX) && !s.contains("hunter2"));
        assert_eq!(b.open(&s).unwrap(), "hunter2");
        assert_ne!(b.seal("hunter2"), s, "fresh nonce each time");
        let other = SecretBox::from_key(&[8; 32]);
        assert!(other.open(&s).is_err());
        let mut t = s.clone();
        t.pop();
        t.push('A');
        assert!(b.open(&t).is_err() || b.open(&t).unwrap() != "hunter2");
        assert_eq!(b.open("plain").unwrap(), "plain");
    }

    #[test]
    fn params() {
        let b = SecretBox::from_key(&[1; 32]);
        let mut p: Map<String, Value> = serde_json::from_str(
            r#"{"power_address":"10.0.0.1","power_user":"admin","power_pass":"pw","k_g":""}"#,
        )
        .unwrap();
        b.seal_params("ipmi", &mut p);
        assert!(is_sealed(p["power_pass"].as_str().unwrap()));
        assert_eq!(p["power_user"], "admin");
        assert_eq!(p["k_g"], "");
        let again = p.clone();
        b.seal_params("ipmi", &mut p);
        assert_eq!(p, again, "sealing twice changes nothing");
        assert_eq!(b.open_params(&p).unwrap()["power_pass"], "pw");
    }

    #[test]
    fn key_file_created_private() {
        let d = std::env::temp_dir().join(format!("ingot-key-{}", rand::random::<u64>()));
        let b = SecretBox::from_file(&d, true).unwrap();
        let s = b.seal("x");
        let b2 = SecretBox::from_file(&d, false).unwrap();
        assert_eq!(b2.open(&s).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&d, b"short").unwrap();
        assert!(matches!(
            SecretBox::from_file(&d, false),
            Err(SecretError::BadKey(..))
        ));
        let _ = std::fs::remove_file(&d);
    }
}
