//! `azurekms://VAULT_HOST/KEY`: an asymmetric key in an Azure Key Vault, spoken as its REST API
//! (version 7.4) over HTTPS.
//!
//! Credentials, as Azure's `EnvironmentCredential` reads them: `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, exchanged for a token (OAuth 2.0 client
//! credentials, scope `https://vault.azure.net/.default`) at `AZURE_AUTHORITY_HOST` (default
//! `https://login.microsoftonline.com/`), kept until it expires. The key's newest version signs.
//!
//! Keys: EC P-256 (what `generate-key-pair --kms` creates, as cosign does; `ES256`), P-384
//! (`ES384`, over SHA-384), P-521 (`ES512`, over SHA-512) and RSA (`RS256`, PKCS#1 v1.5); Key
//! Vault answers ECDSA signatures as raw `r‖s`, stored here as DER. Tested against a stand-in
//! written from the public API reference (`tests/peers/azure_kv_standin.py`), never against Azure.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use sigmirror_cosign::keys::{PublicKey, ecdsa_der_from_raw};
use sigmirror_plugin_abi::export::Logger;
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, ALGORITHM_ECDSA_P384_SHA384, ALGORITHM_ECDSA_P521_SHA512,
    ALGORITHM_RSA_PKCS1_SHA256,
};
use zeroize::Zeroizing;

use crate::Backend;
use crate::http::{self, CallError};

const API_VERSION: &str = "7.4";
const SCOPE: &str = "https://vault.azure.net/.default";
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com/";

/// One key reference.
pub struct VaultKey {
    key_ref: String,
    vault: String,
    name: String,
    tenant: String,
    client_id: String,
    secret: Zeroizing<String>,
    authority: String,
    client: Client,
    log: Logger,
    token: http::TokenCache,
    known: http::Cached<Known>,
}

/// The newest version's id, public key and signing.
#[derive(Clone)]
struct Known {
    version: String,
    pem: String,
    algorithm: &'static str,
    /// JOSE's name of the signing algorithm: `ES…` ones answer raw `r‖s` ECDSA signatures.
    jose: &'static str,
}

