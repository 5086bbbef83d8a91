//! What every signer backend is: a P-256 key that can sign a SHA-256 digest. A backend
//! implements [`P256Key`] and gets the whole request dispatch of [`SignerPlugin`] from the
//! blanket implementation here: the algorithm questions, the checks of `createKey` and
//! `signMessage` parameters, and the encoding of results.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::export::{Logger, SignerPlugin};
use crate::wire::{
    ALGORITHM_ECDSA_P256_SHA256, AlgorithmResult, AlgorithmsResult, InstanceConfig, Method,
    PublicKeyResult, SignResult, to_value,
};

/// An ECDSA P-256 key held by a backend (a file, a KMS, a token, a secret).
pub trait P256Key: Send + Sync + Sized + 'static {
    /// Opens the key reference in `config`. Errors are shown to the user as they are.
    fn open(config: InstanceConfig, log: Logger) -> Result<Self, String>;

    /// The public key, as a PEM `PUBLIC KEY` block.
    fn public_key_pem(&self) -> Result<String, String>;

    /// Signs a SHA-256 digest; returns the ASN.1 DER signature.
    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, String>;

    /// Signs a message the host sent whole: only for keys whose signatures are over the message
    /// itself (Ed25519, held in a cosign key file). Backends of digest-signing keys keep this
    /// default, which says so.
    fn sign_message(&self, _message: &[u8]) -> Result<Vec<u8>, String> {
        Err("this backend signs digests only".into())
    }

    /// The key's signing algorithm (`wire::ALGORITHM_*`): it tells the host which digest to
    /// send, or to send the message. Default: ECDSA P-256 over SHA-256.
    fn algorithm(&self) -> Result<String, String> {
        Ok(ALGORITHM_ECDSA_P256_SHA256.into())
    }

    /// Signs a digest made with `hash` (`sha256`, `sha384`, `sha512`, as [`Self::algorithm`]
    /// asked for). Default: SHA-256 digests go to [`Self::sign_digest`], others are refused.
    fn sign_prehash(&self, hash: &str, digest: &[u8]) -> Result<Vec<u8>, String> {
        match (hash, <[u8; 32]>::try_from(digest)) {
            ("sha256", Ok(digest)) => self.sign_digest(&digest),
            _ => Err(format!(
                "this backend signs SHA-256 digests only, not {hash}"
            )),
        }
    }

    /// Creates the key the reference names (`generate-key-pair --kms`); returns its public key
    /// PEM. Backends that cannot create keys keep this default, which says so.
    fn create_key(&self) -> Result<String, String> {
        Err("this backend cannot create keys".into())
    }
}

impl<K: P256Key> SignerPlugin for K {
    fn new(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        K::open(config, log)
    }

    fn handle(&self, method: Method) -> Result<serde_json::Value, String> {
        match method {
            Method::DefaultAlgorithm => to_value(AlgorithmResult {
                algorithm: self.algorithm()?,
            }),
            Method::SupportedAlgorithms => to_value(AlgorithmsResult {
                algorithms: vec![self.algorithm()?],
            }),
            Method::CreateKey(params) => {
                if params.algorithm != ALGORITHM_ECDSA_P256_SHA256 {
                    return Err(format!(
                        "unsupported algorithm {:?} (only {ALGORITHM_ECDSA_P256_SHA256})",
                        params.algorithm
                    ));
                }
                to_value(PublicKeyResult {
                    public_key_pem: self.create_key()?,
                })
            }
            Method::PublicKey => to_value(PublicKeyResult {
                public_key_pem: self.public_key_pem()?,
            }),
            Method::SignMessage(params) => {
                let signature = match params.message_bytes()? {
                    Some(message) => self.sign_message(&message)?,
                    None => {
                        let (hash, digest) = params.prehash()?;
                        self.sign_prehash(hash, &digest)?
                    }
                };
                to_value(SignResult {
                    signature: B64.encode(signature),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{CreateKeyParams, SignParams};

    struct Fixed;
    impl P256Key for Fixed {
        fn open(_: InstanceConfig, _: Logger) -> Result<Self, String> {
            Ok(Fixed)
        }
        fn public_key_pem(&self) -> Result<String, String> {
            Ok("PEM".into())
        }
        fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
            Ok(digest[..2].to_vec())
        }
    }

    #[test]
    fn one_dispatch_for_every_backend() {
        let key = Fixed;
        let sign = |hash: &str, digest: &str| {
            key.handle(Method::SignMessage(SignParams {
                digest: digest.into(),
                hash_algorithm: hash.into(),
                message: None,
            }))
        };
        let ok = sign("sha256", &B64.encode([7u8; 32])).unwrap();
        assert_eq!(ok["signature"], B64.encode([7u8, 7]));
        assert!(sign("sha512", &B64.encode([7u8; 32])).is_err());
        assert!(sign("sha256", &B64.encode([7u8; 31])).is_err());
        assert_eq!(
            key.handle(Method::PublicKey).unwrap()["publicKeyPem"],
            "PEM"
        );
        let create = |algorithm: &str| {
            key.handle(Method::CreateKey(CreateKeyParams {
                algorithm: algorithm.into(),
            }))
        };
        assert!(
            create("rsa-sign-pkcs1-2048-sha256")
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(
            create(ALGORITHM_ECDSA_P256_SHA256)
                .unwrap_err()
                .contains("cannot create")
        );
        assert_eq!(
            key.handle(Method::DefaultAlgorithm).unwrap()["algorithm"],
            ALGORITHM_ECDSA_P256_SHA256
        );
    }
}
