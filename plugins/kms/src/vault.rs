//! `hashivault://NAME` and `openbao://NAME`: a key of the transit secrets engine of HashiCorp
//! Vault or OpenBao (same HTTP API).
//!
//! Settings, as the `vault`/`bao` CLIs and cosign read them: `VAULT_ADDR` (for `openbao://`
//! `BAO_ADDR` first), `VAULT_TOKEN` (`BAO_TOKEN`) or `~/.vault-token`, `VAULT_NAMESPACE`,
//! `VAULT_CACERT`, `VAULT_SKIP_VERIFY`, and cosign's `TRANSIT_SECRET_ENGINE_PATH` (default
//! `transit`). Keys are of the types cosign signs with: `ecdsa-p256` (what `generate-key-pair
//! --kms` creates, as cosign does), `ecdsa-p384`, `ecdsa-p521`, `rsa-2048/3072/4096` and
//! `ed25519`. ECDSA and RSA keys sign the host's SHA-256 digest (`prehashed: true`,
//! `hash_algorithm: sha2-256`; `marshaling_algorithm: asn1` for DER, `signature_algorithm:
//! pkcs1v15` for RSA), as cosign's Vault signer does; Ed25519 keys sign the message itself.

use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use sigmirror_cosign::b64;
use sigmirror_cosign::keys::PublicKey;
use sigmirror_plugin_abi::export::Logger;
use zeroize::Zeroizing;

use crate::Backend;
use crate::http;

/// The transit key type sigmirror creates and signs with.
/// The type of the keys `generate-key-pair --kms` creates, as cosign creates them.
const KEY_TYPE: &str = "ecdsa-p256";

/// The ABI algorithm of each transit key type cosign can use.
fn algorithm_for(key_type: &str) -> Option<&'static str> {
    use sigmirror_plugin_abi::wire::{
        ALGORITHM_ECDSA_P256_SHA256, ALGORITHM_ECDSA_P384_SHA256, ALGORITHM_ECDSA_P521_SHA256,
        ALGORITHM_ED25519, ALGORITHM_RSA_PKCS1_SHA256,
    };
    Some(match key_type {
        "ecdsa-p256" => ALGORITHM_ECDSA_P256_SHA256,
        "ecdsa-p384" => ALGORITHM_ECDSA_P384_SHA256,
        "ecdsa-p521" => ALGORITHM_ECDSA_P521_SHA256,
        "rsa-2048" | "rsa-3072" | "rsa-4096" => ALGORITHM_RSA_PKCS1_SHA256,
        "ed25519" => ALGORITHM_ED25519,
        _ => return None,
    })
}

/// The SubjectPublicKeyInfo DER prefix of an Ed25519 key (RFC 8410), before its 32 bytes:
/// transit gives Ed25519 public keys as bare base64.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// One transit key.
pub struct TransitKey {
    key_ref: String,
    name: String,
    /// `http(s)://host:port`, no trailing slash.
    addr: String,
    /// Mount path of the transit engine, no slashes around it.
    mount: String,
    token: Zeroizing<String>,
    namespace: Option<String>,
    client: Client,
    log: Logger,
    /// "Vault" or "OpenBao", for messages.
    product: &'static str,
}

/// What a failed request was.
enum CallError {
    /// The server answered with an error status.
    Status { status: u16, errors: String },
    /// No usable answer.
    Other(String),
}

fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

