//! `awskms://[ENDPOINT]/KEY`: AWS KMS asymmetric signing keys (ECC_NIST_P256, P384, P521 and
//! RSA_2048/3072/4096, SIGN_VERIFY; new keys are ECC_NIST_P256, as cosign creates them).
//!
//! KMS's JSON API is four calls here (`CreateKey`, `CreateAlias`, `GetPublicKey`, `Sign`), so
//! a blocking client, serde_json and an in-tree SigV4 signer replace the AWS SDK. Signing sends
//! the host's digest with `MessageType: DIGEST` and the one algorithm cosign uses for the key's
//! spec (KMS signs P-384 keys over SHA-384 and P-521 over SHA-512 only, so the plugin asks the
//! host for those digests); KMS returns a DER (ECDSA) or PKCS#1 v1.5 (RSA) signature.

mod config;
mod keyref;
mod sigv4;

use reqwest::blocking::Client;
use serde_json::{Value, json};
use sigmirror_cosign::b64;
use sigmirror_cosign::keys::PublicKey;
use sigmirror_plugin_abi::export::Logger;

use crate::Backend;
use crate::http::{self, CallError};
use config::Credentials;
use keyref::AwsKeyRef;

/// The only key spec sigmirror signs with.
const KEY_SPEC: &str = "ECC_NIST_P256";

/// How a key of one spec signs: the ABI algorithm (which names the digest's hash), and KMS's
/// signing algorithm.
#[derive(Clone, Copy)]
struct Signing {
    algorithm: &'static str,
    kms_algorithm: &'static str,
}

/// The signing of each key spec cosign can use.
fn signing_for(spec: &str) -> Option<Signing> {
    use sigmirror_plugin_abi::wire::{
        ALGORITHM_ECDSA_P256_SHA256, ALGORITHM_ECDSA_P384_SHA384, ALGORITHM_ECDSA_P521_SHA512,
        ALGORITHM_RSA_PKCS1_SHA256,
    };
    let (algorithm, kms_algorithm) = match spec {
        "ECC_NIST_P256" => (ALGORITHM_ECDSA_P256_SHA256, "ECDSA_SHA_256"),
        "ECC_NIST_P384" => (ALGORITHM_ECDSA_P384_SHA384, "ECDSA_SHA_384"),
        "ECC_NIST_P521" => (ALGORITHM_ECDSA_P521_SHA512, "ECDSA_SHA_512"),
        "RSA_2048" | "RSA_3072" | "RSA_4096" => {
            (ALGORITHM_RSA_PKCS1_SHA256, "RSASSA_PKCS1_V1_5_SHA_256")
        }
        _ => return None,
    };
    Some(Signing {
        algorithm,
        kms_algorithm,
    })
}

/// The key usage that allows `Sign`.
const KEY_USAGE: &str = "SIGN_VERIFY";

/// One AWS KMS key.
pub struct AwsKey {
    key_ref: String,
    parsed: AwsKeyRef,
    region: String,
    endpoint: reqwest::Url,
    credentials: Credentials,
    client: Client,
    log: Logger,
    /// The checked public key PEM, fetched once: signing needs the key-type check too.
    known: http::Cached<(String, Signing)>,
}

impl AwsKey {
    /// Parses the reference and reads region, endpoint and credentials; no request is sent yet.
    pub fn open(key_ref: &str, log: Logger) -> Result<Self, String> {
        let parsed = AwsKeyRef::parse(key_ref)?;
        let region = config::region(parsed.arn_region.as_deref())?;
        let url = config::endpoint(parsed.endpoint.as_deref(), &region);
        let endpoint = reqwest::Url::parse(&url)
            .map_err(|e| format!("invalid AWS KMS endpoint {url:?}: {e}"))?;
        let credentials = config::credentials()?;
        let client = http::build(http::builder())?;
        log.debug(&format!(
            "awskms: key {} in {region} at {endpoint}, access key {}",
            parsed.key_id, credentials.access_key_id
        ));
        Ok(AwsKey {
            key_ref: key_ref.to_owned(),
            parsed,
            region,
            endpoint,
            credentials,
            client,
            log,
            known: http::Cached::default(),
        })
    }

