//! Keys in cosign's file formats: the encrypted private key PEM (`ENCRYPTED SIGSTORE PRIVATE
//! KEY`, legacy `ENCRYPTED COSIGN PRIVATE KEY`), unencrypted PKCS#8/SEC1 PEM for import, and PKIX
//! public keys. sigmirror signs and verifies with ECDSA P-256 over SHA-256, the only key type
//! `cosign generate-key-pair` makes.

pub mod encrypted;

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use pkcs8::der::Decode as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::pem;
pub use encrypted::ScryptParams;
/// The hash signatures are made over, re-exported for signers that only need keys.
pub use sigmirror_oci::digest::Sha256Digest;

/// PEM label cosign ≥ 2.0.1 writes for encrypted private keys (and sigmirror writes).
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of older cosign private keys; still read.
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// PEM label of PKIX public keys.
pub const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// Refuses, naming what it is instead, any key algorithm but ECDSA on P-256 (the only one
/// cosign key files hold); `no_curve` is the error for an EC key without a named curve.
fn require_p256(
    algorithm: &spki::AlgorithmIdentifierRef<'_>,
    no_curve: impl FnOnce() -> Error,
) -> Result<()> {
    let alg = algorithm.oid.to_string();
    if alg != oid::EC_PUBLIC_KEY {
        return Err(Error::UnsupportedKeyType {
            found: oid::algorithm_name(&alg),
        });
    }
    let curve = algorithm
        .parameters_oid()
        .map_err(|_| no_curve())?
        .to_string();
    if curve != oid::P256 {
        return Err(Error::UnsupportedKeyType {
            found: oid::curve_name(&curve),
        });
    }
    Ok(())
}

mod oid {
    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    pub const RSA: &str = "1.2.840.113549.1.1.1";
    pub const ED25519: &str = "1.3.101.112";
    pub const P256: &str = "1.2.840.10045.3.1.7";

    /// A readable name for a curve OID, for error messages.
    pub fn curve_name(oid: &str) -> String {
        match oid {
            "1.3.132.0.33" => "ECDSA P-224".into(),
            "1.3.132.0.34" => "ECDSA P-384".into(),
            "1.3.132.0.35" => "ECDSA P-521".into(),
            "1.3.132.0.10" => "ECDSA secp256k1".into(),
            other => format!("ECDSA on curve {other}"),
        }
    }

    /// A readable name for a key algorithm OID.
    pub fn algorithm_name(oid: &str) -> String {
        match oid {
            RSA => "RSA".into(),
            ED25519 => "Ed25519".into(),
            "1.3.101.113" => "Ed448".into(),
            other => format!("algorithm {other}"),
        }
    }
}

/// An ECDSA P-256 private key. The secret scalar is zeroized when dropped.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PrivateKey").field(&"<secret>").finish()
    }
}

impl PrivateKey {
    /// A fresh random key from the OS generator.
    pub fn generate() -> Self {
        use p256::elliptic_curve::Generate as _;
        PrivateKey(SigningKey::generate())
    }

