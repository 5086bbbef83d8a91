//! Bytes in Sigstore's JSON: protobuf's JSON mapping writes `bytes` fields as base64, and its
//! Go decoder (which every Sigstore client follows) takes the standard or the URL alphabet,
//! with padding exactly when the length is a multiple of four, and skips CR and LF.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde::{Deserialize, Deserializer};
use sha2::{Digest as _, Sha256};

const fn engine(
    alphabet: &base64::alphabet::Alphabet,
    padding: DecodePaddingMode,
) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(padding)
            .with_decode_allow_trailing_bits(true),
    )
}

const STD_PADDED: GeneralPurpose = engine(
    &base64::alphabet::STANDARD,
    DecodePaddingMode::RequireCanonical,
);
const STD_UNPADDED: GeneralPurpose =
    engine(&base64::alphabet::STANDARD, DecodePaddingMode::RequireNone);
const URL_PADDED: GeneralPurpose = engine(
    &base64::alphabet::URL_SAFE,
    DecodePaddingMode::RequireCanonical,
);
const URL_UNPADDED: GeneralPurpose =
    engine(&base64::alphabet::URL_SAFE, DecodePaddingMode::RequireNone);

/// Decodes a protobuf-JSON `bytes` value.
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let url = text.contains(['-', '_']);
    let padded = text.len().is_multiple_of(4);
    let cleaned: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let engine = match (url, padded) {
        (false, true) => &STD_PADDED,
        (false, false) => &STD_UNPADDED,
        (true, true) => &URL_PADDED,
        (true, false) => &URL_UNPADDED,
    };
    engine.decode(cleaned)
}

/// Standard base64 with padding (what Sigstore writes).
pub fn encode(bytes: &[u8]) -> String {
    general_purpose::STANDARD.encode(bytes)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase or uppercase hex to bytes.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A `bytes` field of Sigstore JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProtoBytes(pub Vec<u8>);

impl<'de> Deserialize<'de> for ProtoBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text)
            .map(ProtoBytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// Sigstore's `X509Certificate` message: one DER certificate.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireCert {
    #[serde(alias = "raw_bytes")]
    pub raw_bytes: ProtoBytes,
}

/// Sigstore's `X509CertificateChain` message.
#[derive(Deserialize)]
pub(crate) struct WireChain {
    #[serde(default)]
    pub certificates: Vec<WireCert>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_protojson() {
        assert_eq!(decode("aGk=").unwrap(), b"hi");
        assert_eq!(
            decode("aGk").unwrap(),
            b"hi",
            "unpadded when not a multiple of 4"
        );
        assert!(
            decode("aGk=\n").is_err(),
            "length counted with the newline: padding refused"
        );
        assert_eq!(decode("aG\nk=\n\n\n").unwrap(), b"hi");
        assert_eq!(decode("-_8=").unwrap(), [0xfb, 0xff]);
        assert!(decode("not base64!").is_err());
        assert_eq!(unhex("0aFF"), Some(vec![10, 255]));
        assert_eq!(unhex("abc"), None);
    }
}
