//! The verification of a bundle against a trusted root and a policy, in the order sigstore-go
//! checks (so a bundle that one accepts or refuses, the other does too):
//!
//! 1. the key material against the policy (a managed key, or a certificate);
//! 2. the transparency-log entries: each from a log of the trusted root, with a valid signed
//!    entry timestamp or an inclusion proof under a signed checkpoint, logging this signature,
//!    key and content, integrated while the certificate was valid;
//! 3. the RFC 3161 timestamps over the signature;
//! 4. the certificate's chain to a certificate authority at every verified time, and its SCTs;
//! 5. the signature over the artifact (or the DSSE envelope, whose in-toto subject must be the
//!    artifact);
//! 6. the certificate identity.

use std::io::Read;

use sha2::{Digest as _, Sha256, Sha384, Sha512};
use sigmirror_oci::Digest;

use super::bundle::{Bundle, Content, Material};
use super::bytes::hex;
use super::certificate::{Certificate, Purpose, verify_path};
use super::error::{Error, Result};
use super::keys::{HashAlgorithm, PublicKey, SignatureHash};
use super::policy::Policy;
use super::sct;
use super::time::Instant;
use super::timestamp;
use super::tlog::{self, SignedContent, Signer};
use super::trusted_root::TrustedRoot;
use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
use crate::statement::{self, ParsedStatement};

/// At most this many subjects in a statement (sigstore-go's limit).
const MAX_SUBJECTS: usize = 1024;

/// What was signed, as far as the verifier needs it: its digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    /// The artifact's contents were read: all three digests are known.
    Contents {
        /// SHA-256.
        sha256: [u8; 32],
        /// SHA-384.
        sha384: [u8; 48],
        /// SHA-512.
        sha512: [u8; 64],
    },
    /// Only the artifact's SHA-256 digest is known (an image digest, or `sha256:<hex>` given
    /// instead of a file).
    Sha256([u8; 32]),
}

impl Artifact {
    /// The digests of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Artifact::Contents {
            sha256: Sha256::digest(bytes).into(),
            sha384: Sha384::digest(bytes).into(),
            sha512: Sha512::digest(bytes).into(),
        }
    }

    /// The digests of everything `reader` yields, read once in blocks (files of any size).
    pub fn of_reader(mut reader: impl Read) -> std::io::Result<Self> {
        let (mut a, mut b, mut c) = (Sha256::new(), Sha384::new(), Sha512::new());
        let mut block = vec![0u8; 256 << 10];
        loop {
            let n = match reader.read(&mut block) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            a.update(&block[..n]);
            b.update(&block[..n]);
            c.update(&block[..n]);
        }
        Ok(Artifact::Contents {
            sha256: a.finalize().into(),
            sha384: b.finalize().into(),
            sha512: c.finalize().into(),
        })
    }

    /// The artifact's digest in `algorithm`, if known.
    pub fn digest(&self, algorithm: HashAlgorithm) -> Option<&[u8]> {
        match (self, algorithm) {
            (
                Artifact::Contents { sha256, .. } | Artifact::Sha256(sha256),
                HashAlgorithm::Sha256,
            ) => Some(sha256),
            (Artifact::Contents { sha384, .. }, HashAlgorithm::Sha384) => Some(sha384),
            (Artifact::Contents { sha512, .. }, HashAlgorithm::Sha512) => Some(sha512),
            _ => None,
        }
    }

    /// The digests known, as OCI digests (for matching in-toto subjects).
    pub fn oci_digests(&self) -> Vec<Digest> {
        [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
            .into_iter()
            .filter_map(|a| {
                let d = self.digest(a)?;
                Digest::parse(&format!("{}:{}", a.name(), hex(d))).ok()
            })
            .collect()
    }
}

/// How strict a verification is, as cosign's flags set it. The default is cosign's default:
/// transparency log and SCT required, timestamps checked when the bundle has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Verify the transparency-log entries and require one (`--insecure-ignore-tlog` clears it).
    pub tlog: bool,
    /// Require a verified SCT in the certificate (`--insecure-ignore-sct` clears it).
    pub sct: bool,
    /// Require a verified RFC 3161 timestamp (`--use-signed-timestamps`).
    pub signed_timestamps: bool,
    /// Match identities as cosign's classic (`.sig` image and old bundle) path does: any SAN,
    /// the v1 issuer extension; otherwise as sigstore-go does for Sigstore bundles.
    pub classic_identity: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tlog: true,
            sct: true,
            signed_timestamps: false,
            classic_identity: false,
        }
    }
}

