//! `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]`: an
//! asymmetric signing key of Google Cloud KMS, spoken as its v1 REST API.
//!
//! Credentials, as Google's tools read them: `GOOGLE_OAUTH_ACCESS_TOKEN` (a token made
//! elsewhere, e.g. by `gcloud auth print-access-token`), else the service-account key file
//! `GOOGLE_APPLICATION_CREDENTIALS` names: a JWT signed with its key (RS256) is exchanged at its
//! `token_uri` for an access token (OAuth 2.0 JWT-bearer grant), kept until it expires. The API
//! is `https://cloudkms.googleapis.com/` unless `CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS`
//! (gcloud's variable) names another.
//!
//! A reference without a version uses the key's newest enabled version, as cosign does. Key
//! algorithms: `EC_SIGN_P256_SHA256` (what `generate-key-pair --kms` creates), `EC_SIGN_P384_SHA384`
//! (signed over SHA-384, the only way Cloud KMS signs it), `RSA_SIGN_PKCS1_*_SHA256` and
//! `RSA_SIGN_PSS_*_SHA256`; others (secp256k1, …) are refused by name. Tested against a
//! stand-in written from the public API reference (`tests/peers/gcp_kms_standin.py`), never
//! against Google's service.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use sigmirror_cosign::b64;
use sigmirror_cosign::keys::{PrivateKey, PublicKey};
use sigmirror_plugin_abi::export::Logger;
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, ALGORITHM_ECDSA_P384_SHA384, ALGORITHM_RSA_PKCS1_SHA256,
    ALGORITHM_RSA_PSS_SHA256,
};
use zeroize::Zeroizing;

use crate::Backend;
use crate::http::{self, CallError};

const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com/";
const SCOPE: &str = "https://www.googleapis.com/auth/cloudkms";
/// What `generate-key-pair --kms` creates, as cosign does.
const NEW_KEY_ALGORITHM: &str = "EC_SIGN_P256_SHA256";

/// The ABI algorithm (which names the digest's hash) of each Cloud KMS algorithm cosign can use.
fn signing_for(algorithm: &str) -> Option<&'static str> {
    Some(match algorithm {
        "EC_SIGN_P256_SHA256" => ALGORITHM_ECDSA_P256_SHA256,
        "EC_SIGN_P384_SHA384" => ALGORITHM_ECDSA_P384_SHA384,
        "RSA_SIGN_PKCS1_2048_SHA256"
        | "RSA_SIGN_PKCS1_3072_SHA256"
        | "RSA_SIGN_PKCS1_4096_SHA256" => ALGORITHM_RSA_PKCS1_SHA256,
        "RSA_SIGN_PSS_2048_SHA256" | "RSA_SIGN_PSS_3072_SHA256" | "RSA_SIGN_PSS_4096_SHA256" => {
            ALGORITHM_RSA_PSS_SHA256
        }
        _ => return None,
    })
}

/// Where an access token comes from.
enum Credentials {
    /// Given as it is.
    Token(Zeroizing<String>),
    /// A service account's key, exchanged for tokens.
    ServiceAccount {
        email: String,
        key: Box<PrivateKey>,
        token_uri: String,
    },
}

/// One key reference.
pub struct CloudKey {
    key_ref: String,
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    key_name: String,
    version: Option<String>,
    endpoint: String,
    credentials: Credentials,
    client: Client,
    log: Logger,
    token: http::TokenCache,
    /// The version used, its public key PEM and ABI algorithm, asked once.
    known: http::Cached<Known>,
}

#[derive(Clone)]
struct Known {
    version: String,
    pem: String,
    algorithm: &'static str,
}

