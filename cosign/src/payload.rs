//! The simple-signing payload cosign signs for an image (FORMATS.md §3), and the claim checks
//! cosign's verifier makes on it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use sigmirror_oci::Digest;

use crate::error::{Error, Result};
use sigmirror_oci::gojson;

/// The constant `critical.type`.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

#[derive(Serialize)]
struct Payload<'a> {
    critical: Critical<'a>,
    optional: Option<&'a BTreeMap<String, Value>>,
}
#[derive(Serialize)]
struct Critical<'a> {
    identity: Identity<'a>,
    image: Image<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
}
#[derive(Serialize)]
struct Identity<'a> {
    #[serde(rename = "docker-reference")]
    docker_reference: &'a str,
}
#[derive(Serialize)]
struct Image<'a> {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: &'a str,
}

/// The payload bytes for `digest` (`sha256:<hex>`) of the repository `docker_reference`
/// (`registry/repo`), with `annotations` as the optional map (`null` when empty, as cosign).
pub fn simple_signing(
    docker_reference: &str,
    digest: &Digest,
    annotations: &BTreeMap<String, Value>,
) -> Vec<u8> {
    gojson::to_vec(&Payload {
        critical: Critical {
            identity: Identity { docker_reference },
            image: Image {
                docker_manifest_digest: digest.as_str(),
            },
            kind: SIGNATURE_TYPE,
        },
        optional: (!annotations.is_empty()).then_some(annotations),
    })
}

/// `-a key=value` arguments as the optional map: split at the first `=`, values are strings.
pub fn parse_annotations(pairs: &[String]) -> Result<BTreeMap<String, Value>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), Value::String(v.to_owned()))),
            _ => Err(Error::Annotation { pair: pair.clone() }),
        })
        .collect()
}

/// A parsed payload: what the claim checks need.
#[derive(Debug, Clone)]
pub struct ParsedPayload {
    /// `critical.image.docker-manifest-digest`.
    pub digest: String,
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
    /// `critical.type`.
    pub kind: String,
    /// `optional` if it is an object; `None` if absent or `null` (Go's nil map, printed `null`).
    pub optional: Option<serde_json::Map<String, Value>>,
    /// The whole document as it was signed.
    pub json: Value,
}

/// Parses payload bytes like cosign (Go JSON, case-insensitive keys).
pub fn parse(bytes: &[u8]) -> Result<ParsedPayload> {
    let malformed = |reason: &str| Error::Payload {
        reason: reason.into(),
    };
    let json: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(&format!("not JSON: {e}")))?;
    let top = json
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?;
    let critical = gojson::field(top, "critical")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("no critical section"))?;
    let string_at = |section: &str, key: &str| -> String {
        gojson::field(critical, section)
            .and_then(Value::as_object)
            .and_then(|o| gojson::field(o, key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let digest = string_at("image", "docker-manifest-digest");
    let docker_reference = string_at("identity", "docker-reference");
    let kind = gojson::field(critical, "type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let optional = gojson::field(top, "optional").and_then(Value::as_object);
    Ok(ParsedPayload {
        digest,
        docker_reference,
        kind,
        optional: optional.cloned(),
        json,
    })
}

impl ParsedPayload {
    /// The payload as cosign prints it: re-serialised from its Go type, so a field it does not
    /// know is dropped, one that is missing is printed empty, and fields come in its order
    /// whatever order was signed.
    pub fn printed(&self) -> Value {
        serde_json::json!({
            "critical": {
                "identity": {"docker-reference": self.docker_reference},
                "image": {"docker-manifest-digest": self.digest},
                "type": self.kind,
            },
            "optional": self.optional.clone().map_or(Value::Null, Value::Object),
        })
    }

    /// cosign's claim checks: the payload names `digest`, and every required annotation is in
    /// `optional` as exactly that string.
    pub fn check_claims(&self, digest: &Digest, required: &BTreeMap<String, Value>) -> Result<()> {
        if self.digest != digest.as_str() {
            return Err(Error::PayloadDigest {
                found: self.digest.clone(),
                expected: digest.to_string(),
            });
        }
        for (key, want) in required {
            match self.optional.as_ref().and_then(|o| o.get(key)) {
                Some(have) if have == want => {}
                Some(have) => {
                    return Err(Error::AnnotationMismatch {
                        key: key.clone(),
                        found: have.to_string(),
                        required: want.to_string(),
                    });
                }
                None => return Err(Error::AnnotationMissing { key: key.clone() }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_cosign() {
        let d = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        let p = simple_signing("127.0.0.1:5000/test/hello", &d, &BTreeMap::new());
        assert_eq!(
            String::from_utf8(p).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/test/hello"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        let ann = parse_annotations(&["z=1".into(), "a=x=y".into()]).unwrap();
        let p = simple_signing("r/x", &d, &ann);
        assert!(
            String::from_utf8(p)
                .unwrap()
                .ends_with(r#""optional":{"a":"x=y","z":"1"}}"#)
        );
        assert!(parse_annotations(&["novalue".into()]).is_err());
    }

    #[test]
    fn claims() {
        let d = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        let ann = parse_annotations(&["tag=v1".into()]).unwrap();
        let parsed = parse(&simple_signing("r/x", &d, &ann)).unwrap();
        parsed.check_claims(&d, &ann).unwrap();
        parsed.check_claims(&d, &BTreeMap::new()).unwrap();
        assert!(
            parsed
                .check_claims(&Digest::sha256_of(b"other"), &ann)
                .is_err()
        );
        assert!(
            parsed
                .check_claims(&d, &parse_annotations(&["tag=v2".into()]).unwrap())
                .is_err()
        );
        assert!(
            parsed
                .check_claims(&d, &parse_annotations(&["other=v1".into()]).unwrap())
                .is_err()
        );
        // A number never equals a string, and Go matches keys case-insensitively.
        let odd = format!(
            r#"{{"Critical":{{"Image":{{"Docker-manifest-digest":"{d}"}}}},"optional":{{"tag":1}}}}"#
        );
        let parsed = parse(odd.as_bytes()).unwrap();
        assert_eq!(parsed.digest, d.as_str());
        assert!(
            parsed
                .check_claims(&d, &parse_annotations(&["tag=1".into()]).unwrap())
                .is_err()
        );
        assert!(parse(b"not json").is_err());
    }
}
