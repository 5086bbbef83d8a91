//! Standard base64 as Go reads and writes it: padded standard alphabet, with `\r` and `\n`
//! ignored on decoding (Go's decoder skips them; other whitespace is an error there too).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

/// Encodes with the padded standard alphabet.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes padded standard base64, ignoring line breaks and surrounding whitespace of lines.
pub fn decode_lenient(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    let cleaned: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD.decode(cleaned)
}

/// Decodes as Go's `base64.StdEncoding.DecodeString`, which cosign uses for the signature
/// annotation of a `.sig` layer: line breaks (`\r`, `\n`) are skipped anywhere, but any other
/// whitespace is an error, as cosign refuses it.
pub fn decode_go_std(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    let cleaned: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    STANDARD.decode(cleaned)
}

/// Like [`decode_lenient`], falling back to the URL-safe alphabet (DSSE payloads may use it).
pub fn decode_std_or_url(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    decode_lenient(text).or_else(|e| {
        let cleaned: Vec<u8> = text
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        URL_SAFE.decode(cleaned).map_err(|_| e)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_std_skips_line_breaks_only() {
        let sig = super::encode(b"signature bytes");
        assert_eq!(
            super::decode_go_std(format!("{sig}\n").as_bytes()).unwrap(),
            b"signature bytes"
        );
        let wrapped = format!("{}\r\n{}", &sig[..8], &sig[8..]);
        assert!(super::decode_go_std(wrapped.as_bytes()).is_ok());
        for spaced in [format!(" {sig}"), format!("{sig} "), format!("{sig}\t")] {
            assert!(
                super::decode_go_std(spaced.as_bytes()).is_err(),
                "{spaced:?}"
            );
        }
    }

    use super::*;

    #[test]
    fn lenient_decode_skips_newlines_but_rejects_garbage() {
        assert_eq!(decode_lenient(b"aGVs\nbG8=\r\n").unwrap(), b"hello");
        assert!(decode_lenient(b"aGVsbG8").is_err(), "missing padding");
        assert!(decode_lenient(b"not base64!").is_err());
        assert_eq!(decode_std_or_url(b"-_8=").unwrap(), vec![0xfb, 0xff]);
    }
}
