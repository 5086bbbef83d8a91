//! Sigstore bundles v0.1 to v0.3: the signature (over an artifact digest, or a DSSE envelope),
//! the key material (a certificate, a v0.1/v0.2 chain, or a hint at a managed key), the
//! transparency-log entries and RFC 3161 timestamps. Parsed with protobuf's JSON rules as the Go
//! clients apply them, and checked for the version rules before anything is verified.

use serde::{Deserialize, Deserializer};

use super::bytes::{ProtoBytes, WireCert, WireChain};
use super::certificate::Certificate;
use super::error::{Error, Result};
use super::keys::HashAlgorithm;
use super::tlog::{InclusionProof, LogEntry};

/// The largest bundle read (public-good bundles are a few KiB; DSSE payloads can be larger).
pub const MAX_SIZE: u64 = 32 << 20;

/// Bundles hold at most this many log entries and timestamps (sigstore-go's limits).
const MAX_ENTRIES: usize = 32;

/// The key material of a bundle.
#[derive(Debug, Clone)]
pub enum Material {
    /// A signing certificate (v0.3), or the first of a v0.1/v0.2 chain.
    Certificate(Box<Certificate>),
    /// A hint at a managed key (the key itself comes from the verifier).
    PublicKey {
        /// The unauthenticated hint.
        hint: String,
    },
}

/// What the bundle signs.
#[derive(Debug, Clone)]
pub enum Content {
    /// A signature over an artifact digest.
    Message {
        /// The digest's algorithm.
        algorithm: HashAlgorithm,
        /// The artifact's digest.
        digest: Vec<u8>,
        /// The signature.
        signature: Vec<u8>,
    },
    /// A DSSE envelope.
    Dsse {
        /// The payload type.
        payload_type: String,
        /// The payload.
        payload: Vec<u8>,
        /// The signatures (exactly one verifies a bundle).
        signatures: Vec<Vec<u8>>,
    },
}

impl Content {
    /// The signature bytes timestamps cover.
    pub fn signature(&self) -> &[u8] {
        match self {
            Content::Message { signature, .. } => signature,
            Content::Dsse { signatures, .. } => signatures.first().map_or(&[], Vec::as_slice),
        }
    }
}

/// A parsed bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The minor version: 1, 2 or 3.
    pub minor_version: u32,
    /// Key material.
    pub material: Material,
    /// Transparency-log entries.
    pub tlog_entries: Vec<LogEntry>,
    /// RFC 3161 `TimeStampResp`s, DER.
    pub timestamps: Vec<Vec<u8>>,
    /// The signed content.
    pub content: Content,
    /// The envelope's exact bytes, when it was stored as a file of its own (cosign's classic
    /// attestations): timestamps cover them, and the logged envelope hash must match them.
    pub envelope_json: Option<Vec<u8>>,
}

impl Bundle {
    /// The bytes RFC 3161 timestamps in this bundle must cover.
    pub fn timestamped_bytes(&self) -> &[u8] {
        self.envelope_json
            .as_deref()
            .unwrap_or_else(|| self.content.signature())
    }
}

fn bad(reason: impl Into<String>) -> Error {
    Error::Bundle {
        reason: reason.into(),
    }
}

/// An int64 field: protobuf's JSON writes it as a string, and also accepts a number.
#[derive(Debug, Clone, Copy, Default)]
struct ProtoInt(i64);

impl<'de> Deserialize<'de> for ProtoInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ProtoInt(n)),
            Raw::Text(t) => t
                .parse()
                .map(ProtoInt)
                .map_err(|_| serde::de::Error::custom(format!("invalid int64 {t:?}"))),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    media_type: String,
    #[serde(alias = "verification_material")]
    verification_material: Option<WireMaterial>,
    #[serde(alias = "message_signature")]
    message_signature: Option<WireMessage>,
    #[serde(alias = "dsse_envelope")]
    dsse_envelope: Option<WireEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMaterial {
    #[serde(alias = "public_key")]
    public_key: Option<WireHint>,
    #[serde(alias = "x509_certificate_chain")]
    x509_certificate_chain: Option<WireChain>,
    certificate: Option<WireCert>,
    #[serde(default, alias = "tlog_entries")]
    tlog_entries: Vec<WireEntry>,
    #[serde(alias = "timestamp_verification_data")]
    timestamp_verification_data: Option<WireTimestamps>,
}