impl TransitKey {
    /// Reads the settings for `key_ref` (scheme `hashivault` or `openbao`); sends nothing yet.
    pub fn open(key_ref: &str, scheme: &str, log: Logger) -> Result<Self, String> {
        let name = &key_ref[scheme.len() + 3..];
        if !valid_name(name) {
            return Err(format!(
                "invalid key reference {key_ref:?}: expected {scheme}://NAME where NAME is \
                 letters, digits, '_' or '-'"
            ));
        }
        let (product, addr_vars, token_vars): (_, &[&str], &[&str]) = if scheme == "openbao" {
            (
                "OpenBao",
                &["BAO_ADDR", "VAULT_ADDR"],
                &["BAO_TOKEN", "VAULT_TOKEN"],
            )
        } else {
            ("Vault", &["VAULT_ADDR"], &["VAULT_TOKEN"])
        };
        let addr = env_first(addr_vars)
            .unwrap_or_else(|| "https://127.0.0.1:8200".into())
            .trim_end_matches('/')
            .to_owned();
        let token = match env_first(token_vars) {
            Some(t) => Zeroizing::new(t),
            None => read_token_file().ok_or_else(|| {
                format!(
                    "no {product} token: set {} (or log in so ~/.vault-token exists)",
                    token_vars.join(" or ")
                )
            })?,
        };
        let mount = env_first(&["TRANSIT_SECRET_ENGINE_PATH"])
            .unwrap_or_else(|| "transit".into())
            .trim_matches('/')
            .to_owned();
        let mut builder = http::builder();
        if let Some(path) = env_first(&["VAULT_CACERT"]) {
            let pem = std::fs::read(&path)
                .map_err(|e| format!("cannot read VAULT_CACERT {path}: {e}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("VAULT_CACERT {path}: {}", http::chain(&e)))?;
            builder = builder.tls_certs_merge(certs);
        }
        if env_first(&["VAULT_SKIP_VERIFY"])
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        {
            log.warn("VAULT_SKIP_VERIFY is set: the server's TLS certificate is not checked");
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        Ok(TransitKey {
            key_ref: key_ref.to_owned(),
            name: name.to_owned(),
            addr,
            mount,
            token,
            namespace: env_first(&["VAULT_NAMESPACE"]),
            client: http::build(builder)?,
            log,
            product,
        })
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CallError> {
        let url = format!("{}/v1/{}/{path}", self.addr, self.mount);
        let mut request = self
            .client
            .request(method, &url)
            .header("X-Vault-Token", self.token.as_str());
        if let Some(ns) = &self.namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(body).map_err(|e| CallError::Other(e.to_string()))?);
        }
        let response = request
            .send()
            .map_err(|e| CallError::Other(http::unreachable(self.product, &self.addr, &e)))?;
        let status = response.status();
        let bytes = response.bytes().map_err(|e| {
            CallError::Other(format!(
                "reading the {} answer: {}",
                self.product,
                http::chain(&e)
            ))
        })?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|e| {
                CallError::Other(format!("{} answered invalid JSON: {e}", self.product))
            });
        }
        let errors = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("errors").cloned())
            .and_then(|e| e.as_array().cloned())
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        Err(CallError::Status {
            status: status.as_u16(),
            errors,
        })
    }

    fn describe(&self, what: &str, error: CallError) -> String {
        let (status, errors) = match error {
            CallError::Other(text) => return text,
            CallError::Status { status, errors } => (status, errors),
        };
        let product = self.product;
        match status {
            403 => format!(
                "permission denied by {product} at {} while trying to {what} {}: check the token \
                 and its policy ({errors})",
                self.addr, self.key_ref
            ),
            404 if errors.contains("no handler for route") => format!(
                "{product} at {} has no transit engine at {}/ (enable it, or set \
                 TRANSIT_SECRET_ENGINE_PATH): {errors}",
                self.addr, self.mount
            ),
            404 => format!(
                "key {} not found: {product} at {} has no transit key {:?} under {}/",
                self.key_ref, self.addr, self.name, self.mount
            ),
            _ => format!(
                "{product} could not {what} {} (HTTP {status}): {errors}",
                self.key_ref
            ),
        }
    }

    /// Reads the key, refusing types cosign does not sign with; returns the latest version's
    /// public key as PKIX PEM, and the key's algorithm.
    fn read_public(&self) -> Result<(String, &'static str), String> {
        let answer = self
            .call(Method::GET, &format!("keys/{}", self.name), None)
            .map_err(|e| self.describe("read", e))?;
        let data = answer
            .get("data")
            .ok_or("transit key answer without data")?;
        let key_type = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let algorithm = algorithm_for(key_type).ok_or_else(|| {
            format!(
                "unsupported key type {key_type} for {}: cosign signs with ecdsa-p256/p384/p521, \
                 rsa-2048/3072/4096 and ed25519 keys",
                self.key_ref
            )
        })?;
        let version = data
            .get("latest_version")
            .and_then(Value::as_u64)
            .ok_or("transit key answer without latest_version")?;
        let pem = data
            .pointer(&format!("/keys/{version}/public_key"))
            .and_then(Value::as_str)
            .ok_or("transit key answer without the latest version's public_key")?;
        let key = if key_type == "ed25519" {
            let raw = b64::decode_lenient(pem.as_bytes())
                .map_err(|e| format!("public key of {}: not base64: {e}", self.key_ref))?;
            PublicKey::from_spki_der(&[&ED25519_SPKI_PREFIX[..], &raw].concat())
        } else {
            PublicKey::from_pem(pem.as_bytes())
        };
        key.map(|k| (k.to_pem(), algorithm))
            .map_err(|e| format!("public key of {}: {e}", self.key_ref))
    }
}

