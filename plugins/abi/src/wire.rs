//! The JSON messages carried by the ABI. Method and field names follow sigstore's KMS
//! "cliplugin" protocol, so the same backend logic could later run as an out-of-process
//! `sigstore-kms-<name>` program.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Version of the JSON protocol inside ABI v1.
pub const PROTOCOL_VERSION: u32 = 1;

/// ECDSA on P-256 over a SHA-256 digest: what every plugin of the first protocol signs with,
/// and what `defaultAlgorithm` answers for a plugin that says nothing else.
pub const ALGORITHM_ECDSA_P256_SHA256: &str = "ecdsa-sha2-256-nistp256";
/// ECDSA on P-384 over a SHA-384 digest (AWS KMS signs P-384 keys no other way).
pub const ALGORITHM_ECDSA_P384_SHA384: &str = "ecdsa-sha2-384-nistp384";
/// ECDSA on P-384 over a SHA-256 digest (as cosign signs a P-384 key it holds).
pub const ALGORITHM_ECDSA_P384_SHA256: &str = "ecdsa-sha2-256-nistp384";
/// ECDSA on P-521 over a SHA-512 digest.
pub const ALGORITHM_ECDSA_P521_SHA512: &str = "ecdsa-sha2-512-nistp521";
/// ECDSA on P-521 over a SHA-256 digest.
pub const ALGORITHM_ECDSA_P521_SHA256: &str = "ecdsa-sha2-256-nistp521";
/// RSA PKCS#1 v1.5 over a SHA-256 digest, any size cosign accepts (2048 to 4096 bits).
pub const ALGORITHM_RSA_PKCS1_SHA256: &str = "rsa-sign-pkcs1-sha256";
/// RSASSA-PSS (MGF1, salt as long as the digest) over a SHA-256 digest: keys that sign no
/// other way (Cloud KMS's `RSA_SIGN_PSS_*`).
pub const ALGORITHM_RSA_PSS_SHA256: &str = "rsa-sign-pss-sha256";
/// Ed25519 over the message itself.
pub const ALGORITHM_ED25519: &str = "ed25519";

/// The hash the host must digest a message with for `algorithm` (`sha256`, `sha384`,
/// `sha512`), or `None` when the plugin signs the message itself (Ed25519). Algorithms are
/// named `<signature>-sha2-<bits>-<curve>` or `…-sha<bits>`, as sigstore's registry names them.
pub fn hash_of_algorithm(algorithm: &str) -> Result<Option<&'static str>, String> {
    Ok(match algorithm {
        ALGORITHM_ED25519 => None,
        ALGORITHM_ECDSA_P256_SHA256
        | ALGORITHM_ECDSA_P384_SHA256
        | ALGORITHM_ECDSA_P521_SHA256
        | ALGORITHM_RSA_PKCS1_SHA256
        | ALGORITHM_RSA_PSS_SHA256 => Some("sha256"),
        ALGORITHM_ECDSA_P384_SHA384 => Some("sha384"),
        ALGORITHM_ECDSA_P521_SHA512 => Some("sha512"),
        other => return Err(format!("unknown signing algorithm {other:?}")),
    })
}

/// The algorithm of a cosign key file's key, named as `sigmirror_cosign`'s
/// `PublicKey::algorithm` names it (`ECDSA P-384`, `RSA`, `Ed25519`…): cosign signs such keys
/// over SHA-256 whatever the curve, Ed25519 over the message.
pub fn key_file_algorithm(key_algorithm: &str) -> Result<&'static str, String> {
    Ok(match key_algorithm {
        "ECDSA P-256" => ALGORITHM_ECDSA_P256_SHA256,
        "ECDSA P-384" => ALGORITHM_ECDSA_P384_SHA256,
        "ECDSA P-521" => ALGORITHM_ECDSA_P521_SHA256,
        "RSA" => ALGORITHM_RSA_PKCS1_SHA256,
        "Ed25519" => ALGORITHM_ED25519,
        other => return Err(format!("no signing algorithm for a {other} key")),
    })
}

