//! Keys in cosign's file formats: the encrypted private key PEM (`ENCRYPTED SIGSTORE PRIVATE
//! KEY`, legacy `ENCRYPTED COSIGN PRIVATE KEY`), unencrypted PKCS#8, SEC1 and PKCS#1 PEM for
//! import, and PKIX public keys.
//!
//! Key types are those cosign's `import-key-pair` accepts: ECDSA P-256 (the only one
//! `generate-key-pair` makes), P-384 and P-521, RSA of 2048 to 4096 bits, and Ed25519. They sign
//! as cosign's `LoadPrivateKey` makes them sign, and verify as cosign's `LoadPublicKey` checks:
//! ECDSA and RSA (PKCS#1 v1.5) over the SHA-256 digest of the message whatever the curve or
//! size, Ed25519 over the message itself (it has no digest to sign: see [`PrivateKey::sign_message`]).

pub mod encrypted;

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use pkcs8::der::Decode as _;
use zeroize::Zeroizing;

use std::sync::Arc;

use crate::ecdsa_table::KeyTable;
use crate::error::{Error, Result};
use crate::pem;
use crate::sigstore::der_util::wrap;
use crate::sigstore::keys::{P521Key, PublicKey as AnyKey};
pub use encrypted::ScryptParams;
/// The hash signatures are made over, re-exported for signers that only need keys.
pub use sigmirror_oci::digest::Sha256Digest;

/// PEM label cosign ≥ 2.0.1 writes for encrypted private keys (and sigmirror writes).
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of older cosign private keys; still read.
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// PEM label of PKIX public keys.
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// The RSA sizes accepted, in bits (as cosign's import: smaller keys are too weak, larger ones
/// are not what any signer here makes).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

mod oid {
    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    pub const RSA: &str = "1.2.840.113549.1.1.1";
    pub const ED25519: &str = "1.3.101.112";
    pub const P256: &str = "1.2.840.10045.3.1.7";
    pub const P384: &str = "1.3.132.0.34";
    pub const P521: &str = "1.3.132.0.35";

    /// A readable name for a curve OID, for error messages.
    pub fn curve_name(oid: &str) -> String {
        match oid {
            "1.3.132.0.33" => "ECDSA P-224".into(),
            "1.3.132.0.10" => "ECDSA secp256k1".into(),
            other => format!("ECDSA on curve {other}"),
        }
    }

    /// A readable name for a key algorithm OID.
    pub fn algorithm_name(oid: &str) -> String {
        match oid {
            "1.3.101.113" => "Ed448".into(),
            "1.2.840.10040.4.1" => "DSA".into(),
            other => format!("algorithm {other}"),
        }
    }
}

/// A private key. Secret material is zeroized when dropped.
#[derive(Clone)]
pub struct PrivateKey(Secret);

#[derive(Clone)]
enum Secret {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    /// PKCS#8 DER: AWS-LC signs with it (the pure-Rust ECDSA cannot sign a SHA-256 digest on
    /// P-521, which is what cosign does).
    P521(Zeroizing<Vec<u8>>, P521Key),
    Rsa(Box<rsa::PrivateKey>),
    Ed25519(ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PrivateKey").field(&"<secret>").finish()
    }
}

fn invalid(reason: impl std::fmt::Display) -> Error {
    Error::InvalidPrivateKey {
        reason: reason.to_string(),
    }
}

impl PrivateKey {
    /// A fresh random ECDSA P-256 key from the OS generator (what `generate-key-pair` makes).
    pub fn generate() -> Self {
        use p256::elliptic_curve::Generate as _;
        PrivateKey(Secret::P256(p256::ecdsa::SigningKey::generate()))
    }

