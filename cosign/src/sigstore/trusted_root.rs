//! A Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`): the
//! certificate authorities (Fulcio), transparency logs (Rekor v1 and v2), CT logs and timestamp
//! authorities a verification trusts, each with its validity window. Parsed as sigstore-go does:
//! an unsupported key or a log key without a validity start makes the whole root unusable.

use serde::Deserialize;

use super::bytes::{self, ProtoBytes, WireChain};
use super::certificate::Certificate;
use super::error::{Error, Result};
use super::keys::PublicKey;
use super::time::{Instant, TimeRange};

/// The one media type of trusted roots sigmirror reads.
pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/// The largest trusted-root file read (the public-good root is about 8 KiB).
pub const MAX_SIZE: u64 = 4 << 20;

/// A transparency log or CT log.
#[derive(Debug, Clone)]
pub struct TransparencyLog {
    /// Its base URL; the host is a Rekor v2 log's checkpoint name.
    pub base_url: String,
    /// Its signing key.
    pub key: PublicKey,
    /// Its log ID (as the trusted root states it; entries and SCTs are matched by it).
    pub log_id: Vec<u8>,
    /// When its key is valid.
    pub valid_for: TimeRange,
}

impl TransparencyLog {
    /// The host of its base URL (no scheme, port or path): the origin of a Rekor v2 checkpoint.
    pub fn host(&self) -> &str {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        let authority = authority.rsplit('@').next().unwrap_or_default();
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    }

    /// Hex of its log ID.
    pub fn log_id_hex(&self) -> String {
        hex(&self.log_id)
    }
}

/// A certificate authority (Fulcio) or timestamp authority.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    /// Its URI (a timestamp authority's identity).
    pub uri: String,
    /// Its chain as the trusted root lists it: issued certificates first, the root last.
    pub chain: Vec<Certificate>,
    /// When it may be used.
    pub valid_for: TimeRange,
}

impl CertificateAuthority {
    /// The root (the last certificate).
    pub fn root(&self) -> &Certificate {
        self.chain.last().expect("a parsed authority has a chain")
    }

    /// The certificates between a leaf and the root.
    pub fn intermediates(&self) -> &[Certificate] {
        &self.chain[..self.chain.len() - 1]
    }
}

/// A timestamp authority: its chain, and its signing certificate when the trusted root names
/// one (the first certificate, when it is not a CA).
impl CertificateAuthority {
    /// The timestamp authority's own signing certificate, if the chain starts with it.
    pub fn tsa_leaf(&self) -> Option<&Certificate> {
        self.chain
            .first()
            .filter(|c| !c.is_ca() && self.chain.len() > 1)
    }
}

