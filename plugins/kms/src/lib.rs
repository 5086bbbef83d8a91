//! The `kms` signer plugin: keys that never leave a key-management service.
//!
//! - `awskms://[ENDPOINT]/KEY` (key id, `alias/NAME`, key or alias ARN): AWS KMS, spoken as its
//!   JSON API with an in-tree SigV4 signer (module `aws`).
//! - `hashivault://NAME`, `openbao://NAME`: the transit engine of Vault or OpenBao (module `vault`).
//! - `gcpkms://projects/…/cryptoKeys/K`: Google Cloud KMS, its v1 REST API with a service
//!   account's JWT-bearer tokens (module `gcp`), tested against a stand-in of the public API.
//! - `azurekms://VAULT_HOST/KEY`: Azure Key Vault, its REST API with client-credential tokens
//!   (module `azure`), tested against a stand-in of the public API.
//!
//! Each instance owns a blocking HTTP client; nothing async crosses the ABI. The plugin never
//! sets `FLAG_NEEDS_PASSWORD`: credentials come from the environment, as the vendors' tools
//! read them.

mod aws;
mod azure;
mod gcp;
mod http;
mod vault;

use sigmirror_plugin_abi::export::Logger;
use sigmirror_plugin_abi::p256_key::P256Key;
use sigmirror_plugin_abi::wire::InstanceConfig;

/// What every KMS backend does for one key.
trait Backend: Send + Sync {
    /// Creates the key (or finds it, if it already exists as a signing key); returns its
    /// public half as PKIX PEM. New keys are ECDSA P-256, as cosign creates them.
    fn create_key(&self) -> Result<String, String>;
    /// The public half as PKIX PEM, after checking the key is a signing key of a type cosign
    /// uses.
    fn public_key_pem(&self) -> Result<String, String>;
    /// The key's signing algorithm (`wire::ALGORITHM_*`), from its type in the service.
    fn algorithm(&self) -> Result<String, String>;
    /// Signs a digest made with `hash` (`sha256`, `sha384`, `sha512`), or with `hash` `None`
    /// the message itself (Ed25519); returns the signature (DER for ECDSA).
    fn sign(&self, hash: Option<&str>, input: &[u8]) -> Result<Vec<u8>, String>;
}

/// The hash of the digest a key of `algorithm` signs (`sha256`, …), if `hash` is it; else why
/// not: the host sent another digest, or the message (`hash` `None`).
fn require_hash(
    key_ref: &str,
    hash: Option<&str>,
    algorithm: &str,
) -> Result<&'static str, String> {
    let expected = sigmirror_plugin_abi::wire::hash_of_algorithm(algorithm)?
        .ok_or_else(|| format!("{key_ref} signs messages (algorithm {algorithm})"))?;
    if hash == Some(expected) {
        return Ok(expected);
    }
    Err(format!(
        "{key_ref} signs {expected} digests (algorithm {algorithm}), not {}",
        hash.unwrap_or("messages")
    ))
}

/// One opened key reference.
struct Kms {
    backend: Box<dyn Backend>,
}

impl P256Key for Kms {
    fn open(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let key_ref = config.key_ref.as_str();
        let scheme = key_ref
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        let backend: Box<dyn Backend> = match scheme.as_str() {
            "awskms" => Box::new(aws::AwsKey::open(key_ref, log)?),
            "hashivault" | "openbao" => Box::new(vault::TransitKey::open(key_ref, &scheme, log)?),
            "gcpkms" => Box::new(gcp::CloudKey::open(key_ref, log)?),
            "azurekms" => Box::new(azure::VaultKey::open(key_ref, log)?),
            _ => {
                return Err(format!(
                    "{key_ref:?} is not a key reference of the kms plugin"
                ));
            }
        };
        Ok(Kms { backend })
    }

    fn public_key_pem(&self) -> Result<String, String> {
        self.backend.public_key_pem()
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
        self.backend.sign(Some("sha256"), digest)
    }

    fn sign_prehash(&self, hash: &str, digest: &[u8]) -> Result<Vec<u8>, String> {
        self.backend.sign(Some(hash), digest)
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.backend.sign(None, message)
    }

    fn algorithm(&self) -> Result<String, String> {
        self.backend.algorithm()
    }

    fn create_key(&self) -> Result<String, String> {
        self.backend.create_key()
    }
}

sigmirror_plugin_abi::export_signer! {
    plugin: Kms,
    name: "kms",
    schemes: "awskms,hashivault,openbao,gcpkms,azurekms",
    flags: 0,
}
