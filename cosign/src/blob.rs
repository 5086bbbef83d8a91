//! `sign-blob` / `verify-blob`: a signature over the SHA-256 of a file's bytes (or the digest
//! the key's signer makes, SHA-384 for a P-384 key in AWS KMS), which are streamed so memory
//! stays flat for any size; an Ed25519 key signs the bytes themselves, so for it the file is
//! read whole, as cosign does.

use std::io::Read;
use std::path::Path;

use crate::b64;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::signer::{HashAlgorithm, Prehash, Signer};
use sigmirror_oci::digest::Sha256Digest;

/// A signed blob: its digest and the DER signature.
#[derive(Debug, Clone)]
pub struct BlobSignature {
    /// SHA-256 of the blob.
    pub digest: Sha256Digest,
    /// Bytes hashed.
    pub size: u64,
    /// The signature (ASN.1 DER for ECDSA).
    pub signature: Vec<u8>,
}

/// Hashes `blob` in one streaming pass and signs the digest (Ed25519: reads it whole and signs
/// the bytes).
pub fn sign_blob(signer: &dyn Signer, mut blob: impl Read) -> Result<BlobSignature> {
    let hash = match signer.prehash()? {
        Prehash::Message => {
            let message = read_whole(&mut blob)?;
            return Ok(BlobSignature {
                digest: Sha256Digest::of(&message),
                size: message.len() as u64,
                signature: signer.sign_message(&message)?,
            });
        }
        Prehash::Digest(hash) => hash,
    };
    let (digest, size, other) = hash_blob(blob, Some(hash))?;
    let signature = match other {
        Some(prehash) => signer.sign_prehashed(hash, &prehash)?,
        None => signer.sign_digest(&digest)?,
    };
    Ok(BlobSignature {
        digest,
        size,
        signature,
    })
}

/// Hashes `blob` in one streaming pass and verifies `signature` over it (Ed25519: reads it
/// whole and verifies over the bytes).
pub fn verify_blob(key: &PublicKey, mut blob: impl Read, signature: &[u8]) -> Result<Sha256Digest> {
    if key.signs_messages() {
        let message = read_whole(&mut blob)?;
        key.verify_message(&message, signature)?;
        return Ok(Sha256Digest::of(&message));
    }
    let curve_hash = key.curve_hash();
    let (digest, _, other) = hash_blob(blob, curve_hash)?;
    match (key.verify_digest(&digest, signature), other) {
        // A P-384/P-521 signature over the curve's own hash (AWS KMS, cosign 3).
        (Err(Error::InvalidSignature), Some(prehash)) => key.verify_prehash(&prehash, signature)?,
        (result, _) => result?,
    }
    Ok(digest)
}

/// The SHA-256 of `blob`, its size, and in the same pass its digest with `other` when that is
/// not SHA-256.
fn hash_blob(
    blob: impl Read,
    other: Option<HashAlgorithm>,
) -> Result<(Sha256Digest, u64, Option<Vec<u8>>)> {
    let mut tee = Tee {
        inner: blob,
        hasher: match other {
            Some(HashAlgorithm::Sha384) => Some(OtherHasher::Sha384(sha2::Sha384::default())),
            Some(HashAlgorithm::Sha512) => Some(OtherHasher::Sha512(sha2::Sha512::default())),
            _ => None,
        },
    };
    let (digest, size) = Sha256Digest::of_reader(&mut tee).map_err(|e| Error::io("<blob>", e))?;
    let other = tee.hasher.map(|h| match h {
        OtherHasher::Sha384(h) => sha2::Digest::finalize(h).to_vec(),
        OtherHasher::Sha512(h) => sha2::Digest::finalize(h).to_vec(),
    });
    Ok((digest, size, other))
}

enum OtherHasher {
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

/// A reader that also feeds what it reads to a second hasher.
struct Tee<R> {
    inner: R,
    hasher: Option<OtherHasher>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match &mut self.hasher {
            Some(OtherHasher::Sha384(h)) => sha2::Digest::update(h, &buf[..n]),
            Some(OtherHasher::Sha512(h)) => sha2::Digest::update(h, &buf[..n]),
            None => {}
        }
        Ok(n)
    }
}

fn read_whole(blob: &mut impl Read) -> Result<Vec<u8>> {
    let mut message = vec![];
    blob.read_to_end(&mut message)
        .map_err(|e| Error::io("<blob>", e))?;
    Ok(message)
}

/// Resolves a `--signature` argument the way cosign does: if it names an existing file, the
/// file's contents, else the argument itself; contents that decode as standard base64 (line
/// breaks ignored) are base64, anything else is taken as raw signature bytes.
pub fn read_signature_arg(arg: &str) -> Result<Vec<u8>> {
    let path = Path::new(arg);
    let content = if path.is_file() {
        std::fs::read(path).map_err(|e| Error::io(path, e))?
    } else {
        arg.as_bytes().to_vec()
    };
    let trimmed = content.trim_ascii();
    if trimmed.is_empty() {
        return Err(Error::MalformedSignature {
            reason: "the signature is empty".into(),
        });
    }
    Ok(b64::decode_lenient(trimmed).unwrap_or(content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    #[test]
    fn sign_then_verify_and_reject_other_bytes() {
        let key = PrivateKey::generate();
        let sig = sign_blob(&key, &b"artifact"[..]).unwrap();
        assert_eq!(sig.size, 8);
        verify_blob(&key.public_key(), &b"artifact"[..], &sig.signature).unwrap();
        assert!(verify_blob(&key.public_key(), &b"artifacT"[..], &sig.signature).is_err());
    }

    #[test]
    fn signature_argument_forms() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.sig");
        std::fs::write(&file, "MEU=").unwrap();
        assert_eq!(
            read_signature_arg(file.to_str().unwrap()).unwrap(),
            b"\x30\x45"
        );
        assert_eq!(read_signature_arg("MEU=").unwrap(), b"\x30\x45");
        // Not base64: taken as raw bytes, which then fail to verify as a signature.
        assert_eq!(read_signature_arg("notb64!!").unwrap(), b"notb64!!");
        assert!(read_signature_arg("  ").is_err());
    }
}