/// A parsed trusted root.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<TransparencyLog>,
    /// Fulcio certificate authorities.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// CT logs.
    pub ctlogs: Vec<TransparencyLog>,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<WireLog>,
    #[serde(default)]
    certificate_authorities: Vec<WireCa>,
    #[serde(default)]
    ctlogs: Vec<WireLog>,
    #[serde(default)]
    timestamp_authorities: Vec<WireCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLog {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    hash_algorithm: Option<String>,
    public_key: Option<WireKey>,
    log_id: Option<WireLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireKey {
    raw_bytes: Option<ProtoBytes>,
    #[serde(default)]
    key_details: String,
    valid_for: Option<WireRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: Option<ProtoBytes>,
}

#[derive(Deserialize, Default)]
struct WireRange {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCa {
    #[serde(default)]
    uri: String,
    cert_chain: Option<WireChain>,
    valid_for: Option<WireRange>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad(reason: impl Into<String>) -> Error {
    Error::TrustedRoot {
        reason: reason.into(),
    }
}

fn range(wire: &WireRange, what: &str) -> Result<TimeRange> {
    let parse = |t: &Option<String>, end: &str| -> Result<Option<Instant>> {
        t.as_deref()
            .map(|text| {
                Instant::parse_rfc3339(text)
                    .ok_or_else(|| bad(format!("{what}: invalid {end} time {text:?}")))
            })
            .transpose()
    };
    Ok(TimeRange {
        start: parse(&wire.start, "start")?,
        end: parse(&wire.end, "end")?,
    })
}

fn parse_log(wire: &WireLog, kind: &str, index: usize) -> Result<TransparencyLog> {
    let what = format!("{kind}[{index}]");
    if wire.hash_algorithm.as_deref() != Some("SHA2_256") {
        return Err(bad(format!("{what}: hash algorithm must be SHA2_256")));
    }
    let log_id = wire
        .log_id
        .as_ref()
        .and_then(|l| l.key_id.as_ref())
        .ok_or_else(|| bad(format!("{what}: no log ID")))?
        .0
        .clone();
    let key = wire
        .public_key
        .as_ref()
        .ok_or_else(|| bad(format!("{what}: no public key")))?;
    let raw = key
        .raw_bytes
        .as_ref()
        .ok_or_else(|| bad(format!("{what}: no public key bytes")))?;
    let public = match key.key_details.as_str() {
        "PKCS1_RSA_PKCS1V5" => PublicKey::from_pkcs1_rsa_der(&raw.0),
        "PKIX_ECDSA_P256_SHA_256"
        | "PKIX_ECDSA_P384_SHA_384"
        | "PKIX_ED25519"
        | "PKIX_RSA_PKCS1V15_2048_SHA256"
        | "PKIX_RSA_PKCS1V15_3072_SHA256"
        | "PKIX_RSA_PKCS1V15_4096_SHA256" => PublicKey::from_spki_der(&raw.0),
        other => {
            return Err(bad(format!("{what}: unsupported key type {other:?}")));
        }
    }
    .map_err(|e| bad(format!("{what}: {e}")))?;
    let expected_algorithm = match key.key_details.as_str() {
        "PKIX_ECDSA_P256_SHA_256" => Some("ECDSA P-256"),
        "PKIX_ECDSA_P384_SHA_384" => Some("ECDSA P-384"),
        "PKIX_ED25519" => Some("Ed25519"),
        _ => Some("RSA"),
    };
    if expected_algorithm != Some(public.algorithm()) {
        return Err(bad(format!(
            "{what}: key details {} but the key is {}",
            key.key_details,
            public.algorithm()
        )));
    }
    let valid = key
        .valid_for
        .as_ref()
        .ok_or_else(|| bad(format!("{what}: no validity period for its key")))?;
    if valid.start.is_none() {
        return Err(bad(format!(
            "{what}: no start of its key's validity period"
        )));
    }
    Ok(TransparencyLog {
        base_url: wire.base_url.clone(),
        key: public,
        log_id,
        valid_for: range(valid, &what)?,
    })
}

fn parse_ca(wire: &WireCa, kind: &str, index: usize) -> Result<CertificateAuthority> {
    let what = format!("{kind}[{index}]");
    let chain = wire
        .cert_chain
        .as_ref()
        .map(|c| c.certificates.as_slice())
        .unwrap_or_default();
    if chain.is_empty() {
        return Err(bad(format!("{what}: empty certificate chain")));
    }
    let chain = chain
        .iter()
        .map(|c| Certificate::from_der(&c.raw_bytes.0).map_err(|e| bad(format!("{what}: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let unbounded = WireRange::default();
    Ok(CertificateAuthority {
        uri: wire.uri.clone(),
        chain,
        valid_for: range(wire.valid_for.as_ref().unwrap_or(&unbounded), &what)?,
    })
}

impl TrustedRoot {
    /// Parses trusted-root JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if wire.media_type != MEDIA_TYPE {
            return Err(bad(format!(
                "unsupported media type {:?} (expected {MEDIA_TYPE})",
                wire.media_type
            )));
        }
        let logs = |list: &[WireLog], kind: &str| -> Result<Vec<TransparencyLog>> {
            list.iter()
                .enumerate()
                .map(|(i, l)| parse_log(l, kind, i))
                .collect()
        };
        let cas = |list: &[WireCa], kind: &str| -> Result<Vec<CertificateAuthority>> {
            list.iter()
                .enumerate()
                .map(|(i, c)| parse_ca(c, kind, i))
                .collect()
        };
        Ok(TrustedRoot {
            tlogs: logs(&wire.tlogs, "tlogs")?,
            certificate_authorities: cas(&wire.certificate_authorities, "certificateAuthorities")?,
            ctlogs: logs(&wire.ctlogs, "ctlogs")?,
            timestamp_authorities: cas(&wire.timestamp_authorities, "timestampAuthorities")?,
        })
    }

    /// Adds everything `other` trusts (the store's several roots are trusted together).
    pub fn extend(&mut self, other: TrustedRoot) {
        self.tlogs.extend(other.tlogs);
        self.certificate_authorities
            .extend(other.certificate_authorities);
        self.ctlogs.extend(other.ctlogs);
        self.timestamp_authorities
            .extend(other.timestamp_authorities);
    }

    /// The transparency log with this log ID.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        // A later entry with the same ID wins, as in sigstore-go's map.
        self.tlogs.iter().rev().find(|l| l.log_id == log_id)
    }

    /// The CT log with this log ID.
    pub fn ctlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.ctlogs.iter().rev().find(|l| l.log_id == log_id)
    }

    /// A trusted root for cosign's private-infrastructure inputs: certificate-authority roots
    /// and the intermediates below them, Rekor keys, CT log keys, a TSA chain (leaf first, root
    /// last). Validity windows are unbounded and log IDs are the SHA-256 of each key's
    /// SubjectPublicKeyInfo, as cosign assumes for keys given this way.
    pub fn from_parts(
        ca_roots: Vec<Certificate>,
        ca_intermediates: Vec<Certificate>,
        rekor_keys: Vec<PublicKey>,
        ct_keys: Vec<PublicKey>,
        tsa_chain: Vec<Certificate>,
    ) -> Self {
        let log = |key: PublicKey| TransparencyLog {
            base_url: String::new(),
            log_id: bytes::sha256(&key.spki_der()).to_vec(),
            key,
            valid_for: TimeRange::default(),
        };
        let authority = |chain: Vec<Certificate>| CertificateAuthority {
            uri: String::new(),
            chain,
            valid_for: TimeRange::default(),
        };
        // One authority per root, each offered every intermediate: the path builder picks
        // the ones that chain.
        let certificate_authorities = ca_roots
            .into_iter()
            .map(|root| {
                let mut chain = ca_intermediates.clone();
                chain.push(root);
                authority(chain)
            })
            .collect();
        TrustedRoot {
            tlogs: rekor_keys.into_iter().map(log).collect(),
            certificate_authorities,
            ctlogs: ct_keys.into_iter().map(log).collect(),
            timestamp_authorities: (!tsa_chain.is_empty())
                .then(|| authority(tsa_chain))
                .into_iter()
                .collect(),
        }
    }
}