impl CloudKey {
    pub fn open(key_ref: &str, log: Logger) -> Result<Self, String> {
        let path = key_ref
            .strip_prefix("gcpkms://")
            .ok_or_else(|| format!("{key_ref:?} is not a gcpkms:// reference"))?;
        let parts: Vec<&str> = path.split('/').collect();
        let well_formed = |n: usize| {
            parts.len() == n
                && parts[0] == "projects"
                && parts[2] == "locations"
                && parts[4] == "keyRings"
                && parts[6] == "cryptoKeys"
                && parts.iter().all(|p| !p.is_empty())
        };
        let version = if well_formed(10) && matches!(parts[8], "cryptoKeyVersions" | "versions") {
            Some(parts[9].to_owned())
        } else if well_formed(8) {
            None
        } else {
            return Err(format!(
                "invalid key reference {key_ref:?}: expected gcpkms://projects/PROJECT/locations/\
                 LOCATION/keyRings/RING/cryptoKeys/KEY[/cryptoKeyVersions/VERSION]"
            ));
        };
        let endpoint = std::env::var("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into());
        let endpoint = format!("{}/", endpoint.trim_end_matches('/'));
        Ok(CloudKey {
            key_ref: key_ref.to_owned(),
            key_name: parts[..8].join("/"),
            version,
            endpoint,
            credentials: credentials()?,
            client: http::build(http::builder())?,
            log,
            token: http::TokenCache::default(),
            known: http::Cached::default(),
        })
    }

    /// A current access token: the given one, or one exchanged for a signed JWT.
    fn access_token(&self) -> Result<Zeroizing<String>, String> {
        let (email, key, token_uri) = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::ServiceAccount {
                email,
                key,
                token_uri,
            } => (email, key, token_uri),
        };
        self.token.get(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| e.to_string())?
                .as_secs();
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
            let claims = URL_SAFE_NO_PAD.encode(
                json!({"iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600})
                    .to_string(),
            );
            let signed = format!("{header}.{claims}");
            let signature = key
                .sign_message(signed.as_bytes())
                .map_err(|e| format!("cannot sign the service account's token request: {e}"))?;
            let body = Zeroizing::new(format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\
                 {signed}.{}",
                URL_SAFE_NO_PAD.encode(signature)
            ));
            let answer = http::oauth_token(&self.client, "Google's token service", token_uri, &body)?;
            answer.map_err(|(status, why)| {
                format!("Google's token service refused the service account {email} (HTTP {status}): {why}")
            })
        })
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CallError> {
        let token = self.access_token().map_err(CallError::Other)?;
        let url = format!("{}v1/{path}", self.endpoint);
        http::api_call(
            &self.client,
            "Cloud KMS",
            method,
            &url,
            &token,
            body,
            "status",
        )
    }

    fn describe(&self, action: &str, error: CallError) -> String {
        match error {
            CallError::Other(text) => text,
            CallError::Api { code, message, .. } if code == "NOT_FOUND" => {
                format!("key {} not found in Cloud KMS: {message}", self.key_ref)
            }
            CallError::Api { code, message, .. } if code == "PERMISSION_DENIED" => format!(
                "permission denied by Cloud KMS for {action} on {}: {message}",
                self.key_ref
            ),
            CallError::Api { code, message, .. } if code == "UNAUTHENTICATED" => format!(
                "Cloud KMS rejected the credentials ({message}); check \
                 GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN"
            ),
            CallError::Api {
                status,
                code,
                message,
            } => format!(
                "Cloud KMS {action} failed for {}: {code}: {message} (HTTP {status})",
                self.key_ref
            ),
        }
    }

