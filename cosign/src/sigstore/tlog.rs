//! Rekor log entries in a bundle: the signed entry timestamp (Rekor v1's promise), the inclusion
//! proof against a signed checkpoint (Rekor v1 and v2), and the match between the logged entry
//! and the signature, key and artifact the bundle claims.

use serde_json::Value;

use super::bytes::{self, hex};
use super::certificate::Certificate;
use super::checkpoint;
use super::error::{Error, Result};
use super::keys::{HashAlgorithm, PublicKey, SignatureHash};
use super::merkle;
use super::time::Instant;
use super::trusted_root::TransparencyLog;

/// An inclusion proof with its checkpoint.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// The leaf's index in the tree the proof is for.
    pub log_index: i64,
    /// The tree's root hash.
    pub root_hash: Vec<u8>,
    /// The tree's size.
    pub tree_size: i64,
    /// The path, leaf to root.
    pub hashes: Vec<Vec<u8>>,
    /// The signed note of the tree head.
    pub checkpoint: String,
}

/// One transparency-log entry of a bundle.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// The entry's index in the log (Rekor v1: across shards).
    pub log_index: i64,
    /// The log's ID.
    pub log_id: Vec<u8>,
    /// `hashedrekord`, `dsse`, `intoto`.
    pub kind: String,
    /// The kind's version.
    pub version: String,
    /// When the log integrated it (Unix seconds; 0 for Rekor v2).
    pub integrated_time: i64,
    /// Rekor v1's signed entry timestamp.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    /// The inclusion proof.
    pub inclusion_proof: Option<InclusionProof>,
    /// The logged entry, exactly as the log canonicalised it.
    pub body: Vec<u8>,
}

impl LogEntry {
    /// Whether it is a Rekor v2 entry.
    pub fn is_rekor_v2(&self) -> bool {
        self.kind == "hashedrekord" && self.version == "0.0.2"
    }
}

/// What the bundle says was signed, for matching against the log entry.
#[derive(Debug, Clone, Copy)]
pub enum SignedContent<'a> {
    /// A signature over an artifact digest.
    Message {
        /// The digest's algorithm.
        algorithm: HashAlgorithm,
        /// The digest.
        digest: &'a [u8],
        /// The signature.
        signature: &'a [u8],
    },
    /// A DSSE envelope with one signature.
    Dsse {
        /// The payload type.
        payload_type: &'a str,
        /// The payload.
        payload: &'a [u8],
        /// The signature.
        signature: &'a [u8],
        /// The envelope's exact bytes, when known (then a logged envelope hash must match).
        envelope: Option<&'a [u8]>,
    },
}

/// The key material the bundle verifies with.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// A certificate (keyless).
    Certificate(&'a Certificate),
    /// A managed key.
    Key(&'a PublicKey),
}

fn tlog_error(reason: impl Into<String>) -> Error {
    Error::Tlog {
        reason: reason.into(),
    }
}

fn mismatch(reason: impl Into<String>) -> Error {
    Error::EntryMismatch {
        reason: reason.into(),
    }
}

/// RFC 8785 canonical JSON of the SET payload (keys in byte order, no whitespace).
fn set_payload(entry: &LogEntry) -> Vec<u8> {
    format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        bytes::encode(&entry.body),
        entry.integrated_time,
        hex(&entry.log_id),
        entry.log_index
    )
    .into_bytes()
}

/// Verifies Rekor v1's signed entry timestamp with `log`'s key, at the entry's integrated time.
pub fn verify_set(entry: &LogEntry, log: &TransparencyLog) -> Result<()> {
    let error = |reason: String| Error::SignedEntryTimestamp {
        log_id: log.log_id_hex(),
        reason,
    };
    let set = entry
        .signed_entry_timestamp
        .as_deref()
        .ok_or_else(|| error("the entry has no signed entry timestamp".into()))?;
    let at = Instant::from_unix_seconds(entry.integrated_time);
    if !log.valid_for.contains(at) {
        return Err(error(format!(
            "integrated at {at}, outside the log key's validity {}",
            log.valid_for
        )));
    }
    if !matches!(log.key, PublicKey::P256(_) | PublicKey::P384(_)) {
        return Err(error("the log key is not an ECDSA key".into()));
    }
    log.key
        .verify(
            &set_payload(entry),
            set,
            SignatureHash::Hashed(HashAlgorithm::Sha256),
        )
        .map_err(|_| error("the signature does not verify".into()))
}