#[derive(Deserialize)]
struct WireHint {
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTimestamps {
    #[serde(default, alias = "rfc3161_timestamps")]
    rfc3161_timestamps: Vec<WireTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTimestamp {
    #[serde(alias = "signed_timestamp")]
    signed_timestamp: ProtoBytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry {
    #[serde(default, alias = "log_index")]
    log_index: ProtoInt,
    #[serde(alias = "log_id")]
    log_id: Option<WireLogId>,
    #[serde(alias = "kind_version")]
    kind_version: Option<WireKindVersion>,
    #[serde(default, alias = "integrated_time")]
    integrated_time: ProtoInt,
    #[serde(alias = "inclusion_promise")]
    inclusion_promise: Option<WirePromise>,
    #[serde(alias = "inclusion_proof")]
    inclusion_proof: Option<WireProof>,
    #[serde(alias = "canonicalized_body")]
    canonicalized_body: Option<ProtoBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    #[serde(alias = "key_id")]
    key_id: Option<ProtoBytes>,
}

#[derive(Deserialize)]
struct WireKindVersion {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePromise {
    #[serde(alias = "signed_entry_timestamp")]
    signed_entry_timestamp: ProtoBytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireProof {
    #[serde(default, alias = "log_index")]
    log_index: ProtoInt,
    #[serde(default, alias = "root_hash")]
    root_hash: ProtoBytes,
    #[serde(default, alias = "tree_size")]
    tree_size: ProtoInt,
    #[serde(default)]
    hashes: Vec<ProtoBytes>,
    checkpoint: Option<WireCheckpoint>,
}

#[derive(Deserialize)]
struct WireCheckpoint {
    #[serde(default)]
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage {
    #[serde(alias = "message_digest")]
    message_digest: Option<WireDigest>,
    #[serde(default)]
    signature: ProtoBytes,
}

#[derive(Deserialize)]
struct WireDigest {
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    digest: ProtoBytes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvelope {
    #[serde(default)]
    payload: ProtoBytes,
    #[serde(default, alias = "payload_type")]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<WireSig>,
}

#[derive(Deserialize)]
struct WireSig {
    #[serde(default)]
    sig: ProtoBytes,
}

/// The bundle version a media type names (`…bundle+json;version=0.3` or `…bundle.v0.3+json`).
fn minor_version(media_type: &str) -> Result<u32> {
    let unsupported = || Error::UnsupportedBundle {
        media_type: media_type.to_owned(),
    };
    let version = if let Some(v) =
        media_type.strip_prefix("application/vnd.dev.sigstore.bundle+json;version=")
    {
        v
    } else if let Some(v) = media_type
        .strip_prefix("application/vnd.dev.sigstore.bundle.v")
        .and_then(|v| v.strip_suffix("+json"))
    {
        v
    } else {
        return Err(unsupported());
    };
    let mut parts = version.split('.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    let patch_ok = parts.next().is_none_or(|p| p.parse::<u32>().is_ok()) && parts.next().is_none();
    match (major, minor, patch_ok) {
        (Some(0), Some(m @ 1..=3), true) => Ok(m),
        _ => Err(unsupported()),
    }
}

fn entry(wire: WireEntry, index: usize) -> Result<LogEntry> {
    let what = |field: &str| bad(format!("tlog entry {index}: {field}"));
    let body = wire
        .canonicalized_body
        .ok_or_else(|| what("no canonicalized body"))?
        .0;
    let log_id = wire
        .log_id
        .and_then(|l| l.key_id)
        .ok_or_else(|| what("no log ID"))?
        .0;
    let kind_version = wire
        .kind_version
        .ok_or_else(|| what("no kind and version"))?;
    if wire.log_index.0 < 0 {
        return Err(what("negative log index"));
    }
    let inclusion_proof = match wire.inclusion_proof {
        Some(p) => {
            let checkpoint = p
                .checkpoint
                .map(|c| c.envelope)
                .filter(|e| !e.is_empty())
                .ok_or_else(|| what("inclusion proof without a checkpoint"))?;
            Some(InclusionProof {
                log_index: p.log_index.0,
                root_hash: p.root_hash.0,
                tree_size: p.tree_size.0,
                hashes: p.hashes.into_iter().map(|h| h.0).collect(),
                checkpoint,
            })
        }
        None => None,
    };
    Ok(LogEntry {
        log_index: wire.log_index.0,
        log_id,
        kind: kind_version.kind,
        version: kind_version.version,
        integrated_time: wire.integrated_time.0,
        signed_entry_timestamp: wire.inclusion_promise.map(|p| p.signed_entry_timestamp.0),
        inclusion_proof,
        body,
    })
}

/// Whether `json` is a Sigstore bundle (rather than cosign's older blob bundle): an object whose
/// `mediaType` names one, of any version (an unknown version is then refused by name).
pub fn is_sigstore_bundle(json: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType", default)]
        media_type: String,
    }
    serde_json::from_slice::<Probe>(json).is_ok_and(|p| {
        p.media_type
            .starts_with("application/vnd.dev.sigstore.bundle")
    })
}

impl Bundle {
    /// Parses and checks a bundle's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let minor_version = minor_version(&wire.media_type)?;
        let content = match (wire.message_signature, wire.dsse_envelope) {
            (Some(m), None) => {
                let digest = m
                    .message_digest
                    .ok_or_else(|| bad("message signature without a digest"))?;
                let algorithm = HashAlgorithm::from_name(&digest.algorithm).ok_or_else(|| {
                    bad(format!(
                        "unsupported digest algorithm {:?}",
                        digest.algorithm
                    ))
                })?;
                Content::Message {
                    algorithm,
                    digest: digest.digest.0,
                    signature: m.signature.0,
                }
            }
            (None, Some(e)) => Content::Dsse {
                payload_type: e.payload_type,
                payload: e.payload.0,
                signatures: e.signatures.into_iter().map(|s| s.sig.0).collect(),
            },
            (Some(_), Some(_)) => return Err(bad("both a message signature and a DSSE envelope")),
            (None, None) => return Err(bad("neither a message signature nor a DSSE envelope")),
        };
        let vm = wire
            .verification_material
            .ok_or_else(|| bad("no verification material"))?;
        let material = match (vm.public_key, vm.x509_certificate_chain, vm.certificate) {
            (Some(h), None, None) => Material::PublicKey { hint: h.hint },
            (None, Some(chain), None) => {
                if minor_version >= 3 {
                    return Err(bad("a v0.3 bundle cannot carry a certificate chain"));
                }
                let mut certs = chain
                    .certificates
                    .iter()
                    .map(|c| Certificate::from_der(&c.raw_bytes.0))
                    .collect::<Result<Vec<_>>>()?;
                if certs.is_empty() {
                    return Err(bad("empty certificate chain"));
                }
                // Only the leaf is used: trust comes from the trusted root. A root certificate
                // in the bundle is refused outright (signers must not include one).
                if certs[1..].iter().any(|c| c.is_ca() && c.is_self_signed()) {
                    return Err(bad("the certificate chain includes a root certificate"));
                }
                Material::Certificate(Box::new(certs.swap_remove(0)))
            }
            (None, None, Some(cert)) => {
                Material::Certificate(Box::new(Certificate::from_der(&cert.raw_bytes.0)?))
            }
            _ => {
                return Err(bad(
                    "verification material must be exactly one of a public key, a certificate chain or a certificate",
                ));
            }
        };
        if vm.tlog_entries.len() > MAX_ENTRIES {
            return Err(bad("too many transparency-log entries"));
        }
        let tlog_entries = vm
            .tlog_entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| entry(e, i))
            .collect::<Result<Vec<_>>>()?;
        let timestamps: Vec<Vec<u8>> = vm
            .timestamp_verification_data
            .map(|t| {
                t.rfc3161_timestamps
                    .into_iter()
                    .map(|t| t.signed_timestamp.0)
                    .collect()
            })
            .unwrap_or_default();
        if timestamps.len() > MAX_ENTRIES {
            return Err(bad("too many timestamps"));
        }
        if minor_version == 1
            && !tlog_entries.is_empty()
            && !tlog_entries
                .iter()
                .any(|e| e.signed_entry_timestamp.is_some())
        {
            return Err(bad("a v0.1 bundle needs an inclusion promise"));
        }
        if minor_version >= 2
            && !tlog_entries.is_empty()
            && !tlog_entries.iter().any(|e| e.inclusion_proof.is_some())
        {
            return Err(bad(format!(
                "a v0.{minor_version} bundle needs an inclusion proof"
            )));
        }
        Ok(Bundle {
            minor_version,
            material,
            tlog_entries,
            timestamps,
            content,
            envelope_json: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_name_versions() {
        for (mt, v) in [
            ("application/vnd.dev.sigstore.bundle+json;version=0.1", 1),
            ("application/vnd.dev.sigstore.bundle+json;version=0.2", 2),
            ("application/vnd.dev.sigstore.bundle+json;version=0.3", 3),
            ("application/vnd.dev.sigstore.bundle.v0.3+json", 3),
            ("application/vnd.dev.sigstore.bundle.v0.3.1+json", 3),
        ] {
            assert_eq!(minor_version(mt).unwrap(), v, "{mt}");
        }
        for bad in [
            "application/vnd.dev.sigstore.bundle+json;version=99.9",
            "application/vnd.dev.sigstore.bundle.v0.4+json",
            "application/vnd.dev.sigstore.bundle.v1.0+json",
            "application/json",
        ] {
            assert!(
                matches!(minor_version(bad), Err(Error::UnsupportedBundle { .. })),
                "{bad}"
            );
        }
    }
}