/// `~/.vault-token`, which `vault login` writes.
fn read_token_file() -> Option<Zeroizing<String>> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let text = Zeroizing::new(
        std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token")).ok()?,
    );
    let token = text.trim();
    (!token.is_empty()).then(|| Zeroizing::new(token.to_owned()))
}

impl Backend for TransitKey {
    fn create_key(&self) -> Result<String, String> {
        // Creating an existing key is a no-op in transit; the type check below then refuses a
        // key of another type instead of silently using it.
        self.call(
            Method::POST,
            &format!("keys/{}", self.name),
            Some(&json!({ "type": KEY_TYPE })),
        )
        .map_err(|e| self.describe("create", e))?;
        self.log.info(&format!(
            "{} transit key {} is ready",
            self.product, self.name
        ));
        self.public_key_pem()
    }

    fn public_key_pem(&self) -> Result<String, String> {
        self.read_public().map(|(pem, _)| pem)
    }

    fn algorithm(&self) -> Result<String, String> {
        self.read_public()
            .map(|(_, algorithm)| algorithm.to_owned())
    }

    fn sign(&self, hash: Option<&str>, input: &[u8]) -> Result<Vec<u8>, String> {
        // The type check first: a key of another type would otherwise sign another way.
        let (_, algorithm) = self.read_public()?;
        let (path, body) = match (algorithm, hash) {
            (sigmirror_plugin_abi::wire::ALGORITHM_ED25519, None) => (
                format!("sign/{}", self.name),
                json!({ "input": b64::encode(input) }),
            ),
            (sigmirror_plugin_abi::wire::ALGORITHM_ED25519, Some(_)) => {
                return Err(format!(
                    "{} is an Ed25519 key: it signs messages",
                    self.key_ref
                ));
            }
            (_, Some("sha256")) => (
                format!("sign/{}/sha2-256", self.name),
                json!({
                    "input": b64::encode(input),
                    "prehashed": true,
                    "hash_algorithm": "sha2-256",
                    "marshaling_algorithm": "asn1",
                    "signature_algorithm": "pkcs1v15",
                }),
            ),
            (_, other) => {
                return Err(format!(
                    "{} signs SHA-256 digests (algorithm {algorithm}), not {}",
                    self.key_ref,
                    other.unwrap_or("messages")
                ));
            }
        };
        let answer = self
            .call(Method::POST, &path, Some(&body))
            .map_err(|e| self.describe("sign with", e))?;
        let signature = answer
            .pointer("/data/signature")
            .and_then(Value::as_str)
            .ok_or("transit sign answer without data.signature")?;
        // "vault:v<N>:<base64>"
        let encoded = signature
            .splitn(3, ':')
            .nth(2)
            .filter(|_| signature.starts_with("vault:v"))
            .ok_or_else(|| format!("unexpected transit signature format {signature:?}"))?;
        b64::decode_lenient(encoded.as_bytes())
            .map_err(|e| format!("transit signature is not base64: {e}"))
    }
}