    /// Reads PKCS#8 DER, refusing with a clear message any key that is not ECDSA P-256.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let info =
            pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| Error::InvalidPrivateKey {
                reason: format!("not a PKCS#8 private key: {e}"),
            })?;
        require_p256(&info.algorithm, || Error::InvalidPrivateKey {
            reason: "EC key without a named curve".into(),
        })?;
        SigningKey::from_pkcs8_der(der)
            .map(PrivateKey)
            .map_err(|e| Error::InvalidPrivateKey {
                reason: e.to_string(),
            })
    }

    /// Reads SEC1 DER (`EC PRIVATE KEY`), refusing other curves.
    fn from_sec1_der(der: &[u8]) -> Result<Self> {
        let key = sec1::EcPrivateKey::from_der(der).map_err(|e| Error::InvalidPrivateKey {
            reason: format!("not a SEC1 EC private key: {e}"),
        })?;
        if let Some(params) = key.parameters {
            let curve = params.named_curve().map(|o| o.to_string()).ok_or_else(|| {
                Error::InvalidPrivateKey {
                    reason: "EC key without a named curve".into(),
                }
            })?;
            if curve != oid::P256 {
                return Err(Error::UnsupportedKeyType {
                    found: oid::curve_name(&curve),
                });
            }
        } else if key.private_key.len() != 32 {
            return Err(Error::UnsupportedKeyType {
                found: format!("EC key with a {}-byte scalar", key.private_key.len()),
            });
        }
        let secret =
            p256::SecretKey::from_slice(key.private_key).map_err(|_| Error::InvalidPrivateKey {
                reason: "invalid P-256 scalar".into(),
            })?;
        Ok(PrivateKey(SigningKey::from(secret)))
    }

    /// Reads an unencrypted private key PEM for `import-key-pair`: PKCS#8 (`PRIVATE KEY`) or
    /// SEC1 (`EC PRIVATE KEY`, possibly after an `EC PARAMETERS` block as openssl writes it).
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
            "RSA PRIVATE KEY" => Err(Error::UnsupportedKeyType {
                found: "RSA".into(),
            }),
            "ENCRYPTED PRIVATE KEY" => Err(Error::InvalidPrivateKey {
                reason: "the key is encrypted (PKCS#8); decrypt it first, e.g. \
                         `openssl pkcs8 -in KEY -out plain.pem`"
                    .into(),
            }),
            label if label.starts_with("ENCRYPTED") => Err(Error::InvalidPrivateKey {
                reason: format!("{label:?} is already a cosign key; use it directly"),
            }),
            label => Err(Error::UnsupportedPemLabel {
                label: label.to_owned(),
                expected: "PRIVATE KEY or EC PRIVATE KEY",
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

    /// The PKCS#8 DER encoding (138 bytes, as Go's `x509.MarshalPKCS8PrivateKey` writes it).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = self
            .0
            .to_pkcs8_der()
            .map_err(|e| Error::InvalidPrivateKey {
                reason: e.to_string(),
            })?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// Signs a SHA-256 digest; returns the ASN.1 DER signature.
    pub fn sign_digest(&self, digest: &Sha256Digest) -> Result<Vec<u8>> {
        let sig: DerSignature =
            self.0
                .sign_prehash(digest.as_bytes())
                .map_err(|e| Error::InvalidPrivateKey {
                    reason: format!("signing failed: {e}"),
                })?;
        Ok(sig.as_bytes().to_vec())
    }
}

/// An ECDSA P-256 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads a PKIX `PUBLIC KEY` PEM.
    pub fn from_pem(text: &[u8]) -> Result<Self> {
        let block = pem::decode(text)?;
        match block.label.as_str() {
            PUBLIC_KEY_LABEL => Self::from_spki_der(&block.der),
            "RSA PUBLIC KEY" => Err(Error::UnsupportedKeyType {
                found: "RSA".into(),
            }),
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
        require_p256(&info.algorithm, || Error::InvalidPublicKey {
            reason: "EC key without a named curve".into(),
        })?;
        VerifyingKey::from_public_key_der(der)
            .map(PublicKey)
            .map_err(|e| Error::InvalidPublicKey {
                reason: e.to_string(),
            })
    }

    /// The PKIX SubjectPublicKeyInfo DER.
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.0
            .to_public_key_der()
            .expect("a valid P-256 point always encodes")
            .as_bytes()
            .to_vec()
    }

    /// The PEM cosign writes to `cosign.pub` and prints from `public-key`.
    pub fn to_pem(&self) -> String {
        pem::encode(PUBLIC_KEY_LABEL, &self.to_spki_der())
    }

    /// Verifies `signature` (ASN.1 DER, or raw IEEE P1363 `r‖s` as sigstore also accepts) over a
    /// SHA-256 digest.
    pub fn verify_digest(&self, digest: &Sha256Digest, signature: &[u8]) -> Result<()> {
        // AWS-LC first (several times faster); only its acceptance is final, see
        // `crate::ecdsa_fast`.
        if signature.first() == Some(&0x30)
            && crate::ecdsa_fast::verify_digest_der(
                crate::ecdsa_fast::Curve::P256,
                self.0.to_sec1_point(false).as_bytes(),
                digest.as_bytes(),
                signature,
            ) == Some(true)
        {
            return Ok(());
        }
        let sig = match Signature::from_der(signature) {
            Ok(sig) => sig,
            Err(_) if signature.len() == 64 => {
                Signature::from_slice(signature).map_err(|e| Error::MalformedSignature {
                    reason: format!("invalid r||s signature: {e}"),
                })?
            }
            Err(_) => {
                return Err(Error::MalformedSignature {
                    reason: format!(
                        "{} bytes that are neither an ASN.1 DER nor a 64-byte r||s ECDSA signature",
                        signature.len()
                    ),
                });
            }
        };
        self.0
            .verify_prehash(digest.as_bytes(), &sig)
            .map_err(|_| Error::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(data: &[u8]) -> Sha256Digest {
        Sha256Digest::of(data)
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
        // Raw r||s is accepted too.
        let raw = Signature::from_der(&sig).unwrap().to_bytes();
        public.verify_digest(&digest(b"payload"), &raw).unwrap();
    }

    #[test]
    fn public_pem_round_trip() {
        let public = PrivateKey::generate().public_key();
        let pem = public.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(PublicKey::from_pem(pem.as_bytes()).unwrap(), public);
    }
}
