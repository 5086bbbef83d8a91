//! The P-256 encodings PKCS#11 uses, converted to the ones cosign uses: `CKA_EC_PARAMS`
//! (the curve OID in DER), `CKA_EC_POINT` (the uncompressed point, normally wrapped in a DER
//! OCTET STRING) to a PKIX public key, and `CKM_ECDSA`'s raw `r‖s` to an ASN.1 DER signature.

use sigmirror_cosign::keys::PublicKey;

/// `CKA_EC_PARAMS` of P-256: the DER OID 1.2.840.10045.3.1.7 (prime256v1).
pub const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The SubjectPublicKeyInfo header of a P-256 key with an uncompressed point: SEQUENCE {
/// SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (65 bytes + 0 unused bits) }.
const SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A PKIX public key from `CKA_EC_POINT`: the DER OCTET STRING `04 41 04‖X‖Y` the standard
/// asks for, or the bare `04‖X‖Y` some modules return.
pub fn public_key_from_ec_point(ec_point: &[u8]) -> Result<PublicKey, String> {
    let point = match ec_point {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 && rest[0] == 0x04 => rest,
        [0x04, ..] if ec_point.len() == 65 => ec_point,
        _ => {
            return Err(format!(
                "CKA_EC_POINT is not an uncompressed P-256 point ({} bytes)",
                ec_point.len()
            ));
        }
    };
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(point);
    PublicKey::from_spki_der(&der).map_err(|e| e.to_string())
}

/// ASN.1 DER from `CKM_ECDSA`'s `r‖s` (32 bytes each for P-256).
pub fn der_signature(raw: &[u8]) -> Result<Vec<u8>, String> {
    let signature = p256::ecdsa::Signature::from_slice(raw).map_err(|e| {
        format!(
            "the token returned an invalid P-256 signature ({} bytes): {e}",
            raw.len()
        )
    })?;
    Ok(signature.to_der().as_bytes().to_vec())
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
        let point = &spki[SPKI_PREFIX.len()..];
        assert_eq!(&spki[..SPKI_PREFIX.len()], &SPKI_PREFIX);
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend_from_slice(point);
        assert_eq!(
            public_key_from_ec_point(&wrapped).unwrap(),
            key.public_key()
        );
        assert_eq!(public_key_from_ec_point(point).unwrap(), key.public_key());
        assert!(public_key_from_ec_point(&point[1..]).is_err());

        let digest = Sha256Digest::from_bytes([7; 32]);
        let der = key.sign_digest(&digest).unwrap();
        let raw = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        let back = der_signature(&raw).unwrap();
        key.public_key().verify_digest(&digest, &back).unwrap();
    }
}
