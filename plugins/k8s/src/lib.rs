//! The `k8s` signer plugin: cosign key pairs stored in Kubernetes Secrets, `k8s://NS/NAME`.
//!
//! The Secret has cosign's layout: `cosign.key` (the encrypted private key PEM), `cosign.pub`
//! and `cosign.password`, so keys made by `cosign generate-key-pair k8s://…` sign here and the
//! reverse. `createKey` makes a fresh key with `COSIGN_PASSWORD` as its password when that is
//! set, as cosign does, else with a random one, and creates the Secret
//! `immutable: true`; it never replaces an existing Secret. Signing reads the Secret once per
//! instance and decrypts the key with its `cosign.password`: the plugin never asks the host for
//! a password. The API is reached with a blocking client the instance owns (see
//! the `kubeconfig` module for where the configuration comes from).

mod api;
mod exec;
mod kubeconfig;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sigmirror_cosign::b64;
use sigmirror_cosign::keys::Sha256Digest;
use sigmirror_cosign::keys::{PrivateKey, PublicKey};
use sigmirror_plugin_abi::export::Logger;
use sigmirror_plugin_abi::p256_key::P256Key;
use sigmirror_plugin_abi::wire::InstanceConfig;
use zeroize::Zeroizing;

use api::{Api, ApiError};

/// Data keys of cosign's Secret layout.
const KEY_FIELD: &str = "cosign.key";
const PUB_FIELD: &str = "cosign.pub";
const PASSWORD_FIELD: &str = "cosign.password";

/// One opened `k8s://NS/NAME`.
struct K8sKey {
    key_ref: String,
    namespace: String,
    name: String,
    api: Api,
    log: Logger,
    /// The decrypted key, read once.
    key: Mutex<Option<Arc<PrivateKey>>>,
}

/// A DNS-1123 label (namespaces): lowercase letters, digits, '-', at most 63.
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `(namespace, name)` of `k8s://NS/NAME` (exactly two parts, as cosign requires).
fn parse_ref(raw: &str) -> Result<(String, String), String> {
    let rest = raw
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("k8s://"))
        .map(|_| &raw[6..])
        .ok_or_else(|| format!("{raw:?} is not a k8s:// reference"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [namespace, name] = parts[..] else {
        return Err(format!(
            "invalid key reference {raw:?}: expected k8s://NAMESPACE/NAME"
        ));
    };
    let name_ok = !name.is_empty() && name.len() <= 253 && name.split('.').all(is_label);
    if !is_label(namespace) || !name_ok {
        return Err(format!(
            "invalid key reference {raw:?}: namespace and secret name must be lowercase DNS names"
        ));
    }
    Ok((namespace.to_owned(), name.to_owned()))
}

/// A random password: 32 characters of base64 from 24 OS-random bytes. Printable, so the
/// Secret can be inspected with kubectl; cosign uses the bytes as they are.
fn random_password() -> Result<Zeroizing<String>, String> {
    let mut bytes = Zeroizing::new([0u8; 24]);
    getrandom::fill(bytes.as_mut()).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(Zeroizing::new(b64::encode(bytes.as_ref())))
}

impl K8sKey {
    fn describe(&self, what: &str, error: ApiError) -> String {
        let (code, reason, message) = match error {
            ApiError::Other(text) => return text,
            ApiError::Status {
                code,
                reason,
                message,
            } => (code, reason, message),
        };
        let secret = format!("secret {}/{}", self.namespace, self.name);
        match code {
            404 => format!("key not found: {secret} does not exist ({message})"),
            401 => format!(
                "the Kubernetes API at {} rejected the credentials of {} (401 {reason}): {message}",
                self.api.server(),
                self.api.source()
            ),
            403 => format!("permission denied to {what} {secret}: {message}"),
            409 => format!(
                "{secret} already exists; sigmirror never replaces a key (delete the secret \
                 first, or choose another name)"
            ),
            _ => format!("cannot {what} {secret}: {code} {reason}: {message}"),
        }
    }

    /// The Secret's data values, base64-decoded.
    fn read_secret(&self) -> Result<Value, String> {
        let secret = self
            .api
            .get_secret(&self.namespace, &self.name)
            .map_err(|e| self.describe("read", e))?;
        Ok(secret.get("data").cloned().unwrap_or(Value::Null))
    }

    fn field(&self, data: &Value, field: &str) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        match data.get(field).and_then(Value::as_str) {
            None => Ok(None),
            Some(text) => b64::decode_lenient(text.as_bytes())
                .map(|v| Some(Zeroizing::new(v)))
                .map_err(|e| format!("{} of {}: not base64: {e}", field, self.key_ref)),
        }
    }

    /// The decrypted private key, read once per instance.
    fn private_key(&self) -> Result<Arc<PrivateKey>, String> {
        let mut cached = self
            .key
            .lock()
            .map_err(|_| "internal lock poisoned".to_owned())?;
        if let Some(key) = cached.as_ref() {
            return Ok(key.clone());
        }
        let data = self.read_secret()?;
        let pem = self.field(&data, KEY_FIELD)?.ok_or_else(|| {
            format!(
                "secret {}/{} has no {KEY_FIELD}: it is not a cosign key secret",
                self.namespace, self.name
            )
        })?;
        let password = self.field(&data, PASSWORD_FIELD)?.unwrap_or_default();
        let key = PrivateKey::from_encrypted_pem(&pem, &password).map_err(|e| {
            format!(
                "cannot decrypt {KEY_FIELD} of secret {}/{} with its {PASSWORD_FIELD}: {e}",
                self.namespace, self.name
            )
        })?;
        let key = Arc::new(key);
        *cached = Some(key.clone());
        Ok(key)
    }

    /// `cosign.pub` if the Secret has one (no decryption needed), else the key's public half.
    fn public_key(&self) -> Result<PublicKey, String> {
        if let Some(key) = self.key.lock().ok().and_then(|k| k.clone()) {
            return Ok(key.public_key());
        }
        let data = self.read_secret()?;
        match self.field(&data, PUB_FIELD)? {
            Some(pem) => PublicKey::from_pem(&pem)
                .map_err(|e| format!("{PUB_FIELD} of {}: {e}", self.key_ref)),
            None => Ok(self.private_key()?.public_key()),
        }
    }

    fn create(&self) -> Result<PublicKey, String> {
        let key = PrivateKey::generate();
        // As cosign: `COSIGN_PASSWORD`, when set (even empty), is the key's password and is
        // stored in the secret; otherwise a random one.
        let password = match std::env::var_os("COSIGN_PASSWORD") {
            Some(chosen) => Zeroizing::new(chosen.into_encoded_bytes()),
            None => Zeroizing::new(random_password()?.as_bytes().to_vec()),
        };
        let encrypted = Zeroizing::new(key.to_encrypted_pem(&password).map_err(|e| e.to_string())?);
        let public = key.public_key();
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": { "name": self.name, "namespace": self.namespace },
            "immutable": true,
            "data": {
                KEY_FIELD: b64::encode(encrypted.as_bytes()),
                PUB_FIELD: b64::encode(public.to_pem().as_bytes()),
                PASSWORD_FIELD: b64::encode(&password),
            },
        });
        self.api
            .create_secret(&self.namespace, &secret)
            .map_err(|e| self.describe("create", e))?;
        self.log.info(&format!(
            "created secret {} in namespace {}",
            self.name, self.namespace
        ));
        if let Ok(mut cached) = self.key.lock() {
            *cached = Some(Arc::new(key));
        }
        Ok(public)
    }
}

