//! Signing through plugins: a [`PluginSigner`] is a key held by a signer plugin, and
//! [`open_signer`] / [`load_public_key`] turn a `--key` reference into one, so the file backend
//! is loaded like any other.

use sigmirror_cosign::b64;
use sigmirror_cosign::keyref::{KeyRef, read_key_material};
use sigmirror_cosign::keys::PublicKey;
use sigmirror_cosign::signer::{HashAlgorithm, Prehash, Signer};
use sigmirror_oci::digest::Sha256Digest;
use sigmirror_plugin_abi::host::{Instance, Plugin};
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, AlgorithmResult, CreateKeyParams, InstanceConfig, Method,
    PublicKeyResult, Request, SignParams, SignResult, hash_of_algorithm,
};
use zeroize::Zeroizing;

use crate::discovery::Discovery;
use crate::error::{Error, Result};

/// A key held by a signer plugin.
pub struct PluginSigner {
    instance: Instance,
    /// The public key, asked for once: de-duplication and bundles need it, and each ask may be
    /// a network round trip (KMS).
    public: std::sync::OnceLock<PublicKey>,
    /// The key's signing algorithm (`defaultAlgorithm`), asked for once: it says which digest to
    /// send, or the message.
    algorithm: std::sync::OnceLock<String>,
}

/// Where a key's password comes from, asked only if its plugin needs one.
pub type PasswordSource<'a> = &'a mut dyn FnMut() -> std::result::Result<
    Zeroizing<Vec<u8>>,
    Box<dyn std::error::Error + Send + Sync>,
>;

/// Opens a signer for `key` with the plugin that serves its scheme, asking `password` only if
/// that plugin needs one.
pub fn open_signer(
    discovery: &Discovery,
    key: &KeyRef,
    password: PasswordSource<'_>,
) -> Result<PluginSigner> {
    let plugin = discovery.for_key(key)?;
    let password = if plugin.needs_password() {
        Some(password().map_err(|source| Error::Password {
            key: key.to_string(),
            source,
        })?)
    } else {
        None
    };
    PluginSigner::open(plugin, key, password.as_deref().map(Vec::as_slice))
}

/// The public key for verification: a PEM file or `env://` variable is read directly (no
/// plugin, no password); any other reference asks its plugin for the public half.
pub fn load_public_key(
    discovery: impl FnOnce() -> Discovery,
    key: &KeyRef,
    password: PasswordSource<'_>,
) -> Result<PublicKey> {
    match key.scheme() {
        "file" | "env" => {
            let pem = read_key_material(key)?;
            Ok(PublicKey::from_pem(&pem)?)
        }
        _ => Ok(open_signer(&discovery(), key, password)?.public_key()?),
    }
}

impl PluginSigner {
    /// Opens `key` with `plugin`. `password` is passed only to plugins that ask for one.
    pub fn open(plugin: &Plugin, key: &KeyRef, password: Option<&[u8]>) -> Result<Self> {
        let password = if plugin.needs_password() {
            password
        } else {
            None
        };
        let config = InstanceConfig::new(key.as_str(), password);
        Ok(PluginSigner {
            instance: plugin.instance(&config)?,
            public: std::sync::OnceLock::new(),
            algorithm: std::sync::OnceLock::new(),
        })
    }

    /// Creates the key the reference names (`generate-key-pair --kms`); returns its public half.
    pub fn create_key(&self) -> Result<PublicKey> {
        let method = Method::CreateKey(CreateKeyParams {
            algorithm: ALGORITHM_ECDSA_P256_SHA256.into(),
        });
        let result: PublicKeyResult = self.instance.call_json(&Request::new(method))?;
        self.parse_public(&result)
    }

    /// The public half of the key (asked of the plugin once per instance).
    pub fn public_key(&self) -> Result<PublicKey> {
        if let Some(public) = self.public.get() {
            return Ok(public.clone());
        }
        let result: PublicKeyResult = self.instance.call_json(&Request::new(Method::PublicKey))?;
        let public = self.parse_public(&result)?;
        Ok(self.public.get_or_init(|| public).clone())
    }

