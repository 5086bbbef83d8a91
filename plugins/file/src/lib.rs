//! The `file` signer plugin: cosign's encrypted private key files as a signer backend.
//!
//! Key references: a path, `file://PATH`, or `env://VAR` (the encrypted PEM in a variable, as
//! cosign accepts). The host passes the password (it sets `FLAG_NEEDS_PASSWORD`); the key is
//! decrypted once per instance and its scalar is zeroized when the instance is dropped.

use sigmirror_cosign::keyref::{KeyRef, read_key_material};
use sigmirror_cosign::keys::{PrivateKey, Sha256Digest};
use sigmirror_plugin_abi::export::Logger;
use sigmirror_plugin_abi::ffi::FLAG_NEEDS_PASSWORD;
use sigmirror_plugin_abi::p256_key::P256Key;
use sigmirror_plugin_abi::wire::{InstanceConfig, key_file_algorithm};

/// One opened key file.
struct FileKey {
    key: PrivateKey,
}

impl P256Key for FileKey {
    fn open(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let key_ref = KeyRef::parse(&config.key_ref).map_err(|e| e.to_string())?;
        let pem = read_key_material(&key_ref).map_err(|e| e.to_string())?;
        let password = config.password_bytes()?.unwrap_or_default();
        log.debug(&format!("decrypting {key_ref}"));
        let key = PrivateKey::from_encrypted_pem(&pem, &password)
            .map_err(|e| format!("{key_ref}: {e}"))?;
        Ok(FileKey { key })
    }

    fn public_key_pem(&self) -> Result<String, String> {
        Ok(self.key.public_key().to_pem())
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
        self.key
            .sign_digest(&Sha256Digest::from_bytes(*digest))
            .map_err(|e| e.to_string())
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.key.sign_message(message).map_err(|e| e.to_string())
    }

    fn algorithm(&self) -> Result<String, String> {
        key_file_algorithm(self.key.public_key().algorithm()).map(str::to_owned)
    }

    fn create_key(&self) -> Result<String, String> {
        Err(
            "key files are created by `sigmirror generate-key-pair` (without --kms), not \
             through the file plugin"
                .into(),
        )
    }
}

sigmirror_plugin_abi::export_signer! {
    plugin: FileKey,
    name: "file",
    schemes: "file,env",
    flags: FLAG_NEEDS_PASSWORD,
}
