//! The public keys Sigstore's components sign with, whatever their algorithm: ECDSA P-256 and
//! P-384 (Fulcio, Rekor v1, CT logs, timestamp authorities), Ed25519 (Rekor v2), RSA PKCS#1 v1.5
//! (some CT logs and CAs); and ECDSA P-521, which cosign key pairs may hold. Signatures are verified over a message with a named hash, or over a
//! digest computed elsewhere; ECDSA signatures may be DER or raw `r || s`, as sigstore accepts.

use ed25519_dalek::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::{DecodePublicKey as _, EncodePublicKey as _};

use super::error::{Error, Result};
use crate::ecdsa_fast::{Curve, verify_digest_der};

/// A hash function named by a signature algorithm, a key or a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha384 => Sha384::digest(data).to_vec(),
            HashAlgorithm::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// From the names bundles and log entries use: `SHA2_256`, `sha256`, …
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SHA2_256" | "sha256" => Some(HashAlgorithm::Sha256),
            "SHA2_384" | "sha384" => Some(HashAlgorithm::Sha384),
            "SHA2_512" | "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// The name `oci` digests use: `sha256`, …
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// From a digest algorithm OID (RFC 3161 imprints, CMS digest algorithms).
    pub fn from_oid(oid: &const_oid::ObjectIdentifier) -> Option<Self> {
        use const_oid::db::rfc5912::{ID_SHA_256, ID_SHA_384, ID_SHA_512};
        match *oid {
            ID_SHA_256 => Some(HashAlgorithm::Sha256),
            ID_SHA_384 => Some(HashAlgorithm::Sha384),
            ID_SHA_512 => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// How a signature is checked: over a message hashed with a function, or pure (Ed25519).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureHash {
    /// Hash the message with this function, then verify the signature over the digest.
    Hashed(HashAlgorithm),
    /// Verify over the message itself (pure Ed25519).
    Pure,
}

impl SignatureHash {
    /// The hash an X.509 or CMS signature algorithm names (`ecdsa-with-SHA256`,
    /// `sha384WithRSAEncryption`, Ed25519, …); `None` for algorithms that name no hash.
    pub fn of_signature_algorithm(oid: &const_oid::ObjectIdentifier) -> Option<Self> {
        use const_oid::db::rfc5912::{
            ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512,
            SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
        };
        use const_oid::db::rfc8410::ID_ED_25519;
        Some(match *oid {
            ECDSA_WITH_SHA_256 | SHA_256_WITH_RSA_ENCRYPTION => Self::Hashed(HashAlgorithm::Sha256),
            ECDSA_WITH_SHA_384 | SHA_384_WITH_RSA_ENCRYPTION => Self::Hashed(HashAlgorithm::Sha384),
            ECDSA_WITH_SHA_512 | SHA_512_WITH_RSA_ENCRYPTION => Self::Hashed(HashAlgorithm::Sha512),
            ID_ED_25519 => Self::Pure,
            _ => return None,
        })
    }
}

/// A public key of one of the algorithms Sigstore uses.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA (PKCS#1 v1.5 signatures).
    Rsa(rsa::PublicKey),
    /// ECDSA P-521 (verified by AWS-LC, see `crate::ecdsa_fast`).
    P521(P521Key),
}

/// A P-521 public key: its SubjectPublicKeyInfo and the uncompressed point inside.
#[derive(Debug, Clone)]
pub struct P521Key {
    spki: Vec<u8>,
    point: Vec<u8>,
}

