//! Who may read, and over what: an htpasswd file of bcrypt entries (as the Distribution
//! registry takes them, made with `htpasswd -B`), and TLS from a PEM certificate and key.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

/// What can be wrong with a login file or a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line of the htpasswd file is not `user:bcrypt-hash`.
    #[error("{}:{line}: not a bcrypt entry (`user:$2y$…`, made with `htpasswd -B`); other hash kinds are refused", path.display())]
    Entry {
        /// The file.
        path: std::path::PathBuf,
        /// The 1-based line.
        line: usize,
    },
    /// The certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
}

/// The logins of an htpasswd file. A password that matched once is remembered (as a SHA-256 of
/// user and password, in memory) so that bcrypt, slow on purpose, runs once per login, not
/// once per request.
pub struct Logins {
    entries: HashMap<String, String>,
    accepted: Mutex<HashSet<[u8; 32]>>,
}

impl Logins {
    /// Reads `path`: `user:hash` lines with bcrypt hashes; blank lines and `#` comments skipped.
    pub fn read(path: &Path) -> Result<Logins, AccessError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut entries = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((user, hash))
                    if !user.is_empty()
                        && ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) =>
                {
                    entries.insert(user.to_owned(), hash.to_owned());
                }
                _ => {
                    return Err(AccessError::Entry {
                        path: path.to_path_buf(),
                        line: i + 1,
                    });
                }
            }
        }
        Ok(Logins {
            entries,
            accepted: Mutex::default(),
        })
    }

    /// Whether an `Authorization` header value carries a login of the file.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        let Some(hash) = self.entries.get(user) else {
            return false;
        };
        let key = {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            h.update(hash.as_bytes());
            h.update([0]);
            h.update(password.as_bytes());
            let out: [u8; 32] = h.finalize().into();
            out
        };
        if self
            .accepted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            return true;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            self.accepted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key);
        }
        ok
    }
}

/// A TLS server configuration from a PEM certificate chain and a PEM private key.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, AccessError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| AccessError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| AccessError::Tls(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(AccessError::Tls(format!(
            "{}: no certificate",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| AccessError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AccessError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| AccessError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