/// Checks that the entry is in `log`: its inclusion proof leads to the root hash of a checkpoint
/// the log signed. `leaf` is the logged entry (Rekor v2: rebuilt from the bundle).
pub fn verify_inclusion(entry: &LogEntry, log: &TransparencyLog, leaf: &[u8]) -> Result<()> {
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| tlog_error("the entry has no inclusion proof"))?;
    let error = |reason: String| Error::InclusionProof {
        log_id: log.log_id_hex(),
        reason,
    };
    let hashes = proof
        .hashes
        .iter()
        .map(|h| merkle::Hash::try_from(h.as_slice()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| error("a proof hash is not 32 bytes".into()))?;
    let to_u64 =
        |v: i64, what: &str| u64::try_from(v).map_err(|_| error(format!("negative {what}")));
    let leaf_hash = merkle::leaf_hash(leaf);
    if entry.is_rekor_v2() {
        let checkpoint = checkpoint::verify_v2(&proof.checkpoint, log)?;
        let root: merkle::Hash = checkpoint
            .root_hash
            .as_slice()
            .try_into()
            .map_err(|_| error("the checkpoint root is not 32 bytes".into()))?;
        if proof.log_index != entry.log_index
            || to_u64(proof.tree_size, "tree size")? != checkpoint.size
            || proof.root_hash != checkpoint.root_hash
        {
            return Err(error(
                "the proof's index, size or root differs from the entry and checkpoint".into(),
            ));
        }
        merkle::verify_inclusion(
            to_u64(entry.log_index, "log index")?,
            checkpoint.size,
            &leaf_hash,
            &hashes,
            &root,
        )
        .map_err(|e| error(e.to_string()))
    } else {
        let root: merkle::Hash = proof
            .root_hash
            .as_slice()
            .try_into()
            .map_err(|_| error("the root hash is not 32 bytes".into()))?;
        merkle::verify_inclusion(
            to_u64(proof.log_index, "log index")?,
            to_u64(proof.tree_size, "tree size")?,
            &leaf_hash,
            &hashes,
            &root,
        )
        .map_err(|e| error(e.to_string()))?;
        let checkpoint = checkpoint::verify_v1(&proof.checkpoint, log)?;
        if checkpoint.root_hash != proof.root_hash {
            return Err(error(format!(
                "the proof's root {} is not the checkpoint's {}",
                hex(&proof.root_hash),
                hex(&checkpoint.root_hash)
            )));
        }
        Ok(())
    }
}

/// The PEM (certificate or public key) a v1 entry names, as DER-level key material.
fn pem_matches(pem_b64: &str, signer: Signer<'_>) -> Result<()> {
    let pem = bytes::decode(pem_b64).map_err(|_| mismatch("the logged key is not base64"))?;
    let block = crate::pem::decode(&pem).map_err(|_| mismatch("the logged key is not PEM"))?;
    match signer {
        Signer::Certificate(cert) => {
            if block.label != "CERTIFICATE" || block.der != cert.der() {
                return Err(mismatch("the logged certificate is not the bundle's"));
            }
        }
        Signer::Key(key) => {
            let logged = match block.label.as_str() {
                "CERTIFICATE" => Certificate::from_der(&block.der)?.public_key()?,
                _ => PublicKey::from_pem(&pem)?,
            };
            if logged != *key {
                return Err(mismatch("the logged public key is not the trusted key"));
            }
        }
    }
    Ok(())
}

fn field<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k))
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str> {
    field(value, path)
        .and_then(Value::as_str)
        .ok_or_else(|| tlog_error(format!("the logged entry has no {}", path.join("."))))
}

