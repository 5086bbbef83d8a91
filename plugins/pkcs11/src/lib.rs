//! The `pkcs11` signer plugin: ECDSA P-256 keys on PKCS#11 tokens, named by RFC 7512 URIs
//! (`pkcs11:token=…;object=…?module-path=…&pin-value=…`), as cosign takes them.
//!
//! The vendor module is loaded with `cryptoki` when an instance is opened; PIV hardware tokens
//! (YubiKey) are reached the same way through their PKCS#11 module (ykcs11 or OpenSC). The
//! instance keeps one session, logged in with the PIN from the URI or `COSIGN_PKCS11_PIN` (the
//! plugin never asks the host for a password). Keys never leave the token: `createKey`
//! generates the pair on it, `signMessage` runs CKM_ECDSA there.

mod ec;
mod token;

use sigmirror_cosign::b64;
use sigmirror_plugin_abi::export::{Logger, SignerPlugin};
use sigmirror_plugin_abi::wire::{
    ALGORITHM_ECDSA_P256_SHA256, AlgorithmResult, AlgorithmsResult, InstanceConfig, Method,
    PublicKeyResult, SignResult, to_value,
};

use sigmirror_pkcs11::Pkcs11Uri;
use token::Token;

/// One opened `pkcs11:` key reference.
struct Pkcs11Key {
    uri: Pkcs11Uri,
    token: Token,
    log: Logger,
}

impl SignerPlugin for Pkcs11Key {
    fn new(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let uri = Pkcs11Uri::parse(&config.key_ref)?;
        let module = uri.module()?;
        log.debug(&format!("pkcs11: module {module}, {}", uri.key_name()));
        let ctx = sigmirror_pkcs11::module::load_module(&module)?;
        let token = Token::open(&ctx, &uri)?;
        Ok(Pkcs11Key { uri, token, log })
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
                if params.algorithm != ALGORITHM_ECDSA_P256_SHA256 {
                    return Err(format!("unsupported algorithm {:?}", params.algorithm));
                }
                let public = self.token.generate(&self.uri)?;
                self.log.info(&format!(
                    "generated a P-256 key pair with {} on {}",
                    self.uri.key_name(),
                    self.token.label
                ));
                to_value(PublicKeyResult {
                    public_key_pem: public.to_pem(),
                })
            }
            Method::PublicKey => to_value(PublicKeyResult {
                public_key_pem: self.token.public_key(&self.uri)?.to_pem(),
            }),
            Method::SignMessage(params) => {
                let digest = params.sha256_digest()?;
                to_value(SignResult {
                    signature: b64::encode(&self.token.sign(&self.uri, &digest)?),
                })
            }
        }
    }
}

sigmirror_plugin_abi::export_signer! {
    plugin: Pkcs11Key,
    name: "pkcs11",
    schemes: "pkcs11",
    flags: 0,
}