    /// `host[:port]` as reqwest sends it in the `Host` header (default ports omitted).
    fn host_header(&self) -> String {
        let host = self.endpoint.host_str().unwrap_or_default();
        match self.endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// Sends one `TrentService.<action>` request, signed with SigV4.
    fn call(&self, action: &str, body: &Value) -> Result<Value, CallError> {
        let body = serde_json::to_vec(body).map_err(|e| CallError::Other(e.to_string()))?;
        let target = format!("TrentService.{action}");
        let (amz_date, date) = sigv4::amz_dates(std::time::SystemTime::now());
        let host = self.host_header();
        let content_type = "application/x-amz-json-1.1";
        let token = self.credentials.session_token.as_ref().map(|t| t.as_str());
        let mut signed: Vec<(&str, &str)> =
            vec![("content-type", content_type), ("x-amz-target", &target)];
        if let Some(token) = token {
            signed.push(("x-amz-security-token", token));
        }
        let authorization = sigv4::authorization(
            &sigv4::SigningInput {
                method: "POST",
                host: &host,
                path: self.endpoint.path(),
                headers: &signed,
                body: &body,
                region: &self.region,
                service: "kms",
            },
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            &amz_date,
            &date,
        )
        .map_err(CallError::Other)?;
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .header("content-type", content_type)
            .header("x-amz-target", &target)
            .header("x-amz-date", &amz_date)
            .header("authorization", authorization);
        if let Some(token) = token {
            request = request.header("x-amz-security-token", token);
        }
        let response = request.body(body).send().map_err(|e| {
            CallError::Other(http::unreachable("AWS KMS", self.endpoint.as_str(), &e))
        })?;
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().map_err(|e| {
            CallError::Other(format!("reading the AWS KMS answer: {}", http::chain(&e)))
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                CallError::Other(format!("AWS KMS {action} answered invalid JSON: {e}"))
            });
        }
        let (code, message) = parse_error(&bytes, error_type.as_deref());
        Err(CallError::Api {
            status: status.as_u16(),
            code,
            message,
        })
    }

    /// A user-facing message for a failed `action`.
    fn describe(&self, action: &str, error: CallError) -> String {
        let (status, code, message) = match error {
            CallError::Other(text) => return text,
            CallError::Api {
                status,
                code,
                message,
            } => (status, code, message),
        };
        match code.as_str() {
            "NotFoundException" => format!(
                "key {} not found in AWS KMS ({}): {message}",
                self.key_ref, self.region
            ),
            "AccessDeniedException" | "AccessDenied" => format!(
                "permission denied by AWS KMS for {action} on {}: {message}",
                self.key_ref
            ),
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "ExpiredTokenException" => format!(
                "AWS KMS rejected the credentials ({code}: {message}); check AWS_ACCESS_KEY_ID, \
                 AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
            ),
            _ => format!(
                "AWS KMS {action} failed for {}: {code}: {message} (HTTP {status})",
                self.key_ref
            ),
        }
    }

    /// `GetPublicKey`, refusing anything but an ECC_NIST_P256 signing key.
    fn fetch_public(&self) -> Result<(String, Signing), CallError> {
        let answer = self.call("GetPublicKey", &json!({ "KeyId": self.parsed.key_id }))?;
        let field = |name: &str| answer.get(name).and_then(Value::as_str);
        // Real KMS sends KeySpec (and the deprecated CustomerMasterKeySpec); some emulators
        // only the latter.
        let spec = field("KeySpec")
            .or_else(|| field("CustomerMasterKeySpec"))
            .unwrap_or("unknown");
        let signing = signing_for(spec).ok_or_else(|| {
            CallError::Other(format!(
                "unsupported key type {spec} for {}: cosign signs with ECC_NIST_P256, \
                 ECC_NIST_P384, ECC_NIST_P521 and RSA_2048/3072/4096 keys",
                self.key_ref
            ))
        })?;
        let usage = field("KeyUsage").unwrap_or("unknown");
        if usage != KEY_USAGE {
            return Err(CallError::Other(format!(
                "key {} has usage {usage}; signing needs {KEY_USAGE}",
                self.key_ref
            )));
        }
        let der = field("PublicKey")
            .ok_or_else(|| CallError::Other("GetPublicKey answered without PublicKey".into()))
            .and_then(|text| {
                b64::decode_lenient(text.as_bytes())
                    .map_err(|e| CallError::Other(format!("PublicKey is not base64: {e}")))
            })?;
        PublicKey::from_spki_der(&der)
            .map(|k| (k.to_pem(), signing))
            .map_err(|e| CallError::Other(format!("public key of {}: {e}", self.key_ref)))
    }