/// Parses the logged body, refusing kinds sigmirror does not check and bodies whose kind differs
/// from the entry's `kindVersion`.
pub fn parse_body(entry: &LogEntry) -> Result<Value> {
    let body: Value = serde_json::from_slice(&entry.body)
        .map_err(|e| tlog_error(format!("the logged entry is not JSON: {e}")))?;
    let kind = text(&body, &["kind"])?;
    let version = text(&body, &["apiVersion"])?;
    if kind != entry.kind || version != entry.version {
        return Err(tlog_error(format!(
            "the logged entry is {kind} {version}, the bundle says {} {}",
            entry.kind, entry.version
        )));
    }
    match (kind, version) {
        ("hashedrekord", "0.0.1" | "0.0.2") | ("dsse", "0.0.1") | ("intoto", "0.0.2") => Ok(body),
        _ => Err(tlog_error(format!(
            "unsupported log entry type {kind} {version}"
        ))),
    }
}

/// Checks that a Rekor v1 entry logs this signature, key and content.
pub fn match_v1_body(body: &Value, content: SignedContent<'_>, signer: Signer<'_>) -> Result<()> {
    let kind = text(body, &["kind"])?;
    match (kind, content) {
        (
            "hashedrekord",
            SignedContent::Message {
                algorithm,
                digest,
                signature,
            },
        ) => {
            let logged_sig = bytes::decode(text(body, &["spec", "signature", "content"])?)
                .map_err(|_| mismatch("the logged signature is not base64"))?;
            if logged_sig != signature {
                return Err(mismatch("the logged signature is not the bundle's"));
            }
            pem_matches(
                text(body, &["spec", "signature", "publicKey", "content"])?,
                signer,
            )?;
            let logged_alg = text(body, &["spec", "data", "hash", "algorithm"])?;
            if HashAlgorithm::from_name(logged_alg) != Some(algorithm) {
                return Err(mismatch(format!(
                    "the logged digest is {logged_alg}, the bundle's {}",
                    algorithm.name()
                )));
            }
            let logged_digest = bytes::unhex(text(body, &["spec", "data", "hash", "value"])?)
                .ok_or_else(|| mismatch("the logged digest is not hex"))?;
            if logged_digest != digest {
                return Err(mismatch(format!(
                    "the logged artifact digest {} is not the bundle's {}",
                    hex(&logged_digest),
                    hex(digest)
                )));
            }
            Ok(())
        }
        (
            "dsse",
            SignedContent::Dsse {
                payload,
                signature,
                envelope,
                ..
            },
        ) => {
            if let Some(envelope) = envelope {
                let logged = bytes::unhex(text(body, &["spec", "envelopeHash", "value"])?)
                    .ok_or_else(|| mismatch("the envelope hash is not hex"))?;
                if logged != bytes::sha256(envelope) {
                    return Err(mismatch(
                        "the logged envelope hash is not the stored envelope's",
                    ));
                }
            }
            let first = field(body, &["spec", "signatures"])
                .and_then(Value::as_array)
                .and_then(|s| s.first())
                .ok_or_else(|| mismatch("the logged entry has no signature"))?;
            let logged_sig = bytes::decode(text(first, &["signature"])?)
                .map_err(|_| mismatch("the logged signature is not base64"))?;
            if logged_sig != signature {
                return Err(mismatch("the logged signature is not the envelope's"));
            }
            pem_matches(text(first, &["verifier"])?, signer)?;
            payload_hash(body, &["spec", "payloadHash"], payload)
        }
        (
            "intoto",
            SignedContent::Dsse {
                payload, signature, ..
            },
        ) => {
            let first = field(body, &["spec", "content", "envelope", "signatures"])
                .and_then(Value::as_array)
                .and_then(|s| s.first())
                .ok_or_else(|| mismatch("the logged entry has no signature"))?;
            // Base64 twice: the entry holds the base64 of the envelope's base64 signature.
            let once = bytes::decode(text(first, &["sig"])?)
                .map_err(|_| mismatch("the logged signature is not base64"))?;
            let logged_sig = std::str::from_utf8(&once)
                .ok()
                .and_then(|t| bytes::decode(t).ok())
                .ok_or_else(|| mismatch("the logged signature is not base64"))?;
            if logged_sig != signature {
                return Err(mismatch("the logged signature is not the envelope's"));
            }
            pem_matches(text(first, &["publicKey"])?, signer)?;
            payload_hash(body, &["spec", "content", "payloadHash"], payload)
        }
        (kind, _) => Err(mismatch(format!(
            "a {kind} entry does not log this kind of signature"
        ))),
    }
}

