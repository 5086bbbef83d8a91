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

use sigmirror_plugin_abi::export::Logger;
use sigmirror_plugin_abi::p256_key::P256Key;
use sigmirror_plugin_abi::wire::InstanceConfig;

use sigmirror_pkcs11::Pkcs11Uri;
use token::Token;

/// One opened `pkcs11:` key reference.
struct Pkcs11Key {
    uri: Pkcs11Uri,
    token: Token,
    log: Logger,
}

impl P256Key for Pkcs11Key {
    fn open(config: InstanceConfig, log: Logger) -> Result<Self, String> {
        let uri = Pkcs11Uri::parse(&config.key_ref)?;
        let module = uri.module()?;
        log.debug(&format!("pkcs11: module {module}, {}", uri.key_name()));
        let ctx = sigmirror_pkcs11::module::load_module(&module)?;
        let token = Token::open(&ctx, &uri)?;
        Ok(Pkcs11Key { uri, token, log })
    }

    fn public_key_pem(&self) -> Result<String, String> {
        Ok(self.token.public_key(&self.uri)?.to_pem())
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
        self.token.sign(&self.uri, digest)
    }

    fn algorithm(&self) -> Result<String, String> {
        self.token.algorithm(&self.uri).map(str::to_owned)
    }

    fn create_key(&self) -> Result<String, String> {
        let public = self.token.generate(&self.uri)?;
        self.log.info(&format!(
            "generated a P-256 key pair with {} on {}",
            self.uri.key_name(),
            self.token.label
        ));
        Ok(public.to_pem())
    }
}

sigmirror_plugin_abi::export_signer! {
    plugin: Pkcs11Key,
    name: "pkcs11",
    schemes: "pkcs11",
    flags: 0,
}