    /// The checked public key and how the key signs, fetched once per instance.
    fn public_cached(&self) -> Result<(String, Signing), CallError> {
        self.known.get(|| self.fetch_public())
    }
}

/// `(code, message)` of a KMS error body: JSON `{"__type": "…#Code", "message": "…"}`, or the
/// XML some front ends (and emulators) send for authentication errors.
fn parse_error(body: &[u8], header_type: Option<&str>) -> (String, String) {
    let strip = |t: &str| {
        t.rsplit('#')
            .next()
            .unwrap_or(t)
            .split(':')
            .next()
            .unwrap_or(t)
            .to_owned()
    };
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let code = json
            .get("__type")
            .and_then(Value::as_str)
            .or(header_type)
            .map(strip)
            .unwrap_or_else(|| "UnknownError".into());
        let message = ["message", "Message"]
            .iter()
            .find_map(|k| json.get(*k).and_then(Value::as_str))
            .unwrap_or("(no message)")
            .to_owned();
        return (code, message);
    }
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].trim().to_owned())
    };
    let code = tag("Code")
        .or_else(|| header_type.map(strip))
        .unwrap_or_else(|| "UnknownError".into());
    let message = tag("Message").unwrap_or_else(|| text.chars().take(200).collect());
    (code, message)
}

impl Backend for AwsKey {
    fn create_key(&self) -> Result<String, String> {
        let alias = self.parsed.alias.as_deref().ok_or_else(|| {
            format!(
                "cannot create {}: AWS KMS keys are created by alias, use awskms:///alias/NAME",
                self.key_ref
            )
        })?;
        // Like cosign: an existing key under the alias is reused (if it is a signing key of a
        // type cosign uses).
        match self.public_cached() {
            Ok((pem, _)) => {
                self.log
                    .info(&format!("{alias} already exists in AWS KMS; using it"));
                return Ok(pem);
            }
            Err(CallError::Api { code, .. }) if code == "NotFoundException" => {}
            Err(e) => return Err(self.describe("GetPublicKey", e)),
        }
        let created = self
            .call(
                "CreateKey",
                &json!({
                    "KeySpec": KEY_SPEC,
                    "KeyUsage": KEY_USAGE,
                    "Description": "Created by sigmirror",
                }),
            )
            .map_err(|e| self.describe("CreateKey", e))?;
        let key_id = created
            .pointer("/KeyMetadata/KeyId")
            .and_then(Value::as_str)
            .ok_or("CreateKey answered without KeyMetadata.KeyId")?;
        self.call(
            "CreateAlias",
            &json!({ "AliasName": alias, "TargetKeyId": key_id }),
        )
        .map_err(|e| self.describe("CreateAlias", e))?;
        self.log
            .info(&format!("created AWS KMS key {key_id} as {alias}"));
        self.public_key_pem()
    }

    fn public_key_pem(&self) -> Result<String, String> {
        self.public_cached()
            .map(|(pem, _)| pem)
            .map_err(|e| self.describe("GetPublicKey", e))
    }

    fn algorithm(&self) -> Result<String, String> {
        self.public_cached()
            .map(|(_, signing)| signing.algorithm.to_owned())
            .map_err(|e| self.describe("GetPublicKey", e))
    }

    fn sign(&self, hash: Option<&str>, digest: &[u8]) -> Result<Vec<u8>, String> {
        // The key-type check first: an unsupported key must fail with a clear message, not a
        // KMS error.
        let (_, signing) = self
            .public_cached()
            .map_err(|e| self.describe("GetPublicKey", e))?;
        crate::require_hash(&self.key_ref, hash, signing.algorithm)?;
        let answer = self
            .call(
                "Sign",
                &json!({
                    "KeyId": self.parsed.key_id,
                    "Message": b64::encode(digest),
                    "MessageType": "DIGEST",
                    "SigningAlgorithm": signing.kms_algorithm,
                }),
            )
            .map_err(|e| self.describe("Sign", e))?;
        let signature = answer
            .get("Signature")
            .and_then(Value::as_str)
            .ok_or("Sign answered without Signature")?;
        b64::decode_lenient(signature.as_bytes())
            .map_err(|e| format!("Signature is not base64: {e}"))
    }
}