/// Where a verified signing time came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSource {
    /// A transparency log's signed entry timestamp (the log's base URL).
    Log(String),
    /// An RFC 3161 timestamp authority (its URI).
    TimestampAuthority(String),
    /// The verifier's clock (only when the transparency log was not checked).
    Now,
}

/// A verified time at which the signature existed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningTime {
    /// When.
    pub at: Instant,
    /// Who says so.
    pub source: TimeSource,
}

/// A log entry that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    /// The log's base URL.
    pub log: String,
    /// The entry's index.
    pub log_index: i64,
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signing certificate (keyless), or `None` for a managed key.
    pub certificate: Option<Certificate>,
    /// The verified signing times.
    pub times: Vec<SigningTime>,
    /// The log entries that verified.
    pub entries: Vec<VerifiedEntry>,
    /// The in-toto statement of a DSSE bundle.
    pub statement: Option<ParsedStatement>,
}

fn policy_error(reason: impl Into<String>) -> Error {
    Error::Policy {
        reason: reason.into(),
    }
}

fn signature_error(reason: impl Into<String>) -> Error {
    Error::Signature {
        reason: reason.into(),
    }
}

/// Verifies `bundle` over `artifact` (or, with `None`, everything but the artifact binding: the
/// caller checks what the signature names) against `trust` and `policy`.
pub fn verify(
    bundle: &Bundle,
    artifact: Option<&Artifact>,
    trust: &TrustedRoot,
    policy: &Policy,
    options: &Options,
) -> Result<Verified> {
    let content = signed_content(&bundle.content, bundle.envelope_json.as_deref())?;
    let (signer, key, certificate) = match (&bundle.material, policy) {
        (Material::Certificate(cert), Policy::Identity(_)) => {
            (Signer::Certificate(cert), cert.public_key()?, Some(&**cert))
        }
        (Material::PublicKey { .. }, Policy::Key(key)) => (Signer::Key(key), key.clone(), None),
        (Material::Certificate(_), Policy::Key(_)) => {
            return Err(policy_error(
                "a key was given, but the bundle is signed with a certificate (verify it by identity)",
            ));
        }
        (Material::PublicKey { .. }, Policy::Identity(_)) => {
            return Err(policy_error(
                "the bundle is signed with a managed key: give the public key to verify it with",
            ));
        }
    };

    let mut times = vec![];
    let mut entries = vec![];
    if options.tlog {
        verify_tlog(
            bundle,
            content,
            signer,
            certificate,
            trust,
            &mut times,
            &mut entries,
        )?;
    }
    verify_timestamps(bundle, trust, options, &mut times)?;

    if let Some(cert) = certificate {
        if times.is_empty() {
            if options.tlog {
                return Err(Error::NoSigningTime);
            }
            // cosign's rule without a log: the certificate must be valid now.
            times.push(SigningTime {
                at: Instant::now(),
                source: TimeSource::Now,
            });
        }
        verify_certificate(cert, trust, &times, options)?;
    }

    // The artifact's digest first: "this bundle is for another file" is the clearest failure.
    if let (
        Content::Message {
            algorithm, digest, ..
        },
        Some(artifact),
    ) = (&bundle.content, artifact)
    {
        check_message_digest(*algorithm, digest, artifact)?;
    }
    verify_signature(bundle, artifact, &key, certificate.is_some())?;
    let statement = match &bundle.content {
        Content::Dsse {
            payload_type,
            payload,
            ..
        } => Some(check_statement(payload_type, payload, artifact)?),
        Content::Message { .. } => None,
    };

    if let (Some(cert), Policy::Identity(identity)) = (certificate, policy) {
        if options.classic_identity {
            identity.check_classic(cert)?;
        } else {
            identity.check(cert)?;
        }
    }
    Ok(Verified {
        certificate: certificate.cloned(),
        times,
        entries,
        statement,
    })
}

