//! The key encodings PKCS#11 uses, converted to the ones cosign uses: `CKA_EC_PARAMS` (the
//! curve OID in DER) and `CKA_EC_POINT` (the uncompressed point, normally wrapped in a DER
//! OCTET STRING) to a PKIX public key, `CKM_ECDSA`'s raw `r‖s` to an ASN.1 DER signature;
//! `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT` to an RSA public key, and the DigestInfo `CKM_RSA_PKCS`
//! signs for a PKCS#1 v1.5 signature over a SHA-256 digest.

use sigmirror_cosign::keys::PublicKey;

/// The curves cosign signs with that tokens hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// prime256v1.
    P256,
    /// secp384r1.
    P384,
}

/// `CKA_EC_PARAMS` of P-256: the DER OID 1.2.840.10045.3.1.7 (prime256v1).
pub const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `CKA_EC_PARAMS` of P-384: the DER OID 1.3.132.0.34 (secp384r1).
const P384_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// The DER DigestInfo header of a SHA-256 digest: what `CKM_RSA_PKCS` signs, the digest after
/// it, for a PKCS#1 v1.5 signature (RFC 8017, section 9.2).
pub const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

impl Curve {
    /// The curve whose `CKA_EC_PARAMS` these are.
    pub fn from_params(params: &[u8]) -> Option<Curve> {
        match params {
            p if p == P256_PARAMS => Some(Curve::P256),
            p if p == P384_PARAMS => Some(Curve::P384),
            _ => None,
        }
    }

    /// The uncompressed point's length.
    fn point_len(self) -> usize {
        match self {
            Curve::P256 => 65,
            Curve::P384 => 97,
        }
    }

    /// The curve's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
}

/// A PKIX public key from `CKA_EC_POINT`: the DER OCTET STRING `04 LEN 04‖X‖Y` the standard
/// asks for, or the bare `04‖X‖Y` some modules return.
pub fn public_key_from_ec_point(curve: Curve, ec_point: &[u8]) -> Result<PublicKey, String> {
    let len = curve.point_len();
    let point = match ec_point {
        [0x04, l, rest @ ..] if usize::from(*l) == len && rest.len() == len && rest[0] == 0x04 => {
            rest
        }
        [0x04, ..] if ec_point.len() == len => ec_point,
        _ => {
            return Err(format!(
                "CKA_EC_POINT is not an uncompressed {} point ({} bytes)",
                curve.name(),
                ec_point.len()
            ));
        }
    };
    PublicKey::from_ec_point(curve.name(), point).map_err(|e| e.to_string())
}

/// ASN.1 DER from `CKM_ECDSA`'s `r‖s` (32 bytes each for P-256, 48 for P-384).
pub fn der_signature(curve: Curve, raw: &[u8]) -> Result<Vec<u8>, String> {
    // r and s, each as long as a coordinate: the uncompressed point less its 04 prefix.
    let expected = curve.point_len() - 1;
    if raw.len() != expected {
        return Err(format!(
            "the token returned an invalid {} signature ({} bytes, not {expected})",
            curve.name(),
            raw.len()
        ));
    }
    sigmirror_cosign::keys::ecdsa_der_from_raw(raw).map_err(|e| e.to_string())
}

/// A PKIX public key from an RSA key's `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT` (big-endian).
pub fn rsa_public_key(modulus: &[u8], exponent: &[u8]) -> Result<PublicKey, String> {
    PublicKey::from_rsa_components(modulus, exponent).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sigmirror_cosign::keys::PrivateKey;
    use sigmirror_cosign::keys::Sha256Digest;

    #[test]
    fn ec_point_both_encodings_and_signature_conversion() {
        let key = PrivateKey::generate();
        let spki = key.public_key().to_spki_der();
        // The uncompressed point ends the SubjectPublicKeyInfo.
        let point = &spki[spki.len() - 65..];
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend_from_slice(point);
        assert_eq!(
            public_key_from_ec_point(Curve::P256, &wrapped).unwrap(),
            key.public_key()
        );
        assert_eq!(
            public_key_from_ec_point(Curve::P256, point).unwrap(),
            key.public_key()
        );
        assert!(public_key_from_ec_point(Curve::P256, &point[1..]).is_err());
        assert!(public_key_from_ec_point(Curve::P384, point).is_err());

        let digest = Sha256Digest::from_bytes([7; 32]);
        let der = key.sign_digest(&digest).unwrap();
        let raw = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        let back = der_signature(Curve::P256, &raw).unwrap();
        key.public_key().verify_digest(&digest, &back).unwrap();
    }

    #[test]
    fn p384_points_and_rsa_numbers_make_the_keys_they_are() {
        // A P-384 key from its point, as a token gives it.
        let secret = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
        let point = secret.verifying_key().to_sec1_point(false);
        let mut wrapped = vec![0x04, 0x61];
        wrapped.extend_from_slice(point.as_bytes());
        let public = public_key_from_ec_point(Curve::P384, &wrapped).unwrap();
        assert_eq!(public.algorithm(), "ECDSA P-384");
        let digest = Sha256Digest::from_bytes([3; 32]);
        let sig: p384::ecdsa::Signature =
            p384::ecdsa::signature::hazmat::PrehashSigner::sign_prehash(&secret, digest.as_bytes())
                .unwrap();
        let der = der_signature(Curve::P384, &sig.to_bytes()).unwrap();
        public.verify_digest(&digest, &der).unwrap();
        // An RSA modulus with its high bit set, and the usual exponent.
        let mut modulus = vec![0xc5u8; 256];
        modulus[255] = 0x0b;
        let rsa = rsa_public_key(&modulus, &[0x01, 0x00, 0x01]).unwrap();
        assert_eq!(rsa.algorithm(), "RSA");
        let spki = rsa.to_spki_der();
        assert!(spki.windows(256).any(|w| w == modulus.as_slice()));
        assert!(
            rsa_public_key(&modulus[..64], &[3]).is_err(),
            "512 bits is too small"
        );
    }
}