    /// Reads PKCS#8 DER of any accepted key type; others are refused with their name.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let info = pkcs8::PrivateKeyInfoRef::from_der(der)
            .map_err(|e| invalid(format!("not a PKCS#8 private key: {e}")))?;
        let algorithm = info.algorithm.oid.to_string();
        let secret = match algorithm.as_str() {
            oid::EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| invalid("EC key without a named curve"))?
                    .to_string();
                match curve.as_str() {
                    oid::P256 => p256::ecdsa::SigningKey::from_pkcs8_der(der)
                        .map(Secret::P256)
                        .map_err(invalid)?,
                    oid::P384 => p384::ecdsa::SigningKey::from_pkcs8_der(der)
                        .map(Secret::P384)
                        .map_err(invalid)?,
                    oid::P521 => p521_from_pkcs8(der)?,
                    other => {
                        return Err(Error::UnsupportedKeyType {
                            found: oid::curve_name(other),
                        });
                    }
                }
            }
            oid::RSA => rsa_secret(rsa::PrivateKey::from_pkcs8_der(der).map_err(invalid)?)?,
            oid::ED25519 => ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map(Secret::Ed25519)
                .map_err(invalid)?,
            other => {
                return Err(Error::UnsupportedKeyType {
                    found: oid::algorithm_name(other),
                });
            }
        };
        Ok(PrivateKey(secret))
    }

    /// Reads SEC1 DER (`EC PRIVATE KEY`) of an accepted curve.
    fn from_sec1_der(der: &[u8]) -> Result<Self> {
        let key = sec1::EcPrivateKey::from_der(der)
            .map_err(|e| invalid(format!("not a SEC1 EC private key: {e}")))?;
        let curve = match key.parameters {
            Some(params) => params
                .named_curve()
                .map(|o| o.to_string())
                .ok_or_else(|| invalid("EC key without a named curve"))?,
            // Without parameters, the scalar's length tells the curve.
            None => match key.private_key.len() {
                32 => oid::P256.to_owned(),
                48 => oid::P384.to_owned(),
                66 => oid::P521.to_owned(),
                n => {
                    return Err(Error::UnsupportedKeyType {
                        found: format!("EC key with a {n}-byte scalar"),
                    });
                }
            },
        };
        let secret = match curve.as_str() {
            oid::P256 => p256::SecretKey::from_slice(key.private_key)
                .map(|k| Secret::P256(k.into()))
                .map_err(|_| invalid("invalid P-256 scalar"))?,
            oid::P384 => p384::SecretKey::from_slice(key.private_key)
                .map(|k| Secret::P384(k.into()))
                .map_err(|_| invalid("invalid P-384 scalar"))?,
            oid::P521 => {
                // AWS-LC reads PKCS#8: wrap the SEC1 structure, as `openssl pkcs8 -topk8` does.
                let algorithm = pkcs8::AlgorithmIdentifierRef {
                    oid: oid::EC_PUBLIC_KEY.parse().expect("a valid OID"),
                    parameters: Some(der::asn1::AnyRef::from(
                        &const_oid::db::rfc5912::SECP_521_R_1,
                    )),
                };
                let info =
                    pkcs8::PrivateKeyInfoRef::new(algorithm, der.try_into().map_err(invalid)?);
                let pkcs8 = Zeroizing::new(der::Encode::to_der(&info).map_err(invalid)?);
                p521_from_pkcs8(&pkcs8)?
            }
            other => {
                return Err(Error::UnsupportedKeyType {
                    found: oid::curve_name(other),
                });
            }
        };
        Ok(PrivateKey(secret))
    }

    /// Reads an unencrypted private key PEM for `import-key-pair`: PKCS#8 (`PRIVATE KEY`), SEC1
    /// (`EC PRIVATE KEY`, possibly after an `EC PARAMETERS` block as openssl writes it) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    pub fn from_unencrypted_pem(text: &[u8]) -> Result<Self> {
        let blocks = pem::decode_all(text)?;
        let block = blocks
            .iter()
            .find(|b| b.label != "EC PARAMETERS")
            .ok_or_else(|| Error::Pem {
                reason: "no private key block".into(),
            })?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "EC PRIVATE KEY" => Self::from_sec1_der(&block.der),
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey as _;
                let key = rsa::PrivateKey::from_pkcs1_der(&block.der).map_err(invalid)?;
                Ok(PrivateKey(rsa_secret(key)?))
            }
            "ENCRYPTED PRIVATE KEY" => Err(invalid(
                "the key is encrypted (PKCS#8); decrypt it first, e.g. \
                 `openssl pkcs8 -in KEY -out plain.pem`",
            )),
            label if label.starts_with("ENCRYPTED") => Err(invalid(format!(
                "{label:?} is already a cosign key; use it directly"
            ))),
            label => Err(Error::UnsupportedPemLabel {
                label: label.to_owned(),
                expected: "PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY",
            }),
        }
    }

    /// Decrypts a cosign private key PEM (either label, any of the accepted scrypt parameters).
    pub fn from_encrypted_pem(text: &[u8], password: &[u8]) -> Result<Self> {
        let block = pem::decode(text)?;
        if block.label != SIGSTORE_PRIVATE_KEY_LABEL && block.label != COSIGN_PRIVATE_KEY_LABEL {
            return Err(Error::UnsupportedPemLabel {
                label: block.label,
                expected: "ENCRYPTED SIGSTORE PRIVATE KEY or ENCRYPTED COSIGN PRIVATE KEY",
            });
        }
        let der = encrypted::decrypt(&block.der, password)?;
        Self::from_pkcs8_der(&der)
    }

    /// Encrypts as cosign does: PKCS#8 DER, scrypt N=65536 r=8 p=1, secretbox, labelled
    /// `ENCRYPTED SIGSTORE PRIVATE KEY`.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String> {
        self.to_encrypted_pem_with(password, ScryptParams::STANDARD, SIGSTORE_PRIVATE_KEY_LABEL)
    }

    /// Like [`Self::to_encrypted_pem`] with explicit parameters and label (legacy keys, tests).
    pub fn to_encrypted_pem_with(
        &self,
        password: &[u8],
        params: ScryptParams,
        label: &str,
    ) -> Result<String> {
        let der = self.to_pkcs8_der()?;
        let envelope = encrypted::encrypt(&der, password, params)?;
        Ok(pem::encode(label, &envelope))
    }

    /// The PKCS#8 DER encoding (for P-256, the 138 bytes Go's `x509.MarshalPKCS8PrivateKey`
    /// writes).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = match &self.0 {
            Secret::P256(k) => k.to_pkcs8_der(),
            Secret::P384(k) => k.to_pkcs8_der(),
            Secret::P521(der, _) => return Ok(der.clone()),
            Secret::Rsa(k) => k.to_pkcs8_der(),
            Secret::Ed25519(k) => k.to_pkcs8_der(),
        }
        .map_err(invalid)?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(
            match &self.0 {
                Secret::P256(k) => AnyKey::P256(*k.verifying_key()),
                Secret::P384(k) => AnyKey::P384(*k.verifying_key()),
                Secret::P521(_, public) => AnyKey::P521(public.clone()),
                Secret::Rsa(k) => AnyKey::Rsa(k.to_public_key()),
                Secret::Ed25519(k) => AnyKey::Ed25519(k.verifying_key()),
            },
            None,
        )
    }

    /// Signs a SHA-256 digest; returns the ASN.1 DER signature (ECDSA) or the PKCS#1 v1.5
    /// signature (RSA). An Ed25519 key signs messages only: it refuses.
    pub fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        let failed = |e: &dyn std::fmt::Display| invalid(format!("signing failed: {e}"));
        match &self.0 {
            Secret::P256(k) => {
                let sig: p256::ecdsa::DerSignature =
                    k.sign_prehash(digest.as_bytes()).map_err(|e| failed(&e))?;
                Ok(sig.as_bytes().to_vec())
            }
            Secret::P384(k) => {
                let sig: p384::ecdsa::DerSignature =
                    k.sign_prehash(digest.as_bytes()).map_err(|e| failed(&e))?;
                Ok(sig.as_bytes().to_vec())
            }
            Secret::P521(der, _) => {
                use aws_lc_rs::signature::{ECDSA_P521_SHA256_ASN1_SIGNING, EcdsaKeyPair};
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA256_ASN1_SIGNING, der)
                    .map_err(|e| failed(&e))?;
                let digest = aws_lc_rs::digest::Digest::import_less_safe(
                    digest.as_bytes(),
                    &aws_lc_rs::digest::SHA256,
                )
                .map_err(|e| failed(&e))?;
                let sig = pair.sign_digest(&digest).map_err(|e| failed(&e))?;
                Ok(sig.as_ref().to_vec())
            }
            Secret::Rsa(k) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                let sig: rsa::pkcs1v15::Signature = signer
                    .sign_prehash(digest.as_bytes())
                    .map_err(|e| failed(&e))?;
                Ok(rsa::signature::SignatureEncoding::to_vec(&sig))
            }
            Secret::Ed25519(_) => Err(Error::MessageOnlyKey),
        }
    }

    /// Signs a message as cosign does with this key: Ed25519 over the message, the others
    /// over its SHA-256 digest ([`Self::sign_digest`]).
    pub fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.0 {
            Secret::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                Ok(k.sign(message).to_bytes().to_vec())
            }
            _ => self.sign_digest(&Sha256Digest::of(message)),
        }
    }
}