/// Configuration for one instance (one key reference), passed to `new_instance`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceConfig {
    /// [`PROTOCOL_VERSION`] of the host.
    pub protocol_version: u32,
    /// The key reference exactly as the user gave it, e.g. `awskms:///alias/release`.
    pub key_ref: String,
    /// The key password, standard base64 of its exact bytes, only for plugins that set
    /// `FLAG_NEEDS_PASSWORD`. Base64 because a password read from stdin need not be UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for InstanceConfig {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceConfig")
            .field("protocol_version", &self.protocol_version)
            .field("key_ref", &self.key_ref)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl InstanceConfig {
    /// A configuration for `key_ref`, with the password bytes if given.
    pub fn new(key_ref: &str, password: Option<&[u8]>) -> Self {
        InstanceConfig {
            protocol_version: PROTOCOL_VERSION,
            key_ref: key_ref.to_owned(),
            password: password.map(|p| Zeroizing::new(B64.encode(p))),
        }
    }

    /// The password bytes, if the host sent one.
    pub fn password_bytes(&self) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        match &self.password {
            None => Ok(None),
            Some(p) => B64
                .decode(p.as_bytes())
                .map(|v| Some(Zeroizing::new(v)))
                .map_err(|e| format!("password is not valid base64: {e}")),
        }
    }
}

/// One call into an instance.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// [`PROTOCOL_VERSION`] of the host.
    pub protocol_version: u32,
    /// The method and its parameters.
    #[serde(flatten)]
    pub method: Method,
}

impl Request {
    /// A request for `method` at the current protocol version.
    pub fn new(method: Method) -> Self {
        Request {
            protocol_version: PROTOCOL_VERSION,
            method,
        }
    }
}

/// The methods of protocol version 1.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "camelCase")]
pub enum Method {
    /// The algorithm used when none is asked for. Result: [`AlgorithmResult`].
    DefaultAlgorithm,
    /// Every algorithm the backend can sign with. Result: [`AlgorithmsResult`].
    SupportedAlgorithms,
    /// Creates the key named by the key reference. Result: [`PublicKeyResult`].
    CreateKey(CreateKeyParams),
    /// The public half of the key. Result: [`PublicKeyResult`].
    PublicKey,
    /// Signs a message digest. Result: [`SignResult`].
    SignMessage(SignParams),
}

impl Method {
    /// The wire name of the method, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Method::DefaultAlgorithm => "defaultAlgorithm",
            Method::SupportedAlgorithms => "supportedAlgorithms",
            Method::CreateKey(_) => "createKey",
            Method::PublicKey => "publicKey",
            Method::SignMessage(_) => "signMessage",
        }
    }
}

/// Parameters of `createKey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyParams {
    /// Algorithm of the new key; v1 knows only [`ALGORITHM_ECDSA_P256_SHA256`].
    pub algorithm: String,
}

/// Parameters of `signMessage`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignParams {
    /// Standard base64 of the message digest (32 bytes for SHA-256).
    pub digest: String,
    /// Hash that produced the digest: `sha256` in v1.
    pub hash_algorithm: String,
    /// Standard base64 of the message itself, sent only to a key whose signatures are over the
    /// message (Ed25519); `digest` is then its SHA-256. Added within protocol 1: a plugin that
    /// does not know the field never holds such a key, and never receives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl SignParams {
    /// The digest to sign, checked: the hash must be `sha256` and the base64 must decode to
    /// exactly 32 bytes.
    pub fn sha256_digest(&self) -> Result<[u8; 32], String> {
        match self.prehash()? {
            ("sha256", digest) => Ok(digest.try_into().expect("checked to be 32 bytes")),
            (other, _) => Err(format!("unsupported hash algorithm {other:?}")),
        }
    }

    /// The digest to sign with its hash (`sha256`, `sha384` or `sha512`), checked: the base64
    /// must decode to exactly the hash's length.
    pub fn prehash(&self) -> Result<(&str, Vec<u8>), String> {
        let (expected, name) = match self.hash_algorithm.as_str() {
            "sha256" => (32, "SHA-256"),
            "sha384" => (48, "SHA-384"),
            "sha512" => (64, "SHA-512"),
            other => return Err(format!("unsupported hash algorithm {other:?}")),
        };
        let text: Vec<u8> = self
            .digest
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let bytes = B64
            .decode(text)
            .map_err(|e| format!("digest is not base64: {e}"))?;
        if bytes.len() != expected {
            return Err(format!(
                "a {name} digest is {expected} bytes, got {}",
                bytes.len()
            ));
        }
        Ok((&self.hash_algorithm, bytes))
    }

    /// The message, when the host sent it (keys that sign messages), decoded.
    pub fn message_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        self.message
            .as_deref()
            .map(|m| {
                B64.decode(m.trim())
                    .map_err(|e| format!("message is not base64: {e}"))
            })
            .transpose()
    }
}