/// The bundle's content in the form log entries are matched against.
fn signed_content<'a>(
    content: &'a Content,
    envelope: Option<&'a [u8]>,
) -> Result<SignedContent<'a>> {
    Ok(match content {
        Content::Message {
            algorithm,
            digest,
            signature,
        } => SignedContent::Message {
            algorithm: *algorithm,
            digest,
            signature,
        },
        Content::Dsse {
            payload_type,
            payload,
            signatures,
        } => {
            let [signature] = signatures.as_slice() else {
                return Err(signature_error(format!(
                    "the DSSE envelope has {} signatures, exactly one is verified",
                    signatures.len()
                )));
            };
            SignedContent::Dsse {
                payload_type,
                payload,
                signature,
                envelope,
            }
        }
    })
}

/// Phase 2: every log entry from a known log must be in that log and be about this signature;
/// at least one must verify. Signed entry timestamps give verified signing times.
fn verify_tlog(
    bundle: &Bundle,
    content: SignedContent<'_>,
    signer: Signer<'_>,
    certificate: Option<&Certificate>,
    trust: &TrustedRoot,
    times: &mut Vec<SigningTime>,
    entries: &mut Vec<VerifiedEntry>,
) -> Result<()> {
    for (i, a) in bundle.tlog_entries.iter().enumerate() {
        if bundle.tlog_entries[..i]
            .iter()
            .any(|b| b.log_id == a.log_id && b.log_index == a.log_index)
        {
            return Err(Error::Tlog {
                reason: format!(
                    "entry {} of log {} appears twice",
                    a.log_index,
                    hex(&a.log_id)
                ),
            });
        }
    }
    let mut verified_logs: Vec<&[u8]> = vec![];
    let mut skipped = vec![];
    let mut has_promise = false;
    for entry in &bundle.tlog_entries {
        let body = tlog::parse_body(entry)?;
        let Some(log) = trust.tlog(&entry.log_id) else {
            skipped.push(format!(
                "log {} is not in the trusted root",
                hex(&entry.log_id)
            ));
            continue;
        };
        if entry.signed_entry_timestamp.is_none() && entry.inclusion_proof.is_none() {
            return Err(Error::Tlog {
                reason: "an entry has neither an inclusion promise nor an inclusion proof".into(),
            });
        }
        if entry.is_rekor_v2() && entry.inclusion_proof.is_none() {
            return Err(Error::Tlog {
                reason: "a Rekor v2 entry needs an inclusion proof".into(),
            });
        }
        let mut promised = false;
        if entry.signed_entry_timestamp.is_some() {
            has_promise = true;
            match tlog::verify_set(entry, log) {
                Ok(()) => promised = true,
                Err(e) => {
                    skipped.push(e.to_string());
                    continue;
                }
            }
        }
        if entry.inclusion_proof.is_some() {
            let leaf = if entry.is_rekor_v2() {
                let rebuilt = tlog::rebuild_v2_body(content, signer)?;
                if rebuilt != entry.body {
                    return Err(Error::EntryMismatch {
                        reason: "the logged entry is not this signature, key and content".into(),
                    });
                }
                rebuilt
            } else {
                entry.body.clone()
            };
            tlog::verify_inclusion(entry, log, &leaf)?;
        }
        if !entry.is_rekor_v2() {
            tlog::match_v1_body(&body, content, signer)?;
        }
        if entry.integrated_time != 0
            && let Some(cert) = certificate
        {
            let at = Instant::from_unix_seconds(entry.integrated_time);
            if !cert.valid_at(at) {
                return Err(Error::OutsideValidity {
                    signed_at: at.to_string(),
                    not_before: cert.not_before().to_string(),
                    not_after: cert.not_after().to_string(),
                });
            }
        }
        if !verified_logs.contains(&entry.log_id.as_slice()) {
            verified_logs.push(&entry.log_id);
            if promised {
                times.push(SigningTime {
                    at: Instant::from_unix_seconds(entry.integrated_time),
                    source: TimeSource::Log(log.base_url.clone()),
                });
            }
        }
        entries.push(VerifiedEntry {
            log: log.base_url.clone(),
            log_index: entry.log_index,
        });
    }
    if verified_logs.is_empty() {
        if bundle.tlog_entries.is_empty() {
            skipped.push("the signature has no transparency-log entry".into());
        }
        return Err(Error::NoVerifiedLogEntry {
            detail: skipped.join("; "),
        });
    }
    if has_promise && !times.iter().any(|t| matches!(t.source, TimeSource::Log(_))) {
        return Err(Error::NoSigningTime);
    }
    Ok(())
}