impl VaultKey {
    pub fn open(key_ref: &str, log: Logger) -> Result<Self, String> {
        let rest = key_ref
            .strip_prefix("azurekms://")
            .ok_or_else(|| format!("{key_ref:?} is not an azurekms:// reference"))?;
        let (vault, name) = match rest.split('/').collect::<Vec<_>>()[..] {
            [vault, name] if !vault.is_empty() && !name.is_empty() => (vault, name),
            _ => {
                return Err(format!(
                    "invalid key reference {key_ref:?}: expected azurekms://VAULT_HOST/KEY \
                     (e.g. azurekms://myvault.vault.azure.net/release)"
                ));
            }
        };
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (Some(tenant), Some(client_id), Some(secret)) = (
            var("AZURE_TENANT_ID"),
            var("AZURE_CLIENT_ID"),
            var("AZURE_CLIENT_SECRET"),
        ) else {
            return Err(
                "no Azure credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and \
                        AZURE_CLIENT_SECRET (a service principal with a client secret)"
                    .into(),
            );
        };
        let authority = var("AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY.into());
        Ok(VaultKey {
            key_ref: key_ref.to_owned(),
            vault: vault.to_owned(),
            name: name.to_owned(),
            tenant,
            client_id,
            secret: Zeroizing::new(secret),
            authority: format!("{}/", authority.trim_end_matches('/')),
            client: http::build(http::builder())?,
            log,
            token: http::TokenCache::default(),
            known: http::Cached::default(),
        })
    }

    /// A current access token for Key Vault (client credentials).
    fn access_token(&self) -> Result<Zeroizing<String>, String> {
        self.token.get(|| {
            let url = format!("{}{}/oauth2/v2.0/token", self.authority, self.tenant);
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.secret.as_str()),
                ("scope", SCOPE),
            ];
            let body = Zeroizing::new(
                form.iter()
                    .map(|(k, v)| format!("{k}={}", url_encode(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            );
            let answer = http::oauth_token(&self.client, "Microsoft Entra ID", &url, &body)?;
            answer.map_err(|(status, why)| {
                format!(
                    "Microsoft Entra ID refused the client {} (HTTP {status}): {why}",
                    self.client_id
                )
            })
        })
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CallError> {
        let token = self.access_token().map_err(CallError::Other)?;
        let url = format!("https://{}/{path}?api-version={API_VERSION}", self.vault);
        http::api_call(
            &self.client,
            "Azure Key Vault",
            method,
            &url,
            &token,
            body,
            "code",
        )
    }

    fn describe(&self, action: &str, error: CallError) -> String {
        match error {
            CallError::Other(text) => text,
            CallError::Api { code, message, .. } if code == "KeyNotFound" => {
                format!(
                    "key {} not found in Azure Key Vault: {message}",
                    self.key_ref
                )
            }
            CallError::Api {
                status: 403,
                message,
                ..
            } => format!(
                "permission denied by Azure Key Vault for {action} on {}: {message}",
                self.key_ref
            ),
            CallError::Api {
                status: 401,
                message,
                ..
            } => format!("Azure Key Vault rejected the credentials ({message})"),
            CallError::Api {
                status,
                code,
                message,
            } => format!(
                "Azure Key Vault {action} failed for {}: {code}: {message} (HTTP {status})",
                self.key_ref
            ),
        }
    }

    /// The newest version, its public key and how it signs (asked once).
    fn known(&self) -> Result<Known, String> {
        self.known.get(|| {
            let answer = self
                .call(Method::GET, &format!("keys/{}", self.name), None)
                .map_err(|e| self.describe("reading the key", e))?;
            self.read_bundle(&answer)
        })
    }

    /// A key bundle's version, public key and signing.
    fn read_bundle(&self, bundle: &Value) -> Result<Known, String> {
        let jwk = bundle
            .get("key")
            .ok_or("Key Vault answered without a key")?;
        let text = |name: &str| jwk.get(name).and_then(Value::as_str);
        let bytes = |name: &str| -> Result<Vec<u8>, String> {
            let value = text(name).ok_or_else(|| format!("the key has no {name}"))?;
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map_err(|e| format!("the key's {name} is not base64url: {e}"))
        };
        let version = text("kid")
            .and_then(|kid| kid.rsplit('/').next())
            .ok_or("the key has no kid")?
            .to_owned();
        let kty = text("kty").unwrap_or("unknown");
        let (public, algorithm, jose) = match (kty, text("crv")) {
            ("EC" | "EC-HSM", Some(crv)) => {
                let (algorithm, jose) = match crv {
                    "P-256" => (ALGORITHM_ECDSA_P256_SHA256, "ES256"),
                    "P-384" => (ALGORITHM_ECDSA_P384_SHA384, "ES384"),
                    "P-521" => (ALGORITHM_ECDSA_P521_SHA512, "ES512"),
                    other => {
                        return Err(format!(
                            "unsupported key type EC {other} for {}: cosign signs with P-256, \
                             P-384, P-521 and RSA keys",
                            self.key_ref
                        ));
                    }
                };
                let point = [&[4u8][..], &bytes("x")?, &bytes("y")?].concat();
                let public = PublicKey::from_ec_point(crv, &point).map_err(|e| e.to_string())?;
                (public, algorithm, jose)
            }
            ("RSA" | "RSA-HSM", _) => {
                let public = PublicKey::from_rsa_components(&bytes("n")?, &bytes("e")?)
                    .map_err(|e| format!("public key of {}: {e}", self.key_ref))?;
                (public, ALGORITHM_RSA_PKCS1_SHA256, "RS256")
            }
            (other, _) => {
                return Err(format!(
                    "unsupported key type {other} for {}: cosign signs with EC and RSA keys",
                    self.key_ref
                ));
            }
        };
        Ok(Known {
            version,
            pem: public.to_pem(),
            algorithm,
            jose,
        })
    }
}

/// `application/x-www-form-urlencoded` of one value.
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Backend for VaultKey {
    fn create_key(&self) -> Result<String, String> {
        // Like cosign: an existing key is used; otherwise an EC P-256 signing key is made.
        match self.call(Method::GET, &format!("keys/{}", self.name), None) {
            Ok(_) => self.log.info(&format!(
                "{} already exists in Key Vault; using it",
                self.name
            )),
            Err(CallError::Api { code, .. }) if code == "KeyNotFound" => {
                let bundle = self
                    .call(
                        Method::POST,
                        &format!("keys/{}/create", self.name),
                        Some(&json!({"kty": "EC", "crv": "P-256", "key_ops": ["sign", "verify"]})),
                    )
                    .map_err(|e| self.describe("creating the key", e))?;
                self.log
                    .info(&format!("created Key Vault key {}", self.name));
                self.known.set(self.read_bundle(&bundle)?);
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
        crate::require_hash(&self.key_ref, hash, known.algorithm)?;
        let answer = self
            .call(
                Method::POST,
                &format!("keys/{}/{}/sign", self.name, known.version),
                Some(&json!({"alg": known.jose, "value": URL_SAFE_NO_PAD.encode(digest)})),
            )
            .map_err(|e| self.describe("signing", e))?;
        let value = answer
            .get("value")
            .and_then(Value::as_str)
            .ok_or("Key Vault answered without a signature")?;
        let signature = URL_SAFE_NO_PAD
            .decode(value.trim_end_matches('='))
            .map_err(|e| format!("the signature is not base64url: {e}"))?;
        if known.jose.starts_with("ES") {
            ecdsa_der_from_raw(&signature).map_err(|e| e.to_string())
        } else {
            Ok(signature)
        }
    }
}