/// A method's result as the JSON value a plugin's `handle` returns.
pub fn to_value<T: Serialize>(result: T) -> Result<serde_json::Value, String> {
    serde_json::to_value(result).map_err(|e| e.to_string())
}

/// Result of `defaultAlgorithm`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlgorithmResult {
    /// The algorithm name.
    pub algorithm: String,
}

/// Result of `supportedAlgorithms`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlgorithmsResult {
    /// The algorithm names.
    pub algorithms: Vec<String>,
}

/// Result of `createKey` and `publicKey`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyResult {
    /// The public key as PKIX PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_pem: String,
}

/// Result of `signMessage`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignResult {
    /// Standard base64 of the ASN.1 DER ECDSA signature.
    pub signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_json_shape_is_stable() {
        let req = Request::new(Method::SignMessage(SignParams {
            digest: "AA==".into(),
            hash_algorithm: "sha256".into(),
            message: None,
        }));
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            json,
            r#"{"protocolVersion":1,"method":"signMessage","params":{"digest":"AA==","hashAlgorithm":"sha256"}}"#
        );
        let unit = serde_json::to_string(&Request::new(Method::PublicKey)).unwrap();
        assert_eq!(unit, r#"{"protocolVersion":1,"method":"publicKey"}"#);
        let back: Request = serde_json::from_str(&unit).unwrap();
        assert!(matches!(back.method, Method::PublicKey));
    }

    #[test]
    fn password_round_trips_exact_bytes_and_is_not_printed() {
        let cfg = InstanceConfig::new("k", Some(b"pw\n\xff"));
        assert_eq!(
            cfg.password_bytes().unwrap().unwrap().as_slice(),
            b"pw\n\xff"
        );
        assert!(!format!("{cfg:?}").contains(cfg.password.as_ref().unwrap().as_str()));
    }

    #[test]
    fn sign_params_give_exactly_a_sha256_digest() {
        let params = |digest: &str, hash: &str| SignParams {
            digest: digest.into(),
            hash_algorithm: hash.into(),
            message: None,
        };
        let digest = [7u8; 32];
        let encoded = B64.encode(digest);
        assert_eq!(params(&encoded, "sha256").sha256_digest().unwrap(), digest);
        let long = B64.encode([7u8; 64]);
        let err = params(&long, "sha512").sha256_digest().unwrap_err();
        assert!(err.contains("unsupported hash algorithm"), "{err}");
        let err = params(&encoded, "md5").prehash().unwrap_err();
        assert!(err.contains("unsupported hash algorithm"), "{err}");
        // Other hashes, each of its own length.
        let sha384 = params(&B64.encode([1u8; 48]), "sha384");
        let (hash, bytes) = sha384.prehash().unwrap();
        assert_eq!((hash, bytes.len()), ("sha384", 48));
        let err = params(&encoded, "sha384").prehash().unwrap_err();
        assert!(err.contains("SHA-384 digest is 48 bytes, got 32"), "{err}");
        assert_eq!(hash_of_algorithm(ALGORITHM_ED25519).unwrap(), None);
        assert_eq!(
            hash_of_algorithm(ALGORITHM_ECDSA_P384_SHA384).unwrap(),
            Some("sha384")
        );
        assert!(hash_of_algorithm("dsa-sha1").is_err());
        let err = params("not base64!", "sha256").sha256_digest().unwrap_err();
        assert!(err.contains("not base64"), "{err}");
        let short = B64.encode([7u8; 31]);
        let err = params(&short, "sha256").sha256_digest().unwrap_err();
        assert!(err.contains("32 bytes, got 31"), "{err}");
    }
}