impl P521Key {
    /// The key whose uncompressed SEC1 point is `point` (0x04, X, Y: 133 bytes).
    pub fn from_point(point: &[u8]) -> Result<Self> {
        use const_oid::db::rfc5912::{ID_EC_PUBLIC_KEY, SECP_521_R_1};
        if point.len() != 133 || point[0] != 4 {
            return Err(Error::Key {
                reason: "a P-521 point is 133 bytes, uncompressed".into(),
            });
        }
        // On the curve: AWS-LC, which verifies P-521 signatures, checks it.
        aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P521_SHA512_ASN1,
            point,
        )
        .map_err(|_| Error::Key {
            reason: "the P-521 point is not on the curve".into(),
        })?;
        let algorithm = spki::AlgorithmIdentifierOwned {
            oid: ID_EC_PUBLIC_KEY,
            parameters: Some(SECP_521_R_1.into()),
        };
        let info = spki::SubjectPublicKeyInfoOwned {
            algorithm,
            subject_public_key: der::asn1::BitString::from_bytes(point).map_err(|e| {
                Error::Key {
                    reason: format!("invalid P-521 point: {e}"),
                }
            })?,
        };
        let spki = der::Encode::to_der(&info).map_err(|e| Error::Key {
            reason: format!("cannot encode a P-521 key: {e}"),
        })?;
        Ok(P521Key {
            spki,
            point: point.to_vec(),
        })
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der() == other.spki_der()
    }
}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo (what every certificate and trusted root holds).
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let bad = |reason: String| Error::Key { reason };
        let spki = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| bad(format!("not a SubjectPublicKeyInfo: {e}")))?;
        let algorithm = spki.algorithm.oid;
        use const_oid::db::rfc5912::{
            ID_EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1, SECP_384_R_1, SECP_521_R_1,
        };
        use const_oid::db::rfc8410::ID_ED_25519;
        if algorithm == ID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|e| bad(format!("EC key without a named curve: {e}")))?;
            return match curve {
                SECP_256_R_1 => p256::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::P256)
                    .map_err(|e| bad(format!("invalid P-256 key: {e}"))),
                SECP_384_R_1 => p384::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::P384)
                    .map_err(|e| bad(format!("invalid P-384 key: {e}"))),
                SECP_521_R_1 => spki
                    .subject_public_key
                    .as_bytes()
                    .ok_or_else(|| bad("P-521 key with unused bits".into()))
                    .and_then(P521Key::from_point)
                    .map(PublicKey::P521),
                other => Err(bad(format!("unsupported elliptic curve {other}"))),
            };
        }
        if algorithm == ID_ED_25519 {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(der)
                .map_err(|e| bad(format!("invalid Ed25519 key: {e}")))?;
            // A small-order key "verifies" signatures nobody made.
            if key.is_weak() {
                return Err(bad("a weak (small-order) Ed25519 key".into()));
            }
            return Ok(PublicKey::Ed25519(key));
        }
        if algorithm == RSA_ENCRYPTION {
            return rsa::PublicKey::from_public_key_der(der)
                .map(PublicKey::Rsa)
                .map_err(|e| bad(format!("invalid RSA key: {e}")));
        }
        Err(bad(format!("unsupported key algorithm {algorithm}")))
    }

    /// Parses a PKCS#1 `RSAPublicKey` (a trusted root's `PKCS1_RSA_PKCS1V5` keys).
    pub fn from_pkcs1_rsa_der(der: &[u8]) -> Result<Self> {
        rsa::PublicKey::from_pkcs1_der(der)
            .map(PublicKey::Rsa)
            .map_err(|e| Error::Key {
                reason: format!("invalid PKCS#1 RSA key: {e}"),
            })
    }

    /// Parses a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1) block.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let block = crate::pem::decode(pem).map_err(|e| Error::Key {
            reason: e.to_string(),
        })?;
        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_rsa_der(&block.der),
            other => Err(Error::Key {
                reason: format!("unsupported PEM type {other:?} (expected PUBLIC KEY)"),
            }),
        }
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        let der = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
            PublicKey::Rsa(k) => k.to_public_key_der(),
            PublicKey::P521(k) => return k.spki.clone(),
        };
        der.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The hash this key signs with by default (Sigstore's algorithm registry): P-256 and RSA
    /// SHA-256, P-384 SHA-384, P-521 SHA-512, Ed25519 pure.
    pub fn default_hash(&self) -> SignatureHash {
        match self {
            PublicKey::P256(_) | PublicKey::Rsa(_) => SignatureHash::Hashed(HashAlgorithm::Sha256),
            PublicKey::P384(_) => SignatureHash::Hashed(HashAlgorithm::Sha384),
            PublicKey::P521(_) => SignatureHash::Hashed(HashAlgorithm::Sha512),
            PublicKey::Ed25519(_) => SignatureHash::Pure,
        }
    }

    /// Verifies `sig` over `message`, hashed as `hash` says.
    pub fn verify(&self, message: &[u8], sig: &[u8], hash: SignatureHash) -> Result<()> {
        match (self, hash) {
            (PublicKey::Ed25519(k), SignatureHash::Pure) => {
                let sig =
                    ed25519_dalek::Signature::from_slice(sig).map_err(|_| Error::BadSignature)?;
                k.verify(message, &sig).map_err(|_| Error::BadSignature)
            }
            (PublicKey::Ed25519(_), SignatureHash::Hashed(_)) => Err(Error::Key {
                reason: "Ed25519 pre-hashed signatures are not supported".into(),
            }),
            (_, SignatureHash::Pure) => Err(Error::Key {
                reason: "only Ed25519 keys sign without a hash".into(),
            }),
            (_, SignatureHash::Hashed(h)) => self.verify_prehash(&h.digest(message), sig),
        }
    }

    /// Verifies `sig` over a digest computed elsewhere (ECDSA and RSA keys).
    pub fn verify_prehash(&self, digest: &[u8], sig: &[u8]) -> Result<()> {
        match self {
            PublicKey::P256(k) => {
                if accepted_fast(Curve::P256, k.to_sec1_point(false).as_bytes(), digest, sig) {
                    return Ok(());
                }
                let sig = p256::ecdsa::Signature::from_der(sig)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(sig))
                    .map_err(|_| Error::BadSignature)?;
                k.verify_prehash(digest, &sig)
                    .map_err(|_| Error::BadSignature)
            }
            PublicKey::P384(k) => {
                if accepted_fast(Curve::P384, k.to_sec1_point(false).as_bytes(), digest, sig) {
                    return Ok(());
                }
                let sig = p384::ecdsa::Signature::from_der(sig)
                    .or_else(|_| p384::ecdsa::Signature::from_slice(sig))
                    .map_err(|_| Error::BadSignature)?;
                k.verify_prehash(digest, &sig)
                    .map_err(|_| Error::BadSignature)
            }
            PublicKey::Rsa(k) => {
                let sig =
                    rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| Error::BadSignature)?;
                let verifier = match digest.len() {
                    32 => rsa_verify::<Sha256>(k, digest, &sig),
                    48 => rsa_verify::<Sha384>(k, digest, &sig),
                    64 => rsa_verify::<Sha512>(k, digest, &sig),
                    n => {
                        return Err(Error::Key {
                            reason: format!("no RSA hash gives a {n}-byte digest"),
                        });
                    }
                };
                verifier.map_err(|_| Error::BadSignature)
            }
            PublicKey::P521(k) => crate::ecdsa_fast::verify_p521(&k.point, digest, sig)
                .then_some(())
                .ok_or(Error::BadSignature),
            PublicKey::Ed25519(_) => Err(Error::Key {
                reason: "Ed25519 keys do not sign digests".into(),
            }),
        }
    }

    /// Verifies a signature made by a message-verifying API (`Verifier`), for callers that hold
    /// a key's default pairing: ECDSA with the curve's hash, Ed25519 pure.
    pub fn verify_default(&self, message: &[u8], sig: &[u8]) -> Result<()> {
        self.verify(message, sig, self.default_hash())
    }

    /// A short name of the algorithm, for messages.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ECDSA P-256",
            PublicKey::P384(_) => "ECDSA P-384",
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::Rsa(_) => "RSA",
            PublicKey::P521(_) => "ECDSA P-521",
        }
    }
}

/// Whether AWS-LC accepts `sig` as a DER signature (see `crate::ecdsa_fast`). Only an
/// acceptance is final: anything else is decided by the pure-Rust path, so a raw `r || s`
/// signature that happens to start like DER, or a digest length AWS-LC has no algorithm for,
/// is judged exactly as before. Refusals are rare; acceptances are the common, fast case.
fn accepted_fast(curve: Curve, point: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    sig.first() == Some(&0x30) && verify_digest_der(curve, point, digest, sig) == Some(true)
}

fn rsa_verify<D>(
    key: &rsa::PublicKey,
    digest: &[u8],
    sig: &rsa::pkcs1v15::Signature,
) -> std::result::Result<(), rsa::signature::Error>
where
    D: sha2::Digest + const_oid::AssociatedOid,
{
    rsa::pkcs1v15::VerifyingKey::<D>::new(key.clone()).verify_prehash(digest, sig)
}

/// A key of this crate's own key type, as a Sigstore public key.
impl From<&crate::keys::PublicKey> for PublicKey {
    fn from(key: &crate::keys::PublicKey) -> Self {
        key.as_sigstore().clone()
    }
}