    /// The version the reference names, or the newest enabled one.
    fn version(&self) -> Result<String, String> {
        if let Some(version) = &self.version {
            return Ok(format!("{}/cryptoKeyVersions/{version}", self.key_name));
        }
        let answer = self
            .call(
                Method::GET,
                &format!("{}/cryptoKeyVersions?filter=state%3DENABLED", self.key_name),
                None,
            )
            .map_err(|e| self.describe("listing versions", e))?;
        answer
            .get("cryptoKeyVersions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("state").and_then(Value::as_str) == Some("ENABLED"))
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .max_by_key(|name| {
                name.rsplit('/')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .map(str::to_owned)
            .ok_or_else(|| format!("key {} has no enabled version", self.key_ref))
    }

    /// The version used, its public key and how it signs (asked once).
    fn known(&self) -> Result<Known, String> {
        self.known.get(|| {
            let version = self.version()?;
            let answer = self
                .call(Method::GET, &format!("{version}/publicKey"), None)
                .map_err(|e| self.describe("reading the public key", e))?;
            let algorithm = answer
                .get("algorithm")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let abi = signing_for(algorithm).ok_or_else(|| {
                format!(
                    "unsupported key type {algorithm} for {}: cosign signs with \
                     EC_SIGN_P256_SHA256, EC_SIGN_P384_SHA384, RSA_SIGN_PKCS1_*_SHA256 and \
                     RSA_SIGN_PSS_*_SHA256 keys",
                    self.key_ref
                )
            })?;
            let pem = answer
                .get("pem")
                .and_then(Value::as_str)
                .ok_or("Cloud KMS answered without the public key PEM")?;
            let pem = PublicKey::from_pem(pem.as_bytes())
                .map_err(|e| format!("public key of {}: {e}", self.key_ref))?
                .to_pem();
            Ok(Known {
                version,
                pem,
                algorithm: abi,
            })
        })
    }
}

/// The credentials from the environment.
fn credentials() -> Result<Credentials, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(token) = var("GOOGLE_OAUTH_ACCESS_TOKEN") {
        return Ok(Credentials::Token(Zeroizing::new(token.trim().to_owned())));
    }
    let Some(path) = var("GOOGLE_APPLICATION_CREDENTIALS") else {
        return Err(
            "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service \
                    account key file, or GOOGLE_OAUTH_ACCESS_TOKEN to an access token"
                .into(),
        );
    };
    let text = Zeroizing::new(
        std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read GOOGLE_APPLICATION_CREDENTIALS {path}: {e}"))?,
    );
    let file: Value = serde_json::from_str(&text)
        .map_err(|e| format!("GOOGLE_APPLICATION_CREDENTIALS {path} is not JSON: {e}"))?;
    let field = |name: &str| file.get(name).and_then(Value::as_str);
    if field("type") != Some("service_account") {
        return Err(format!(
            "GOOGLE_APPLICATION_CREDENTIALS {path}: only service account keys (\"type\": \
             \"service_account\") are read; for other credentials set GOOGLE_OAUTH_ACCESS_TOKEN"
        ));
    }
    let (Some(email), Some(key)) = (field("client_email"), field("private_key")) else {
        return Err(format!(
            "GOOGLE_APPLICATION_CREDENTIALS {path} lacks client_email or private_key"
        ));
    };
    let key = PrivateKey::from_unencrypted_pem(key.as_bytes())
        .map_err(|e| format!("the private key in {path}: {e}"))?;
    Ok(Credentials::ServiceAccount {
        email: email.to_owned(),
        key: Box::new(key),
        token_uri: field("token_uri")
            .unwrap_or("https://oauth2.googleapis.com/token")
            .to_owned(),
    })
}

impl Backend for CloudKey {
    fn create_key(&self) -> Result<String, String> {
        if self.version.is_some() {
            return Err(format!(
                "cannot create {}: name the key without a version",
                self.key_ref
            ));
        }
        let (ring, key_id) = self
            .key_name
            .rsplit_once("/cryptoKeys/")
            .ok_or("invalid key name")?;
        let (location, ring_id) = ring.rsplit_once("/keyRings/").ok_or("invalid key name")?;
        // Like cosign: the ring and the key are created if missing; an existing key is used.
        match self.call(Method::GET, ring, None) {
            Ok(_) => {}
            Err(CallError::Api { code, .. }) if code == "NOT_FOUND" => {
                self.call(
                    Method::POST,
                    &format!("{location}/keyRings?keyRingId={ring_id}"),
                    Some(&json!({})),
                )
                .map_err(|e| self.describe("creating the key ring", e))?;
            }
            Err(e) => return Err(self.describe("reading the key ring", e)),
        }
        match self.call(Method::GET, &self.key_name, None) {
            Ok(_) => self.log.info(&format!(
                "{} already exists in Cloud KMS; using it",
                self.key_name
            )),
            Err(CallError::Api { code, .. }) if code == "NOT_FOUND" => {
                self.call(
                    Method::POST,
                    &format!("{ring}/cryptoKeys?cryptoKeyId={key_id}"),
                    Some(&json!({
                        "purpose": "ASYMMETRIC_SIGN",
                        "versionTemplate": {"algorithm": NEW_KEY_ALGORITHM},
                    })),
                )
                .map_err(|e| self.describe("creating the key", e))?;
                self.log
                    .info(&format!("created Cloud KMS key {}", self.key_name));
            }
            Err(e) => return Err(self.describe("reading the key", e)),
        }
        self.public_key_pem()
    }

    fn public_key_pem(&self) -> Result<String, String> {
        Ok(self.known()?.pem)
    }

    fn algorithm(&self) -> Result<String, String> {
        Ok(self.known()?.algorithm.to_owned())
    }

    fn sign(&self, hash: Option<&str>, digest: &[u8]) -> Result<Vec<u8>, String> {
        let known = self.known()?;
        let hash = crate::require_hash(&self.key_ref, hash, known.algorithm)?;
        let answer = self
            .call(
                Method::POST,
                &format!("{}:asymmetricSign", known.version),
                Some(&json!({ "digest": { hash: b64::encode(digest) } })),
            )
            .map_err(|e| self.describe("signing", e))?;
        let signature = answer
            .get("signature")
            .and_then(Value::as_str)
            .ok_or("Cloud KMS answered without a signature")?;
        b64::decode_lenient(signature.as_bytes())
            .map_err(|e| format!("the signature is not base64: {e}"))
    }
}