/// An RSA key of an accepted size.
fn rsa_secret(key: rsa::PrivateKey) -> Result<Secret> {
    let bits = rsa::traits::PublicKeyParts::n(&key).bit_width() as usize;
    if !RSA_BITS.contains(&bits) {
        return Err(Error::UnsupportedKeyType {
            found: format!("RSA of {bits} bits (2048 to 4096 are accepted)"),
        });
    }
    Ok(Secret::Rsa(Box::new(key)))
}

/// A P-521 key from its PKCS#8 DER, checked by AWS-LC, with its public point.
fn p521_from_pkcs8(der: &[u8]) -> Result<Secret> {
    use aws_lc_rs::signature::{ECDSA_P521_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA256_ASN1_SIGNING, der)
        .map_err(|e| invalid(format!("invalid P-521 key: {e}")))?;
    let public = P521Key::from_point(pair.public_key().as_ref()).map_err(invalid)?;
    Ok(Secret::P521(Zeroizing::new(der.to_vec()), public))
}

/// A public key of any accepted type (see the module documentation), and for a P-256 key
/// prepared with [`PublicKey::prepared_for_many`], the table that speeds its verifications.
#[derive(Debug, Clone)]
pub struct PublicKey(AnyKey, Option<Arc<KeyTable>>);

