//! The `kms` signer plugin: keys that never leave a key-management service.
//!
//! - `awskms://[ENDPOINT]/KEY` (key id, `alias/NAME`, key or alias ARN): AWS KMS, spoken as its
//!   JSON API with an in-tree SigV4 signer (module `aws`).
//! - `hashivault://NAME`, `openbao://NAME`: the transit engine of Vault or OpenBao (module `vault`).
//! - `gcpkms://`, `azurekms://`: recognised so the user gets a clear "not supported in this
//!   build" instead of "no plugin serves …"; there is no API server to test them against here.
//!
//! Each instance owns a blocking HTTP client; nothing async crosses the ABI. The plugin never
//! sets `FLAG_NEEDS_PASSWORD`: credentials come from the environment, as the vendors' tools
//! read them.

mod aws;
mod http;
mod vault;

use sigmirror_cosign::b64;
use sigmirror_plugin_abi::export::{Logger, SignerPlugin};
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, AlgorithmResult, AlgorithmsResult, CreateKeyParams,
    InstanceConfig, Method, PublicKeyResult, SignResult, to_value,
};

/// What every KMS backend does for one key.
trait Backend: Send + Sync {
    /// Creates the key (or finds it, if it already exists as a P-256 signing key); returns its
    /// public half as PKIX PEM.
    fn create_key(&self) -> Result<String, String>;
    /// The public half as PKIX PEM, after checking the key is an ECDSA P-256 signing key.
    fn public_key_pem(&self) -> Result<String, String>;
    /// Signs a SHA-256 digest; returns the ASN.1 DER signature.
    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, String>;
}

/// One opened key reference.
struct Kms {
    backend: Box<dyn Backend>,
}

fn check_algorithm(params: &CreateKeyParams) -> Result<(), String> {
    if params.algorithm == ALGORITHM_ECDSA_P256_SHA256 {
        Ok(())
    } else {
        Err(format!(
            "unsupported algorithm {:?}: only {ALGORITHM_ECDSA_P256_SHA256} keys are made",
            params.algorithm
        ))
    }
}

impl SignerPlugin for Kms {
    fn new(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let key_ref = config.key_ref.as_str();
        let scheme = key_ref
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        let backend: Box<dyn Backend> = match scheme.as_str() {
            "awskms" => Box::new(aws::AwsKey::open(key_ref, log)?),
            "hashivault" | "openbao" => Box::new(vault::TransitKey::open(key_ref, &scheme, log)?),
            "gcpkms" | "azurekms" => {
                return Err(format!(
                    "{scheme}:// keys are not supported in this build (supported: awskms://, \
                     hashivault://, openbao://)"
                ));
            }
            _ => {
                return Err(format!(
                    "{key_ref:?} is not a key reference of the kms plugin"
                ));
            }
        };
        Ok(Kms { backend })
    }

    fn handle(&self, method: Method) -> Result<serde_json::Value, String> {
        match method {
            Method::DefaultAlgorithm => to_value(AlgorithmResult {
                algorithm: ALGORITHM_ECDSA_P256_SHA256.into(),
            }),
            Method::SupportedAlgorithms => to_value(AlgorithmsResult {
                algorithms: vec![ALGORITHM_ECDSA_P256_SHA256.into()],
            }),
            Method::CreateKey(params) => {
                check_algorithm(&params)?;
                to_value(PublicKeyResult {
                    public_key_pem: self.backend.create_key()?,
                })
            }
            Method::PublicKey => to_value(PublicKeyResult {
                public_key_pem: self.backend.public_key_pem()?,
            }),
            Method::SignMessage(params) => {
                let digest = params.sha256_digest()?;
                let signature = self.backend.sign_digest(&digest)?;
                to_value(SignResult {
                    signature: b64::encode(&signature),
                })
            }
        }
    }
}

sigmirror_plugin_abi::export_signer! {
    plugin: Kms,
    name: "kms",
    schemes: "awskms,hashivault,openbao,gcpkms,azurekms",
    flags: 0,
}
