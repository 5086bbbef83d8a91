//! ECDSA P-256 and P-384 verification through AWS-LC, for DER signatures over a digest; and
//! P-521, which only AWS-LC handles here (the pure-Rust ECDSA refuses a SHA-256 digest on a
//! 521-bit curve, which is what cosign signs P-521 keys with).
//!
//! Why: verification is most of a `verify`'s work (a keyless signature is four or five ECDSA
//! verifications: the signature, the Fulcio chain, the log's SET, an SCT), and the pure-Rust
//! curves run at about a quarter of OpenSSL's rate. AWS-LC is already linked for TLS. The
//! pure-Rust keys still parse keys and handle the rare raw `r || s` signature; both accept and
//! refuse the same signatures (same truncation of long digests, strict DER, high S accepted as
//! Go's crypto/ecdsa does), which the tests below check on random keys and tampered inputs.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::signature::{self, EcdsaVerificationAlgorithm, UnparsedPublicKey};

/// The curve of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

/// Verifies DER `sig` over `prehash` with the uncompressed SEC1 point `point`. `None` when this
/// path does not apply (a digest length it has no algorithm for): the caller verifies then.
pub(crate) fn verify_digest_der(
    curve: Curve,
    point: &[u8],
    prehash: &[u8],
    sig: &[u8],
) -> Option<bool> {
    let (algorithm, hash): (
        &'static EcdsaVerificationAlgorithm,
        &'static digest::Algorithm,
    ) = match (curve, prehash.len()) {
        (Curve::P256, 32) => (&signature::ECDSA_P256_SHA256_ASN1, &digest::SHA256),
        (Curve::P256, 48) => (&signature::ECDSA_P256_SHA384_ASN1, &digest::SHA384),
        (Curve::P384, 32) => (&signature::ECDSA_P384_SHA256_ASN1, &digest::SHA256),
        (Curve::P384, 48) => (&signature::ECDSA_P384_SHA384_ASN1, &digest::SHA384),
        (Curve::P521, 32) => (&signature::ECDSA_P521_SHA256_ASN1, &digest::SHA256),
        (Curve::P521, 48) => (&signature::ECDSA_P521_SHA384_ASN1, &digest::SHA384),
        (Curve::P521, 64) => (&signature::ECDSA_P521_SHA512_ASN1, &digest::SHA512),
        _ => return None,
    };
    let digest = Digest::import_less_safe(prehash, hash).ok()?;
    Some(
        UnparsedPublicKey::new(algorithm, point)
            .verify_digest(&digest, sig)
            .is_ok(),
    )
}

/// Verifies a P-521 signature, DER or raw `r || s` (132 bytes), over `prehash` (SHA-256, -384
/// or -512) with the uncompressed point `point`: AWS-LC is the only P-521 implementation here,
/// so its answer is final.
pub(crate) fn verify_p521(point: &[u8], prehash: &[u8], sig: &[u8]) -> bool {
    if verify_digest_der(Curve::P521, point, prehash, sig) == Some(true) {
        return true;
    }
    if sig.len() != 132 {
        return false;
    }
    let (algorithm, hash): (
        &'static EcdsaVerificationAlgorithm,
        &'static digest::Algorithm,
    ) = match prehash.len() {
        32 => (&signature::ECDSA_P521_SHA256_FIXED, &digest::SHA256),
        48 => (&signature::ECDSA_P521_SHA384_FIXED, &digest::SHA384),
        64 => (&signature::ECDSA_P521_SHA512_FIXED, &digest::SHA512),
        _ => return false,
    };
    Digest::import_less_safe(prehash, hash).is_ok_and(|digest| {
        UnparsedPublicKey::new(algorithm, point)
            .verify_digest(&digest, sig)
            .is_ok()
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use sha2::Digest as _;

    /// A few bytes that change from run to run, for varied inputs without a random-number crate.
    pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn agrees_with_the_pure_rust_curves_on_valid_and_tampered_signatures() {
        for seed in 0..40u64 {
            let message = noise(100, seed);
            // P-256 with SHA-256, and P-384 with SHA-384 and SHA-256.
            let key = p256::ecdsa::SigningKey::from_slice(&sha2::Sha256::digest(noise(32, seed)))
                .expect("key");
            let point = key.verifying_key().to_sec1_point(false);
            let prehash = sha2::Sha256::digest(&message);
            let sig: p256::ecdsa::Signature = key.sign_prehash(&prehash).expect("sign");
            let mut der = sig.to_der().as_bytes().to_vec();
            let mut cases = vec![(prehash.to_vec(), der.clone(), true)];
            let last = der.len() - 1;
            der[last] ^= 1;
            cases.push((prehash.to_vec(), der, false));
            let mut other = prehash.to_vec();
            other[0] ^= 0x80;
            cases.push((other, sig.to_der().as_bytes().to_vec(), false));
            for (digest, der, valid) in cases {
                let fast = verify_digest_der(Curve::P256, point.as_bytes(), &digest, &der);
                let slow = p256::ecdsa::Signature::from_der(&der)
                    .map(|s| key.verifying_key().verify_prehash(&digest, &s).is_ok())
                    .unwrap_or(false);
                assert_eq!(fast, Some(slow), "seed {seed}");
                assert_eq!(slow, valid, "seed {seed}");
            }

            let key384 =
                p384::ecdsa::SigningKey::from_slice(&sha2::Sha384::digest(noise(48, seed)))
                    .expect("key");
            let point = key384.verifying_key().to_sec1_point(false);
            for prehash in [
                sha2::Sha384::digest(&message).to_vec(),
                sha2::Sha256::digest(&message).to_vec(),
            ] {
                let sig: p384::ecdsa::Signature = key384.sign_prehash(&prehash).expect("sign");
                let der = sig.to_der().as_bytes().to_vec();
                assert_eq!(
                    verify_digest_der(Curve::P384, point.as_bytes(), &prehash, &der),
                    Some(true),
                    "seed {seed}"
                );
                let mut bad = der.clone();
                bad[10] ^= 4;
                let slow = p384::ecdsa::Signature::from_der(&bad)
                    .map(|s| key384.verifying_key().verify_prehash(&prehash, &s).is_ok())
                    .unwrap_or(false);
                assert_eq!(
                    verify_digest_der(Curve::P384, point.as_bytes(), &prehash, &bad),
                    Some(slow),
                    "seed {seed}"
                );
            }
        }
    }

    #[test]
    fn a_high_s_signature_is_accepted_by_both() {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("key");
        let prehash = sha2::Sha256::digest(b"high s");
        let sig: p256::ecdsa::Signature = key.sign_prehash(&prehash).expect("sign");
        // (r, n - s) is the other valid signature of the same digest.
        let (r, s) = sig.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r, -*s).expect("high s");
        let point = key.verifying_key().to_sec1_point(false);
        let der = high.to_der().as_bytes().to_vec();
        assert!(key.verifying_key().verify_prehash(&prehash, &high).is_ok());
        assert_eq!(
            verify_digest_der(Curve::P256, point.as_bytes(), &prehash, &der),
            Some(true)
        );
    }
}