/// Keys are equal when they are the same key, prepared or not.
impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// Reads a PKIX `PUBLIC KEY` PEM, or a PKCS#1 `RSA PUBLIC KEY`.
    pub fn from_pem(text: &[u8]) -> Result<Self> {
        let block = pem::decode(text)?;
        match block.label.as_str() {
            PUBLIC_KEY_LABEL => Self::from_spki_der(&block.der),
            "RSA PUBLIC KEY" => AnyKey::from_pkcs1_rsa_der(&block.der)
                .map_err(|e| Error::InvalidPublicKey {
                    reason: e.to_string(),
                })
                .and_then(Self::accepted),
            label if label.contains("PRIVATE KEY") => Err(Error::InvalidPublicKey {
                reason: format!(
                    "{label:?} is a private key; pass the public key (e.g. cosign.pub), \
                     or print it with `sigmirror public-key --key`"
                ),
            }),
            label => Err(Error::UnsupportedPemLabel {
                label: label.to_owned(),
                expected: "PUBLIC KEY",
            }),
        }
    }

    /// Reads PKIX SubjectPublicKeyInfo DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let info =
            spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| Error::InvalidPublicKey {
                reason: format!("not a PKIX public key: {e}"),
            })?;
        let algorithm = info.algorithm.oid.to_string();
        match algorithm.as_str() {
            oid::EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| Error::InvalidPublicKey {
                        reason: "EC key without a named curve".into(),
                    })?
                    .to_string();
                if ![oid::P256, oid::P384, oid::P521].contains(&curve.as_str()) {
                    return Err(Error::UnsupportedKeyType {
                        found: oid::curve_name(&curve),
                    });
                }
            }
            oid::RSA | oid::ED25519 => {}
            other => {
                return Err(Error::UnsupportedKeyType {
                    found: oid::algorithm_name(other),
                });
            }
        }
        AnyKey::from_spki_der(der)
            .map_err(|e| Error::InvalidPublicKey {
                reason: e.to_string(),
            })
            .and_then(Self::accepted)
    }

    /// An ECDSA key from its curve (`P-256`, `P-384`, `P-521`) and uncompressed SEC1 point
    /// (`04‖X‖Y`), as key services give them (a JWK's `x` and `y`, a token's `CKA_EC_POINT`).
    pub fn from_ec_point(curve: &str, point: &[u8]) -> Result<Self> {
        let invalid = |e: &dyn std::fmt::Display| Error::InvalidPublicKey {
            reason: format!("invalid {curve} point: {e}"),
        };
        let key = match curve {
            "P-256" => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(AnyKey::P256)
                .map_err(|e| invalid(&e))?,
            "P-384" => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(AnyKey::P384)
                .map_err(|e| invalid(&e))?,
            "P-521" => P521Key::from_point(point)
                .map(AnyKey::P521)
                .map_err(|e| invalid(&e))?,
            other => {
                return Err(Error::UnsupportedKeyType {
                    found: format!("ECDSA on curve {other}"),
                });
            }
        };
        Ok(PublicKey(key, None))
    }

    /// An RSA key from its modulus and public exponent (unsigned big-endian, as a JWK's `n` and
    /// `e` or a token's `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT` give them), if of an accepted
    /// size.
    pub fn from_rsa_components(modulus: &[u8], exponent: &[u8]) -> Result<Self> {
        let mut body = der_integer(modulus);
        body.extend(der_integer(exponent));
        let pkcs1 = wrap(0x30, &body);
        AnyKey::from_pkcs1_rsa_der(&pkcs1)
            .map_err(|e| Error::InvalidPublicKey {
                reason: e.to_string(),
            })
            .and_then(Self::accepted)
    }

    /// `key`, if of an accepted size (RSA).
    fn accepted(key: AnyKey) -> Result<Self> {
        if let AnyKey::Rsa(k) = &key {
            let bits = rsa::traits::PublicKeyParts::n(k).bit_width() as usize;
            if !RSA_BITS.contains(&bits) {
                return Err(Error::UnsupportedKeyType {
                    found: format!("RSA of {bits} bits (2048 to 4096 are accepted)"),
                });
            }
        }
        Ok(PublicKey(key, None))
    }

    /// This key, prepared for checking many signatures: a P-256 key gets a table of its
    /// multiples (about 4 ms and 0.3 MB to build), which makes each later check of a DER
    /// signature over a SHA-256 digest about twice as fast (`store verify` of thousands of
    /// images; see `ecdsa_table`). Other keys are returned as they are. It accepts and refuses
    /// exactly the signatures the key does unprepared.
    pub fn prepared_for_many(&self) -> PublicKey {
        match (&self.0, &self.1) {
            (AnyKey::P256(key), None) => {
                PublicKey(self.0.clone(), Some(Arc::new(KeyTable::new(key))))
            }
            _ => self.clone(),
        }
    }

    /// The same key as the Sigstore verifier's key type.
    pub fn as_sigstore(&self) -> &AnyKey {
        &self.0
    }

    /// The PKIX SubjectPublicKeyInfo DER.
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.0.spki_der()
    }

    /// The PEM cosign writes to `cosign.pub` and prints from `public-key`.
    pub fn to_pem(&self) -> String {
        pem::encode(PUBLIC_KEY_LABEL, &self.to_spki_der())
    }

    /// The key's algorithm, for messages (`ECDSA P-256`, `RSA`, `Ed25519`…).
    pub fn algorithm(&self) -> &'static str {
        self.0.algorithm()
    }

    /// The curve's own hash of a P-384 or P-521 key (SHA-384, SHA-512), which AWS KMS and
    /// cosign 3 sign those keys' digests with, besides the SHA-256 cosign 2 uses.
    pub fn curve_hash(&self) -> Option<crate::sigstore::keys::HashAlgorithm> {
        use crate::sigstore::keys::HashAlgorithm;
        match &self.0 {
            AnyKey::P384(_) => Some(HashAlgorithm::Sha384),
            AnyKey::P521(_) => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Verifies `signature` over the digest made with the curve's own hash, for the keys of
    /// [`Self::curve_hash`] only (and only of that hash's length).
    pub(crate) fn verify_prehash(&self, digest: &[u8], signature: &[u8]) -> Result<()> {
        let fits = self
            .curve_hash()
            .is_some_and(|hash| hash.digest(b"").len() == digest.len());
        if !fits {
            return Err(Error::InvalidSignature);
        }
        self.0
            .verify_prehash(digest, signature)
            .map_err(|_| Error::InvalidSignature)
    }

    /// Whether signatures by this key are over the message itself (Ed25519), so that a digest
    /// is not enough to check them.
    pub fn signs_messages(&self) -> bool {
        matches!(self.0, AnyKey::Ed25519(_))
    }

    /// Verifies `signature` over a SHA-256 digest: ECDSA (ASN.1 DER, or raw `r||s` as sigstore
    /// also accepts) or RSA PKCS#1 v1.5. An Ed25519 key needs the message
    /// ([`Self::verify_message`]).
    pub fn verify_digest(&self, digest: &Sha256Digest, signature: &[u8]) -> Result<()> {
        if let AnyKey::P256(_) = &self.0 {
            // A prepared key checks DER signatures with its table, which refuses what AWS-LC
            // refuses; only 64 bytes (a raw r||s whose r begins with 0x30) can still verify
            // the general way.
            if let Some(table) = &self.1
                && signature.first() == Some(&0x30)
            {
                if table.verify_digest_der(digest.as_bytes(), signature) {
                    return Ok(());
                }
                if signature.len() != 64 {
                    return Err(Error::InvalidSignature);
                }
            }
            return verify_p256(&self.0, digest, signature);
        }
        if self.signs_messages() {
            return Err(Error::MessageOnlyKey);
        }
        if self.0.verify_prehash(digest.as_bytes(), signature).is_ok() {
            return Ok(());
        }
        // An RSA key also signs with PSS (a KMS key of a PSS algorithm, cosign 3's
        // `rsa-sign-pss-*`): SHA-256, MGF1 with SHA-256, any salt length.
        match &self.0 {
            AnyKey::Rsa(key) if rsa_pss_verifies(key, digest.as_bytes(), signature) => Ok(()),
            _ => Err(Error::InvalidSignature),
        }
    }

    /// Verifies `signature` over `message` as cosign does with this key: Ed25519 over the
    /// message, the others over its SHA-256 digest. A P-384 or P-521 signature over the
    /// message's SHA-384 or SHA-512 digest (the curve's own hash) is accepted too: cosign 3
    /// signs with it (and its own `verify`, which hashes with SHA-256, then refuses it). Either
    /// way the key signed this very message.
    pub fn verify_message(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        if self.signs_messages() {
            return self
                .0
                .verify(
                    message,
                    signature,
                    crate::sigstore::keys::SignatureHash::Pure,
                )
                .map_err(|_| Error::InvalidSignature);
        }
        let by_sha256 = self.verify_digest(&Sha256Digest::of(message), signature);
        match (by_sha256, self.curve_hash()) {
            (Err(Error::InvalidSignature), Some(hash)) => {
                self.verify_prehash(&hash.digest(message), signature)
            }
            (result, _) => result,
        }
    }
}

/// An ECDSA signature as raw `r‖s` (two halves of equal length, as PKCS#11's `CKM_ECDSA` and
/// JOSE's `ES256`/`ES384`/`ES512` give it) in the ASN.1 DER cosign stores.
pub fn ecdsa_der_from_raw(raw: &[u8]) -> Result<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) || raw.len() > 132 {
        return Err(Error::MalformedSignature {
            reason: format!("{} bytes are not a raw r||s ECDSA signature", raw.len()),
        });
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = der_integer(r);
    body.extend(der_integer(s));
    Ok(wrap(0x30, &body))
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let mut value = bytes[first..].to_vec();
    if value.first().is_none_or(|b| b & 0x80 != 0) {
        value.insert(0, 0);
    }
    wrap(0x02, &value)
}

