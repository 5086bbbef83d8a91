//! Checkpoints: a log's signed statement of its size and root hash, as a C2SP signed note.
//!
//! ```text
//! <origin>\n<size>\n<base64 root hash>\n[extension lines\n]*\n— <key name> <base64(key hint[4] || signature)>\n…
//! ```
//! Rekor v1 signs with ECDSA and marks its lines with the first four bytes of the SHA-256 of its
//! key; every line must be its own and verify. Rekor v2 signs with Ed25519 (key hint from the
//! name and key); lines of other keys (witness cosignatures) are ignored, a line of the log's key
//! that does not verify fails the checkpoint.

use super::bytes::{self, sha256};
use super::error::{Error, Result};
use super::keys::{HashAlgorithm, PublicKey, SignatureHash};
use super::trusted_root::TransparencyLog;

/// A verified checkpoint's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root_hash: Vec<u8>,
}

/// One signature line.
struct Line<'a> {
    name: &'a str,
    hint: [u8; 4],
    signature: Vec<u8>,
}

/// Splits a note into its signed text (body lines with their newlines) and signature lines, as
/// `golang.org/x/mod/sumdb/note.Open` does.
fn split(note: &str) -> std::result::Result<(&str, Vec<Line<'_>>), String> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err("control characters in the note".into());
    }
    let at = note
        .rfind("\n\n")
        .ok_or("no blank line before the signatures")?;
    let (text, sigs) = (&note[..=at], &note[at + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err("no signature lines".into());
    }
    let mut lines = vec![];
    for line in sigs.trim_end_matches('\n').split('\n') {
        let rest = line
            .strip_prefix("— ")
            .ok_or_else(|| format!("signature line {line:?} does not start with \"— \""))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| format!("signature line {line:?} has no signature"))?;
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
            return Err(format!("invalid key name {name:?}"));
        }
        let raw = bytes::decode(b64).map_err(|e| format!("signature is not base64: {e}"))?;
        if raw.len() < 5 {
            return Err("signature too short".into());
        }
        lines.push(Line {
            name,
            hint: raw[..4].try_into().expect("checked length"),
            signature: raw[4..].to_vec(),
        });
    }
    if lines.len() > 100 {
        return Err("more than 100 signature lines".into());
    }
    Ok((text, lines))
}

/// Parses the signed body: origin, size, root hash, extension lines.
fn parse_body(text: &str) -> std::result::Result<Checkpoint, String> {
    let mut parts = text.splitn(4, '\n');
    let origin = parts.next().unwrap_or_default();
    let size = parts.next().ok_or("no tree size")?;
    let hash = parts.next().ok_or("no root hash")?;
    if parts.next().is_none() {
        return Err("truncated body".into());
    }
    if origin.is_empty() {
        return Err("empty origin".into());
    }
    let size: u64 = size
        .parse()
        .map_err(|_| format!("invalid tree size {size:?}"))?;
    let root_hash = bytes::decode(hash).map_err(|_| format!("invalid root hash {hash:?}"))?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root_hash,
    })
}

/// The key hint of an Ed25519 note key: `SHA-256(name || "\n" || 0x01 || key)[..4]`.
fn ed25519_hint(name: &str, key: &[u8]) -> [u8; 4] {
    let mut data = name.as_bytes().to_vec();
    data.push(b'\n');
    data.push(0x01);
    data.extend_from_slice(key);
    sha256(&data)[..4].try_into().expect("4 bytes")
}

fn error(log: &TransparencyLog, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        log_id: log.log_id_hex(),
        reason: reason.into(),
    }
}

/// Verifies a Rekor v1 checkpoint: every signature line carries the log key's hint and verifies
/// over the body (the origin and names are not checked).
pub fn verify_v1(note: &str, log: &TransparencyLog) -> Result<Checkpoint> {
    let (text, lines) = split(note).map_err(|e| error(log, e))?;
    let hint: [u8; 4] = sha256(&log.key.spki_der())[..4]
        .try_into()
        .expect("4 bytes");
    if lines.is_empty() {
        return Err(error(log, "no signature lines"));
    }
    for line in &lines {
        if line.hint != hint {
            return Err(error(
                log,
                format!(
                    "signature by an unknown key (hint {}, the log's is {})",
                    bytes::hex(&line.hint),
                    bytes::hex(&hint)
                ),
            ));
        }
        let hash = match &log.key {
            PublicKey::P384(_) => SignatureHash::Hashed(HashAlgorithm::Sha384),
            PublicKey::P521(_) => SignatureHash::Hashed(HashAlgorithm::Sha512),
            PublicKey::Ed25519(_) => SignatureHash::Pure,
            _ => SignatureHash::Hashed(HashAlgorithm::Sha256),
        };
        log.key
            .verify(text.as_bytes(), &line.signature, hash)
            .map_err(|_| error(log, "the log's signature does not verify"))?;
    }
    parse_body(text).map_err(|e| error(log, e))
}

/// Verifies a Rekor v2 checkpoint: the line of the log's key (its name is the log's host) must
/// verify, other lines are ignored, and the origin must be the log's host.
pub fn verify_v2(note: &str, log: &TransparencyLog) -> Result<Checkpoint> {
    let (text, lines) = split(note).map_err(|e| error(log, e))?;
    let name = log.host();
    if name.is_empty() {
        return Err(error(log, "the trusted root gives the log no base URL"));
    }
    let hint = match &log.key {
        PublicKey::Ed25519(k) => ed25519_hint(name, k.as_bytes()),
        // ECDSA note keys use the key's hash, as in Rekor v1.
        other => sha256(&other.spki_der())[..4].try_into().expect("4 bytes"),
    };
    let mut verified = false;
    let mut seen = false;
    for line in lines.iter().filter(|l| l.name == name && l.hint == hint) {
        if seen {
            continue;
        }
        seen = true;
        log.key
            .verify(text.as_bytes(), &line.signature, log.key.default_hash())
            .map_err(|_| error(log, "the log's signature does not verify"))?;
        verified = true;
    }
    if !verified {
        return Err(error(log, format!("no signature by the log's key {name}")));
    }
    let checkpoint = parse_body(text).map_err(|e| error(log, e))?;
    if checkpoint.origin != name {
        return Err(error(
            log,
            format!(
                "origin {:?} is not the log's host {name:?}",
                checkpoint.origin
            ),
        ));
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_split_like_go() {
        let note = "origin\n5\naGk=\n\n— name AAAAAAE=\n";
        let (text, lines) = split(note).unwrap();
        assert_eq!(text, "origin\n5\naGk=\n");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].hint, [0, 0, 0, 0]);
        assert_eq!(lines[0].signature, [1]);
        assert!(split("origin\n5\naGk=\n\n").is_err(), "no signatures");
        assert!(split("origin\n5\naGk=\n\nx name AAAAAAE=\n").is_err());
        assert!(
            split("origin\n5\naGk=\n\n— name AAAAAAE=").is_err(),
            "no final newline"
        );
        let body = parse_body(text).unwrap();
        assert_eq!(
            (body.origin.as_str(), body.size, body.root_hash.as_slice()),
            ("origin", 5, &b"hi"[..])
        );
        assert!(parse_body("origin\nfive\naGk=\n").is_err());
    }
}