    /// Signs a SHA-256 digest; returns the DER signature.
    pub fn sign(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        self.sign_hashed("sha256", digest.as_bytes())
    }

    /// Calls `signMessage` and decodes the signature.
    fn signature_of(&self, method: Method) -> Result<Vec<u8>> {
        let result: SignResult = self.instance.call_json(&Request::new(method))?;
        b64::decode_lenient(result.signature.as_bytes()).map_err(|e| Error::BadAnswer {
            plugin: self.instance.plugin().name().to_owned(),
            source: sigmirror_cosign::Error::MalformedSignature {
                reason: e.to_string(),
            },
        })
    }

    /// The key's signing algorithm, as the plugin names it (asked once per instance).
    pub fn algorithm(&self) -> Result<String> {
        if let Some(algorithm) = self.algorithm.get() {
            return Ok(algorithm.clone());
        }
        let result: AlgorithmResult = self
            .instance
            .call_json(&Request::new(Method::DefaultAlgorithm))?;
        Ok(self.algorithm.get_or_init(|| result.algorithm).clone())
    }

    /// Asks the plugin to sign a digest made with `hash` (`sha256`, `sha384`, `sha512`).
    pub fn sign_hashed(&self, hash: &str, digest: &[u8]) -> Result<Vec<u8>> {
        let method = Method::SignMessage(SignParams {
            digest: b64::encode(digest),
            hash_algorithm: hash.into(),
            message: None,
        });
        self.signature_of(method)
    }

    /// Asks the plugin to sign `message` itself (keys whose signatures are over the message).
    pub fn sign_whole(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.signature_of(Method::SignMessage(SignParams {
            digest: b64::encode(Sha256Digest::of(message).as_bytes()),
            hash_algorithm: "sha256".into(),
            message: Some(b64::encode(message)),
        }))
    }

    fn parse_public(&self, result: &PublicKeyResult) -> Result<PublicKey> {
        PublicKey::from_pem(result.public_key_pem.as_bytes()).map_err(|source| Error::BadAnswer {
            plugin: self.instance.plugin().name().to_owned(),
            source,
        })
    }
}

fn signer_error(e: Error) -> sigmirror_cosign::Error {
    sigmirror_cosign::Error::Signer(Box::new(e))
}

impl Signer for PluginSigner {
    fn public_key(&self) -> sigmirror_cosign::Result<PublicKey> {
        PluginSigner::public_key(self).map_err(signer_error)
    }

    fn sign_digest(&self, digest: &Sha256Digest) -> sigmirror_cosign::Result<Vec<u8>> {
        self.sign(digest).map_err(signer_error)
    }

    fn prehash(&self) -> sigmirror_cosign::Result<Prehash> {
        let algorithm = self.algorithm().map_err(signer_error)?;
        let hash = hash_of_algorithm(&algorithm).map_err(|reason| {
            signer_error(Error::BadAnswer {
                plugin: self.instance.plugin().name().to_owned(),
                source: sigmirror_cosign::Error::UnsupportedKeyType { found: reason },
            })
        })?;
        Ok(match hash {
            None => Prehash::Message,
            Some("sha384") => Prehash::Digest(HashAlgorithm::Sha384),
            Some("sha512") => Prehash::Digest(HashAlgorithm::Sha512),
            Some(_) => Prehash::Digest(HashAlgorithm::Sha256),
        })
    }

    fn sign_prehashed(
        &self,
        hash: HashAlgorithm,
        digest: &[u8],
    ) -> sigmirror_cosign::Result<Vec<u8>> {
        self.sign_hashed(hash.name(), digest).map_err(signer_error)
    }

    fn sign_whole_message(&self, message: &[u8]) -> sigmirror_cosign::Result<Vec<u8>> {
        self.sign_whole(message).map_err(signer_error)
    }
}