/// Phase 3: RFC 3161 timestamps, each verified by some timestamp authority of the trusted root,
/// one counted per authority.
fn verify_timestamps(
    bundle: &Bundle,
    trust: &TrustedRoot,
    options: &Options,
    times: &mut Vec<SigningTime>,
) -> Result<()> {
    let checked = !bundle.timestamps.is_empty()
        && (!trust.timestamp_authorities.is_empty() || options.signed_timestamps);
    if !checked {
        if options.signed_timestamps {
            return Err(Error::Timestamp {
                reason: "a signed timestamp is required and the bundle has none".into(),
            });
        }
        return Ok(());
    }
    let signature = bundle.timestamped_bytes();
    let mut authorities: Vec<String> = vec![];
    let mut reasons = vec![];
    for resp in &bundle.timestamps {
        match timestamp::verify(resp, signature, trust) {
            Ok((at, uri)) => {
                if !authorities.contains(&uri) {
                    times.push(SigningTime {
                        at,
                        source: TimeSource::TimestampAuthority(uri.clone()),
                    });
                    authorities.push(uri);
                }
            }
            Err(e) => reasons.push(e.reason()),
        }
    }
    if authorities.is_empty() {
        return Err(Error::Timestamp {
            reason: format!("no timestamp verifies: {}", reasons.join("; ")),
        });
    }
    Ok(())
}

/// Phase 4: at every verified time, the certificate chains to a certificate authority of the
/// trusted root that was valid then; one of its SCTs verifies.
fn verify_certificate(
    cert: &Certificate,
    trust: &TrustedRoot,
    times: &[SigningTime],
    options: &Options,
) -> Result<()> {
    let mut issuer = None;
    for time in times {
        let mut failure = None;
        let mut chain = None;
        for ca in &trust.certificate_authorities {
            if !ca.valid_for.contains(time.at) {
                continue;
            }
            match verify_path(
                cert,
                ca.intermediates(),
                ca.root(),
                time.at,
                Purpose::CodeSigning,
            ) {
                Ok(path) => {
                    chain = Some(path);
                    break;
                }
                // The leaf's own validity is the clearest reason; keep it over later ones.
                Err(e) => {
                    if !matches!(failure, Some(Error::OutsideValidity { .. })) {
                        failure = Some(e);
                    }
                }
            }
        }
        let chain = chain.ok_or_else(|| {
            failure.unwrap_or_else(|| Error::Chain {
                reason: format!(
                    "no certificate authority of the trusted root was valid at {}",
                    time.at
                ),
            })
        })?;
        issuer.get_or_insert_with(|| chain[1].clone());
    }
    if options.sct {
        let issuer = issuer.ok_or(Error::NoSigningTime)?;
        sct::verify_embedded(cert, &issuer, trust)?;
    }
    Ok(())
}

/// Phase 5: the signature over the artifact's digest, or over the DSSE envelope.
fn verify_signature(
    bundle: &Bundle,
    artifact: Option<&Artifact>,
    key: &PublicKey,
    keyless: bool,
) -> Result<()> {
    // Legacy clients signed with P-384 certificate keys over SHA-256; v0.1 to v0.3 bundles
    // may carry such signatures.
    let legacy_sha256 = keyless && matches!(key, PublicKey::P384(_));
    match &bundle.content {
        Content::Message {
            algorithm,
            digest,
            signature,
        } => {
            let wanted = match key.default_hash() {
                SignatureHash::Hashed(h) => h,
                SignatureHash::Pure => {
                    return Err(signature_error(
                        "Ed25519 message signatures (pre-hashed) are not supported",
                    ));
                }
            };
            let mut hashes = vec![wanted];
            if legacy_sha256 {
                hashes.push(HashAlgorithm::Sha256);
            }
            // The signature is over the artifact hashed with the key's hash; the bundle's digest
            // is that digest when the algorithms agree (and was matched with the artifact).
            let verifies = hashes.iter().any(|h| {
                let digest = if h == algorithm {
                    Some(digest.as_slice())
                } else {
                    artifact.and_then(|a| a.digest(*h))
                };
                digest.is_some_and(|d| key.verify_prehash(d, signature).is_ok())
            });
            if verifies {
                Ok(())
            } else {
                Err(signature_error(format!(
                    "does not verify with the signer's {} key",
                    key.algorithm()
                )))
            }
        }
        Content::Dsse {
            payload_type,
            payload,
            signatures,
        } => {
            let pae = crate::dsse::pae(payload_type, payload);
            let signature = &signatures[0];
            let primary = key.verify(&pae, signature, key.default_hash());
            primary
                .or_else(|e| {
                    if legacy_sha256 {
                        key.verify(
                            &pae,
                            signature,
                            SignatureHash::Hashed(HashAlgorithm::Sha256),
                        )
                    } else {
                        Err(e)
                    }
                })
                .map_err(|_| signature_error("the DSSE envelope's signature does not verify"))
        }
    }
}

