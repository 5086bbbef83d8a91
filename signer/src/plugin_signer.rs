//! Signing through plugins: a [`PluginSigner`] is a key held by a signer plugin, and
//! [`open_signer`] / [`load_public_key`] turn a `--key` reference into one, so the file backend
//! is loaded like any other.

use sigmirror_cosign::b64;
use sigmirror_cosign::keyref::{KeyRef, read_key_material};
use sigmirror_cosign::keys::PublicKey;
use sigmirror_cosign::signer::Signer;
use sigmirror_oci::digest::Sha256Digest;
use sigmirror_plugin_abi::host::{Instance, Plugin};
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, CreateKeyParams, InstanceConfig, Method, PublicKeyResult, Request,
    SignParams, SignResult,
};
use zeroize::Zeroizing;

use crate::discovery::Discovery;
use crate::error::{Error, Result};

/// A key held by a signer plugin.
pub struct PluginSigner {
    instance: Instance,
    /// The public key, asked for once: signing a message needs its type, de-duplication and
    /// bundles its value, and each ask may be a network round trip (KMS).
    public: std::sync::OnceLock<PublicKey>,
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
        let method = Method::SignMessage(SignParams {
            digest: b64::encode(digest.as_bytes()),
            hash_algorithm: "sha256".into(),
            message: None,
        });
        let result: SignResult = self.instance.call_json(&Request::new(method))?;
        b64::decode_lenient(result.signature.as_bytes()).map_err(|e| Error::BadAnswer {
            plugin: self.instance.plugin().name().to_owned(),
            source: sigmirror_cosign::Error::MalformedSignature {
                reason: e.to_string(),
            },
        })
    }

    /// Asks the plugin to sign `message` itself (keys whose signatures are over the message).
    pub fn sign_whole(&self, message: &[u8]) -> Result<Vec<u8>> {
        let method = Method::SignMessage(SignParams {
            digest: b64::encode(Sha256Digest::of(message).as_bytes()),
            hash_algorithm: "sha256".into(),
            message: Some(b64::encode(message)),
        });
        let result: SignResult = self.instance.call_json(&Request::new(method))?;
        b64::decode_lenient(result.signature.as_bytes()).map_err(|e| Error::BadAnswer {
            plugin: self.instance.plugin().name().to_owned(),
            source: sigmirror_cosign::Error::MalformedSignature {
                reason: e.to_string(),
            },
        })
    }

    fn parse_public(&self, result: &PublicKeyResult) -> Result<PublicKey> {
        PublicKey::from_pem(result.public_key_pem.as_bytes()).map_err(|source| Error::BadAnswer {
            plugin: self.instance.plugin().name().to_owned(),
            source,
        })
    }
}

impl Signer for PluginSigner {
    fn public_key(&self) -> sigmirror_cosign::Result<PublicKey> {
        PluginSigner::public_key(self).map_err(|e| sigmirror_cosign::Error::Signer(Box::new(e)))
    }

    fn sign_digest(&self, digest: &Sha256Digest) -> sigmirror_cosign::Result<Vec<u8>> {
        self.sign(digest)
            .map_err(|e| sigmirror_cosign::Error::Signer(Box::new(e)))
    }

    /// A key that signs messages (Ed25519) gets the message; the others its digest.
    fn sign_message(&self, message: &[u8]) -> sigmirror_cosign::Result<Vec<u8>> {
        if !Signer::public_key(self)?.signs_messages() {
            return self.sign_digest(&Sha256Digest::of(message));
        }
        self.sign_whole(message)
            .map_err(|e| sigmirror_cosign::Error::Signer(Box::new(e)))
    }
}
