//! The `file` signer plugin: cosign's encrypted private key files as a signer backend.
//!
//! Key references: a path, `file://PATH`, or `env://VAR` (the encrypted PEM in a variable, as
//! cosign accepts). The host passes the password (it sets `FLAG_NEEDS_PASSWORD`); the key is
//! decrypted once per instance and its scalar is zeroized when the instance is dropped.

use sigmirror_cosign::b64;
use sigmirror_cosign::keyref::{KeyRef, read_key_material};
use sigmirror_cosign::keys::PrivateKey;
use sigmirror_cosign::keys::Sha256Digest;
use sigmirror_plugin_abi::export::{Logger, SignerPlugin};
use sigmirror_plugin_abi::ffi::FLAG_NEEDS_PASSWORD;
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, AlgorithmResult, AlgorithmsResult, InstanceConfig, Method,
    PublicKeyResult, SignParams, SignResult, to_value,
};

/// One opened key file.
struct FileKey {
    key: PrivateKey,
}

impl FileKey {
    fn sign(&self, params: SignParams) -> Result<serde_json::Value, String> {
        let digest = params.sha256_digest()?;
        let signature = self
            .key
            .sign_digest(&Sha256Digest::from_bytes(digest))
            .map_err(|e| e.to_string())?;
        to_value(SignResult {
            signature: b64::encode(&signature),
        })
    }
}

impl SignerPlugin for FileKey {
    fn new(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let key_ref = KeyRef::parse(&config.key_ref).map_err(|e| e.to_string())?;
        let pem = read_key_material(&key_ref).map_err(|e| e.to_string())?;
        let password = config.password_bytes()?.unwrap_or_default();
        log.debug(&format!("decrypting {key_ref}"));
        let key = PrivateKey::from_encrypted_pem(&pem, &password)
            .map_err(|e| format!("{key_ref}: {e}"))?;
        Ok(FileKey { key })
    }

    fn handle(&self, method: Method) -> Result<serde_json::Value, String> {
        match method {
            Method::DefaultAlgorithm => to_value(AlgorithmResult {
                algorithm: ALGORITHM_ECDSA_P256_SHA256.into(),
            }),
            Method::SupportedAlgorithms => to_value(AlgorithmsResult {
                algorithms: vec![ALGORITHM_ECDSA_P256_SHA256.into()],
            }),
            Method::PublicKey => to_value(PublicKeyResult {
                public_key_pem: self.key.public_key().to_pem(),
            }),
            Method::SignMessage(params) => self.sign(params),
            Method::CreateKey(_) => Err("key files are created by `sigmirror generate-key-pair` \
                                         (without --kms), not through the file plugin"
                .into()),
        }
    }
}

sigmirror_plugin_abi::export_signer! {
    plugin: FileKey,
    name: "file",
    schemes: "file,env",
    flags: FLAG_NEEDS_PASSWORD,
}