impl P256Key for K8sKey {
    fn open(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let (namespace, name) = parse_ref(&config.key_ref)?;
        let cluster = kubeconfig::load()?;
        log.debug(&format!(
            "k8s: {namespace}/{name} at {} ({})",
            cluster.server, cluster.source
        ));
        Ok(K8sKey {
            key_ref: config.key_ref,
            namespace,
            name,
            api: Api::new(cluster)?,
            log,
            key: Mutex::new(None),
        })
    }

    fn public_key_pem(&self) -> Result<String, String> {
        Ok(self.public_key()?.to_pem())
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
        self.private_key()?
            .sign_digest(&Sha256Digest::from_bytes(*digest))
            .map_err(|e| e.to_string())
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.private_key()?
            .sign_message(message)
            .map_err(|e| e.to_string())
    }

    fn algorithm(&self) -> Result<String, String> {
        let key = self.private_key()?;
        sigmirror_plugin_abi::wire::key_file_algorithm(key.public_key().algorithm())
            .map(str::to_owned)
    }

    fn create_key(&self) -> Result<String, String> {
        Ok(self.create()?.to_pem())
    }
}

sigmirror_plugin_abi::export_signer! {
    plugin: K8sKey,
    name: "k8s",
    schemes: "k8s",
    flags: 0,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_refs() {
        assert_eq!(
            parse_ref("k8s://ci/release-key").unwrap(),
            ("ci".to_owned(), "release-key".to_owned())
        );
        assert!(parse_ref("k8s://ci.x/a.b").is_err(), "namespace is a label");
        assert!(parse_ref("k8s://ci/a.b").is_ok());
        for bad in [
            "k8s://ci",
            "k8s://ci/a/b",
            "k8s:///a",
            "k8s://ci/",
            "k8s://Ci/a",
        ] {
            assert!(parse_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_random_and_printable() {
        let a = random_password().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a.as_str(), random_password().unwrap().as_str());
    }
}
