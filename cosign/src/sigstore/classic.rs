//! cosign 2's keyless signatures before Sigstore bundles, as bundles: a `.sig` or `.att` layer's
//! annotations (certificate, Rekor bundle, RFC 3161 timestamp), the old blob bundle
//! (`base64Signature`, `cert`, `rekorBundle`), or `verify-blob --certificate --signature`. Each
//! becomes a [`Bundle`] so the one verifier checks it; only what cosign itself trusts is taken
//! (a chain shipped beside the certificate is not: trust comes from the trusted root).

use serde_json::Value;
use sigmirror_oci::gojson;

use super::bundle::{Bundle, Content, Material};
use super::bytes;
use super::certificate::Certificate;
use super::error::{Error, Result};
use super::keys::HashAlgorithm;
use super::tlog::LogEntry;

fn bad(reason: impl Into<String>) -> Error {
    Error::Bundle {
        reason: reason.into(),
    }
}

/// The evidence cosign attaches beside a keyless signature.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The signing certificate, PEM (the first certificate is the leaf).
    pub certificate_pem: Option<Vec<u8>>,
    /// The Rekor bundle JSON (`{"SignedEntryTimestamp":…,"Payload":{…}}`).
    pub rekor_bundle: Option<Vec<u8>>,
    /// The timestamp JSON (`{"SignedRFC3161Timestamp":…}`).
    pub timestamp: Option<Vec<u8>>,
}

/// Parses a Rekor bundle (Go's JSON: field names in any case) into a log entry with its signed
/// entry timestamp and no inclusion proof.
pub fn rekor_entry(json: &[u8]) -> Result<LogEntry> {
    let what = |reason: &str| bad(format!("Rekor bundle: {reason}"));
    let value: Value = serde_json::from_slice(json).map_err(|e| what(&format!("not JSON: {e}")))?;
    let object = value.as_object().ok_or_else(|| what("not a JSON object"))?;
    let set = gojson::field(object, "SignedEntryTimestamp")
        .and_then(Value::as_str)
        .ok_or_else(|| what("no SignedEntryTimestamp"))?;
    let set = bytes::decode(set).map_err(|_| what("SignedEntryTimestamp is not base64"))?;
    let payload = gojson::field(object, "Payload")
        .and_then(Value::as_object)
        .ok_or_else(|| what("no Payload"))?;
    let body = gojson::field(payload, "body")
        .and_then(Value::as_str)
        .ok_or_else(|| what("the payload body is not a string"))?;
    let body = bytes::decode(body).map_err(|_| what("the payload body is not base64"))?;
    let number = |name: &str| {
        gojson::field(payload, name)
            .and_then(Value::as_i64)
            .ok_or_else(|| what(&format!("no {name}")))
    };
    let log_id = gojson::field(payload, "logID")
        .and_then(Value::as_str)
        .and_then(bytes::unhex)
        .ok_or_else(|| what("logID is not hex"))?;
    let logged: Value = serde_json::from_slice(&body)
        .map_err(|e| what(&format!("the logged entry is not JSON: {e}")))?;
    let kind = logged
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = logged
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(LogEntry {
        log_index: number("logIndex")?,
        log_id,
        kind: kind.to_owned(),
        version: version.to_owned(),
        integrated_time: number("integratedTime")?,
        signed_entry_timestamp: Some(set),
        inclusion_proof: None,
        body,
    })
}

/// The DER `TimeStampResp` in cosign's timestamp JSON.
pub fn timestamp(json: &[u8]) -> Result<Vec<u8>> {
    let value: Value = serde_json::from_slice(json)
        .map_err(|e| bad(format!("RFC 3161 timestamp: not JSON: {e}")))?;
    let text = value
        .as_object()
        .and_then(|o| gojson::field(o, "SignedRFC3161Timestamp"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("RFC 3161 timestamp: no SignedRFC3161Timestamp"))?;
    bytes::decode(text).map_err(|_| bad("RFC 3161 timestamp: not base64"))
}

fn bundle(content: Content, evidence: &Evidence, envelope_json: Option<Vec<u8>>) -> Result<Bundle> {
    let pem = evidence
        .certificate_pem
        .as_deref()
        .filter(|p| !p.trim_ascii().is_empty())
        .ok_or_else(|| bad("no certificate found on the signature"))?;
    let leaf = Certificate::from_pem_chain(pem)?
        .into_iter()
        .next()
        .ok_or_else(|| bad("no certificate found on the signature"))?;
    let tlog_entries = match &evidence.rekor_bundle {
        Some(json) => vec![rekor_entry(json)?],
        None => vec![],
    };
    let timestamps = match &evidence.timestamp {
        Some(json) => vec![timestamp(json)?],
        None => vec![],
    };
    Ok(Bundle {
        minor_version: 1,
        material: Material::Certificate(Box::new(leaf)),
        tlog_entries,
        timestamps,
        envelope_json,
        content,
    })
}

/// A keyless signature over `payload` (a `.sig` layer's payload, or a blob).
pub fn signature_bundle(
    payload_sha256: [u8; 32],
    signature: Vec<u8>,
    evidence: &Evidence,
) -> Result<Bundle> {
    bundle(
        Content::Message {
            algorithm: HashAlgorithm::Sha256,
            digest: payload_sha256.to_vec(),
            signature,
        },
        evidence,
        None,
    )
}

/// A keyless attestation: the DSSE envelope JSON of an `.att` layer or of `attest-blob`. cosign
/// timestamps the whole envelope, not its signature.
pub fn attestation_bundle(envelope_json: &[u8], evidence: &Evidence) -> Result<Bundle> {
    let envelope = crate::dsse::Envelope::from_json(envelope_json)
        .map_err(|e| bad(format!("DSSE envelope: {e}")))?;
    bundle(
        Content::Dsse {
            payload_type: envelope.payload_type,
            payload: envelope.payload,
            signatures: envelope.signatures.into_iter().map(|s| s.sig).collect(),
        },
        evidence,
        Some(envelope_json.to_vec()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rekor_bundle_fields_are_read_in_any_case_and_checked() {
        let body = bytes::encode(br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#);
        let json = format!(
            r#"{{"signedEntryTimestamp":"MEU=","Payload":{{"body":"{body}","integratedTime":5,"logIndex":7,"logID":"abcd"}}}}"#
        );
        let entry = rekor_entry(json.as_bytes()).unwrap();
        assert_eq!((entry.log_index, entry.integrated_time), (7, 5));
        assert_eq!(entry.log_id, [0xab, 0xcd]);
        assert_eq!(
            (entry.kind.as_str(), entry.version.as_str()),
            ("hashedrekord", "0.0.1")
        );
        assert_eq!(
            entry.signed_entry_timestamp.as_deref(),
            Some(&[0x30, 0x45][..])
        );
        for broken in [
            json.replace("abcd", "xyz"),
            json.replace(r#""integratedTime":5,"#, ""),
            json.replace("MEU=", "@@"),
            "[]".to_owned(),
        ] {
            assert!(rekor_entry(broken.as_bytes()).is_err(), "{broken}");
        }
    }

    #[test]
    fn a_signature_without_a_certificate_is_refused_by_name() {
        let err = signature_bundle([0; 32], vec![1], &Evidence::default()).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
    }
}
