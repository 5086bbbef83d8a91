//! PEM exactly as Go's `encoding/pem` writes it (the bytes cosign produces), and a reader as
//! lenient as Go's: text before the first block is ignored, only the first block is used.

use crate::b64;
use crate::error::{Error, Result};

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label, e.g. `PUBLIC KEY`.
    pub label: String,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// Encodes like Go's `pem.EncodeToMemory`: standard base64 with padding in lines of 64
/// characters, `\n` line ends, a trailing newline, no headers.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = b64::encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes the first PEM block in `text`.
pub fn decode(text: &[u8]) -> Result<PemBlock> {
    let text = std::str::from_utf8(text).map_err(|_| Error::Pem {
        reason: "not UTF-8 text".into(),
    })?;
    decode_first(text).map(|(block, _)| block)
}

/// Decodes every PEM block in `text`, in order (e.g. `EC PARAMETERS` then `EC PRIVATE KEY` as
/// `openssl ecparam -genkey` writes them).
pub fn decode_all(text: &[u8]) -> Result<Vec<PemBlock>> {
    let mut text = std::str::from_utf8(text).map_err(|_| Error::Pem {
        reason: "not UTF-8 text".into(),
    })?;
    let mut blocks = vec![];
    while text.contains("-----BEGIN ") || blocks.is_empty() {
        let (block, used) = decode_first(text)?;
        blocks.push(block);
        text = &text[used..];
    }
    Ok(blocks)
}

/// The first block and how many bytes of `text` it used.
fn decode_first(text: &str) -> Result<(PemBlock, usize)> {
    let err = |reason: &str| Error::Pem {
        reason: reason.to_owned(),
    };
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| err("no PEM block found"))?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| err("unterminated BEGIN line"))?;
    let label = &rest[..label_end];
    if label.contains('\n') {
        return Err(err("unterminated BEGIN line"));
    }
    let body_and_end = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body_and_end
        .find(&end_marker)
        .ok_or_else(|| err(&format!("no END line for {label:?} (truncated file?)")))?;
    let body = &body_and_end[..end];
    let used = text.len() - body_and_end.len() + end + end_marker.len();
    // Go skips RFC 1421 headers ("Key: value" lines before a blank line); cosign writes none,
    // but accept them the same way.
    let body = match body.find("\n\n") {
        Some(i) if body[..i].contains(':') => &body[i + 2..],
        _ => body,
    };
    let der = b64::decode_lenient(body.as_bytes())
        .map_err(|e| err(&format!("body of {label:?} is not base64: {e}")))?;
    if der.is_empty() {
        return Err(err(&format!("empty {label:?} block")));
    }
    Ok((
        PemBlock {
            label: label.to_owned(),
            der,
        },
        used,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_wraps_at_64_and_ends_with_newline() {
        let der = vec![0xAB; 100];
        let pem = encode("PUBLIC KEY", &der);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().unwrap(), &"-----END PUBLIC KEY-----");
        assert!(pem.ends_with("-----\n"));
        assert_eq!(decode(pem.as_bytes()).unwrap().der, der);
    }

    #[test]
    fn decode_ignores_leading_text_and_reports_problems() {
        let pem = format!("junk before\n{}", encode("X", b"hello"));
        assert_eq!(decode(pem.as_bytes()).unwrap().label, "X");
        assert!(decode(b"").is_err());
        assert!(
            decode(b"-----BEGIN X-----\naGVsbG8=\n").is_err(),
            "truncated"
        );
        assert!(decode(b"-----BEGIN X-----\n!!!!\n-----END X-----\n").is_err());
        assert!(decode(b"-----BEGIN X-----\n-----END X-----\n").is_err());
    }

    #[test]
    fn decode_all_returns_every_block() {
        let two = format!("{}{}", encode("A", b"one"), encode("B", b"two"));
        let blocks = decode_all(two.as_bytes()).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            (blocks[1].label.as_str(), blocks[1].der.as_slice()),
            ("B", &b"two"[..])
        );
    }
}