fn payload_hash(body: &Value, path: &[&str], payload: &[u8]) -> Result<()> {
    let mut at = path.to_vec();
    at.push("value");
    let logged =
        bytes::unhex(text(body, &at)?).ok_or_else(|| mismatch("the payload hash is not hex"))?;
    if logged != bytes::sha256(payload) {
        return Err(mismatch(
            "the logged payload hash is not the envelope payload's",
        ));
    }
    Ok(())
}

/// The Rekor v2 entry (`hashedrekord` 0.0.2) the bundle implies, in canonical JSON: what the log
/// must hold at the proven leaf.
pub fn rebuild_v2_body(content: SignedContent<'_>, signer: Signer<'_>) -> Result<Vec<u8>> {
    let key = match signer {
        Signer::Certificate(c) => c.public_key()?,
        Signer::Key(k) => k.clone(),
    };
    let (details, hash) = match &key {
        PublicKey::P256(_) => ("PKIX_ECDSA_P256_SHA_256", HashAlgorithm::Sha256),
        PublicKey::P384(_) => ("PKIX_ECDSA_P384_SHA_384", HashAlgorithm::Sha384),
        PublicKey::P521(_) => ("PKIX_ECDSA_P521_SHA_512", HashAlgorithm::Sha512),
        PublicKey::Ed25519(_) => ("PKIX_ED25519_PH", HashAlgorithm::Sha512),
        PublicKey::Rsa(k) => {
            let bits = rsa::traits::PublicKeyParts::n(k).bit_width();
            let name = match bits {
                0..=2048 => "PKIX_RSA_PKCS1V15_2048_SHA256",
                2049..=3072 => "PKIX_RSA_PKCS1V15_3072_SHA256",
                _ => "PKIX_RSA_PKCS1V15_4096_SHA256",
            };
            (name, HashAlgorithm::Sha256)
        }
    };
    let (algorithm, digest, signature) = match content {
        SignedContent::Message {
            algorithm,
            digest,
            signature,
        } => (algorithm, digest.to_vec(), signature),
        SignedContent::Dsse {
            payload_type,
            payload,
            signature,
            ..
        } => (
            hash,
            hash.digest(&crate::dsse::pae(payload_type, payload)),
            signature,
        ),
    };
    let algorithm_name = match algorithm {
        HashAlgorithm::Sha256 => "SHA2_256",
        HashAlgorithm::Sha384 => "SHA2_384",
        HashAlgorithm::Sha512 => "SHA2_512",
    };
    let verifier = match signer {
        Signer::Certificate(c) => format!(
            r#"{{"keyDetails":"{details}","x509Certificate":{{"rawBytes":"{}"}}}}"#,
            bytes::encode(c.der())
        ),
        Signer::Key(k) => format!(
            r#"{{"keyDetails":"{details}","publicKey":{{"rawBytes":"{}"}}}}"#,
            bytes::encode(&k.spki_der())
        ),
    };
    Ok(format!(
        r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"{algorithm_name}","digest":"{}"}},"signature":{{"content":"{}","verifier":{verifier}}}}}}}}}"#,
        bytes::encode(&digest),
        bytes::encode(signature)
    )
    .into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_payload_is_canonical() {
        let entry = LogEntry {
            log_index: 7,
            log_id: vec![0xab; 2],
            kind: "hashedrekord".into(),
            version: "0.0.1".into(),
            integrated_time: 1_689_177_396,
            signed_entry_timestamp: None,
            inclusion_proof: None,
            body: b"{}".to_vec(),
        };
        assert_eq!(
            String::from_utf8(set_payload(&entry)).unwrap(),
            r#"{"body":"e30=","integratedTime":1689177396,"logID":"abab","logIndex":7}"#
        );
    }
}