/// Whether `signature` is an RSASSA-PSS signature (SHA-256, MGF1-SHA-256, salt length found
/// from the signature) of `digest` by `key`.
fn rsa_pss_verifies(key: &rsa::PublicKey, digest: &[u8], signature: &[u8]) -> bool {
    use rsa::signature::hazmat::PrehashVerifier as _;
    let Ok(signature) = rsa::pss::Signature::try_from(signature) else {
        return false;
    };
    rsa::pss::VerifyingKey::<sha2::Sha256>::new_with_auto_salt_len(key.clone())
        .verify_prehash(digest, &signature)
        .is_ok()
}

/// P-256 verification with its own messages for signatures that are not ECDSA at all.
fn verify_p256(key: &AnyKey, digest: &Sha256Digest, signature: &[u8]) -> Result<()> {
    let plausible = signature.first() == Some(&0x30) || signature.len() == 64;
    if !plausible {
        return Err(Error::MalformedSignature {
            reason: format!(
                "{} bytes are not an ECDSA P-256 signature (ASN.1 DER or a 64-byte r||s): made \
                 with a key of another type?",
                signature.len()
            ),
        });
    }
    key.verify_prehash(digest.as_bytes(), signature)
        .map_err(|_| Error::InvalidSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn digest(data: &[u8]) -> Sha256Digest {
        Sha256Digest::of(data)
    }

    /// A key prepared for many verifications checks DER signatures with its table, but a raw
    /// `r||s` whose r begins with 0x30 (DER's first byte) must still verify the general way.
    #[test]
    fn a_prepared_key_still_takes_a_raw_signature_that_begins_like_der() {
        let key = PrivateKey::generate();
        let public = key.public_key();
        let prepared = public.prepared_for_many();
        let (message, raw) = (0u32..20_000)
            .find_map(|i| {
                let message = digest(&i.to_be_bytes());
                let der = key.sign_digest(&message).expect("sign");
                let raw = p256::ecdsa::Signature::from_der(&der)
                    .expect("der")
                    .to_bytes();
                (raw[0] == 0x30).then(|| (message, raw.to_vec()))
            })
            .expect("one r in 256 begins with 0x30");
        assert!(public.verify_digest(&message, &raw).is_ok());
        assert!(prepared.verify_digest(&message, &raw).is_ok());
        let mut bad = raw.clone();
        bad[63] ^= 1;
        assert!(public.verify_digest(&message, &bad).is_err());
        assert!(prepared.verify_digest(&message, &bad).is_err());
        assert!(prepared.verify_digest(&digest(b"other"), &raw).is_err());
    }

    #[test]
    fn pkcs8_is_the_138_bytes_go_writes() {
        let key = PrivateKey::generate();
        let der = key.to_pkcs8_der().unwrap();
        assert_eq!(der.len(), 138);
        assert_eq!(
            &der[..27],
            &hex("308187020100301306072a8648ce3d020106082a8648ce3d030107")[..]
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn encrypted_pem_round_trip_and_legacy_label() {
        let key = PrivateKey::generate();
        let pem = key.to_encrypted_pem(b"s3cret").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = PrivateKey::from_encrypted_pem(pem.as_bytes(), b"s3cret").unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert!(matches!(
            PrivateKey::from_encrypted_pem(pem.as_bytes(), b"wrong"),
            Err(Error::DecryptionFailed)
        ));
        let legacy = key
            .to_encrypted_pem_with(b"", ScryptParams::LEGACY, COSIGN_PRIVATE_KEY_LABEL)
            .unwrap();
        let back = PrivateKey::from_encrypted_pem(legacy.as_bytes(), b"").unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let other = pem.replace("SIGSTORE", "OTHER");
        assert!(matches!(
            PrivateKey::from_encrypted_pem(other.as_bytes(), b"s3cret"),
            Err(Error::UnsupportedPemLabel { .. })
        ));
    }

    #[test]
    fn sign_and_verify_with_negative_cases() {
        let key = PrivateKey::generate();
        let public = key.public_key();
        let sig = key.sign_digest(&digest(b"payload")).unwrap();
        public.verify_digest(&digest(b"payload"), &sig).unwrap();
        assert!(matches!(
            public.verify_digest(&digest(b"other"), &sig),
            Err(Error::InvalidSignature)
        ));
        let other = PrivateKey::generate().public_key();
        assert!(other.verify_digest(&digest(b"payload"), &sig).is_err());
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(public.verify_digest(&digest(b"payload"), &bad).is_err());
        assert!(matches!(
            public.verify_digest(&digest(b"payload"), b"short"),
            Err(Error::MalformedSignature { .. })
        ));
        // Raw r||s is accepted too, and converts to the same DER.
        let raw = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
        public.verify_digest(&digest(b"payload"), &raw).unwrap();
        assert_eq!(ecdsa_der_from_raw(&raw).unwrap(), sig);
        assert!(ecdsa_der_from_raw(&raw[1..]).is_err());
        assert!(ecdsa_der_from_raw(&[]).is_err());
    }

    /// A key of each type cosign imports, made in process (RSA and P-521 by AWS-LC).
    fn keys_of_every_type() -> Vec<(&'static str, PrivateKey)> {
        use aws_lc_rs::encoding::AsDer as _;
        let p384 = p384::ecdsa::SigningKey::from_slice(&[3u8; 48]).unwrap();
        let ed = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let p521 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P521_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let rsa_der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = rsa.as_der().unwrap();
        vec![
            ("ECDSA P-256", PrivateKey::generate()),
            ("ECDSA P-384", PrivateKey(Secret::P384(p384))),
            (
                "ECDSA P-521",
                PrivateKey::from_pkcs8_der(p521.as_ref()).unwrap(),
            ),
            ("RSA", PrivateKey::from_pkcs8_der(rsa_der.as_ref()).unwrap()),
            ("Ed25519", PrivateKey(Secret::Ed25519(ed))),
        ]
    }

    /// A signature over another hash's digest, as cosign 3 makes with P-384 and P-521 keys.
    fn sign_prehash_for_test(key: &PrivateKey, prehash: &[u8]) -> Vec<u8> {
        match &key.0 {
            Secret::P384(k) => {
                let sig: p384::ecdsa::DerSignature = k.sign_prehash(prehash).unwrap();
                sig.as_bytes().to_vec()
            }
            Secret::P521(der, _) => {
                use aws_lc_rs::signature::{ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair};
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_ASN1_SIGNING, der).unwrap();
                let digest = aws_lc_rs::digest::Digest::import_less_safe(
                    prehash,
                    &aws_lc_rs::digest::SHA512,
                )
                .unwrap();
                pair.sign_digest(&digest).unwrap().as_ref().to_vec()
            }
            _ => unreachable!("only the curves with their own hash"),
        }
    }

    #[test]
    fn every_key_type_signs_as_cosign_and_refuses_what_it_did_not_sign() {
        let keys = keys_of_every_type();
        for (i, (name, key)) in keys.iter().enumerate() {
            let public = key.public_key();
            assert_eq!(public.algorithm(), *name);
            let sig = key.sign_message(b"payload").unwrap();
            public.verify_message(b"payload", &sig).unwrap();
            assert!(public.verify_message(b"other", &sig).is_err(), "{name}");
            let mut bad = sig.clone();
            let middle = bad.len() / 2;
            bad[middle] ^= 1;
            assert!(public.verify_message(b"payload", &bad).is_err(), "{name}");
            let (_, other) = &keys[(i + 1) % keys.len()];
            assert!(
                other.public_key().verify_message(b"payload", &sig).is_err(),
                "{name}"
            );
            // Digest-signing keys sign the SHA-256 of the message, as cosign does.
            if public.signs_messages() {
                assert!(key.sign_digest(&digest(b"payload")).is_err());
                assert!(public.verify_digest(&digest(b"payload"), &sig).is_err());
            } else {
                public.verify_digest(&digest(b"payload"), &sig).unwrap();
                let by_digest = key.sign_digest(&digest(b"payload")).unwrap();
                public.verify_message(b"payload", &by_digest).unwrap();
            }
            // cosign 3's signatures over the curve's own hash verify too, and only those.
            let curve = match *name {
                "ECDSA P-384" => Some(sha2::Sha384::digest(b"payload").to_vec()),
                "ECDSA P-521" => Some(sha2::Sha512::digest(b"payload").to_vec()),
                _ => None,
            };
            if let Some(prehash) = curve {
                let sig = sign_prehash_for_test(key, &prehash);
                public.verify_message(b"payload", &sig).unwrap();
                assert!(public.verify_message(b"other", &sig).is_err(), "{name}");
            }
            // Through cosign's encrypted file and the public PEM, the same key comes back.
            let pem = key.to_encrypted_pem(b"pw").unwrap();
            let back = PrivateKey::from_encrypted_pem(pem.as_bytes(), b"pw").unwrap();
            assert_eq!(back.public_key(), public, "{name}");
            let public_pem = public.to_pem();
            assert_eq!(PublicKey::from_pem(public_pem.as_bytes()).unwrap(), public);
        }
    }

    #[test]
    fn keys_that_would_verify_what_nobody_signed_are_refused() {
        // The Ed25519 identity point (small order) and a P-521 point off the curve.
        let mut ed = hex("302a300506032b6570032100");
        ed.push(1);
        ed.extend([0u8; 31]);
        assert!(PublicKey::from_spki_der(&ed).is_err());
        let point = [&[4u8][..], &[1u8; 132]].concat();
        assert!(PublicKey::from_ec_point("P-521", &point).is_err());
        // A digest of the wrong length for the curve's hash is not checked at all.
        let p384 = p384::ecdsa::SigningKey::from_slice(&[3u8; 48]).unwrap();
        let public = PrivateKey(Secret::P384(p384)).public_key();
        assert!(public.verify_prehash(&[0u8; 64], &[0u8; 70]).is_err());
        assert!(
            PrivateKey::generate()
                .public_key()
                .verify_prehash(&[0u8; 48], &[0u8; 70])
                .is_err()
        );
    }

    #[test]
    fn rsa_keys_verify_pss_signatures_too() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let public = {
            use aws_lc_rs::encoding::AsDer as _;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair.as_der().unwrap();
            PrivateKey::from_pkcs8_der(der.as_ref())
                .unwrap()
                .public_key()
        };
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PSS_SHA256,
            &rng,
            b"payload",
            &mut sig,
        )
        .unwrap();
        public.verify_message(b"payload", &sig).unwrap();
        assert!(public.verify_message(b"other", &sig).is_err());
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(public.verify_message(b"payload", &bad).is_err());
    }

    #[test]
    fn public_pem_round_trip() {
        let public = PrivateKey::generate().public_key();
        let pem = public.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(PublicKey::from_pem(pem.as_bytes()).unwrap(), public);
    }
}