/// The message digest the bundle signs must be the artifact's.
fn check_message_digest(
    algorithm: HashAlgorithm,
    digest: &[u8],
    artifact: &Artifact,
) -> Result<()> {
    let actual = artifact.digest(algorithm).ok_or_else(|| {
        signature_error(format!(
            "the bundle signs a {} digest, and only the artifact's sha256 is known",
            algorithm.name()
        ))
    })?;
    if actual != digest {
        return Err(signature_error(format!(
            "the bundle is for the artifact {}:{}, not this one ({}:{})",
            algorithm.name(),
            hex(digest),
            algorithm.name(),
            hex(actual)
        )));
    }
    Ok(())
}

/// A DSSE payload must be an in-toto statement with the artifact among its subjects.
fn check_statement(
    payload_type: &str,
    payload: &[u8],
    artifact: Option<&Artifact>,
) -> Result<ParsedStatement> {
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(signature_error(format!(
            "the DSSE payload type is {payload_type:?}, not an in-toto statement"
        )));
    }
    let parsed = statement::parse(payload).map_err(|e| signature_error(e.to_string()))?;
    let subjects = parsed
        .json
        .get("subject")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    if subjects == 0 || subjects > MAX_SUBJECTS {
        return Err(signature_error(format!(
            "the statement has {subjects} subjects (1 to {MAX_SUBJECTS} are accepted)"
        )));
    }
    if let Some(artifact) = artifact
        && !artifact.oci_digests().iter().any(|d| parsed.covers(d))
    {
        return Err(signature_error(format!(
            "the artifact (sha256:{}) is not a subject of the statement",
            hex(artifact.digest(HashAlgorithm::Sha256).unwrap_or_default())
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(algorithm: &str, hex_digest: &str) -> Vec<u8> {
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"pkg.tgz","digest":{{"{algorithm}":"{hex_digest}"}}}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{{}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn subjects_named_by_sha512_only_match_the_artifact() {
        // npm provenance names packages by SHA-512 alone.
        let artifact = Artifact::of_bytes(b"package bytes");
        let sha512 = hex(artifact.digest(HashAlgorithm::Sha512).unwrap());
        let payload = statement("sha512", &sha512);
        let parsed = check_statement(IN_TOTO_PAYLOAD_TYPE, &payload, Some(&artifact)).unwrap();
        assert_eq!(parsed.predicate_type, "https://slsa.dev/provenance/v1");
        let other = Artifact::of_bytes(b"other bytes");
        assert!(check_statement(IN_TOTO_PAYLOAD_TYPE, &payload, Some(&other)).is_err());
        // Only a SHA-256 known: a SHA-512 subject cannot be matched.
        let Artifact::Contents { sha256, .. } = artifact else {
            unreachable!()
        };
        assert!(
            check_statement(
                IN_TOTO_PAYLOAD_TYPE,
                &payload,
                Some(&Artifact::Sha256(sha256))
            )
            .is_err()
        );
    }

    #[test]
    fn statements_without_subjects_or_of_another_type_are_refused() {
        let artifact = Artifact::of_bytes(b"x");
        let none = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p","predicate":{}}"#;
        assert!(check_statement(IN_TOTO_PAYLOAD_TYPE, none, Some(&artifact)).is_err());
        let sha256 = hex(artifact.digest(HashAlgorithm::Sha256).unwrap());
        let payload = statement("sha256", &sha256);
        assert!(check_statement(IN_TOTO_PAYLOAD_TYPE, &payload, Some(&artifact)).is_ok());
        assert!(check_statement("application/json", &payload, Some(&artifact)).is_err());
    }
}
