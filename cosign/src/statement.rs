//! in-toto Statement v0.1 as cosign 2.x builds it (FORMATS.md §4.2–4.3), and the `--type`
//! shortnames cosign maps to predicate types.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sigmirror_oci::Digest;

use crate::error::{Error, Result};
use sigmirror_oci::gojson;

/// The statement type cosign 2.x writes.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v0.1";
/// Predicate type of `--type custom` (the default).
pub const CUSTOM_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/v1";

/// How a predicate file becomes the statement's predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Parsed as a JSON object.
    Object,
    /// The file contents as a JSON string (`spdx`).
    Text,
    /// `{"Data": contents, "Timestamp": now}` (`custom`).
    Custom,
}

/// cosign's `--type` shortnames.
const SHORTNAMES: &[(&str, &str, Body)] = &[
    ("custom", CUSTOM_PREDICATE, Body::Custom),
    (
        "slsaprovenance",
        "https://slsa.dev/provenance/v0.2",
        Body::Object,
    ),
    (
        "slsaprovenance02",
        "https://slsa.dev/provenance/v0.2",
        Body::Object,
    ),
    (
        "slsaprovenance1",
        "https://slsa.dev/provenance/v1",
        Body::Object,
    ),
    ("link", "https://in-toto.io/Link/v1", Body::Object),
    ("spdx", "https://spdx.dev/Document", Body::Text),
    ("spdxjson", "https://spdx.dev/Document", Body::Object),
    ("cyclonedx", "https://cyclonedx.org/bom", Body::Object),
    (
        "vuln",
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        Body::Object,
    ),
    ("openvex", "https://openvex.dev/ns", Body::Object),
];

/// The predicate type URI for a `--type` value: a shortname, or any URI as itself.
pub fn predicate_type_uri(type_arg: &str) -> Result<String> {
    if let Some((_, uri, _)) = SHORTNAMES.iter().find(|(name, _, _)| *name == type_arg) {
        return Ok((*uri).to_owned());
    }
    if type_arg.contains("://") {
        return Ok(type_arg.to_owned());
    }
    Err(Error::PredicateType {
        given: type_arg.to_owned(),
    })
}

/// The predicate type and predicate value for a `--type` and predicate file contents.
pub fn predicate(type_arg: &str, contents: &[u8], now_rfc3339: &str) -> Result<(String, Value)> {
    let uri = predicate_type_uri(type_arg)?;
    let body = SHORTNAMES
        .iter()
        .find(|(name, _, _)| *name == type_arg)
        .map_or(Body::Object, |(_, _, body)| *body);
    let text = || {
        String::from_utf8(contents.to_vec()).map_err(|_| Error::Predicate {
            reason: "not UTF-8 text".into(),
        })
    };
    let value = match body {
        Body::Custom => {
            let mut m = serde_json::Map::new();
            m.insert("Data".into(), Value::String(text()?));
            m.insert("Timestamp".into(), Value::String(now_rfc3339.to_owned()));
            Value::Object(m)
        }
        Body::Text => Value::String(text()?),
        Body::Object => match serde_json::from_slice::<Value>(contents) {
            // cosign's own checks for the type (required fields, Go types) come first.
            Ok(v) if let Err(reason) = crate::predicate_check::check(type_arg, &v) => {
                return Err(Error::Predicate {
                    reason: format!("{type_arg} predicate ({uri}): {reason}"),
                });
            }
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(Error::Predicate {
                    reason: format!(
                        "invalid JSON payload for predicate type {uri}: not a JSON object"
                    ),
                });
            }
        },
    };
    Ok((uri, value))
}

#[derive(Serialize)]
struct Subject<'a> {
    name: &'a str,
    digest: BTreeMap<&'a str, &'a str>,
}
// Key order of cosign 2.x (in-toto-golang structs).
#[derive(Serialize)]
struct Statement<'a> {
    #[serde(rename = "_type")]
    kind: &'a str,
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    subject: [Subject<'a>; 1],
    predicate: &'a Value,
}

/// The statement bytes for one subject: `name` and its digest (`{"sha256": hex}`).
pub fn statement(name: &str, digest: &Digest, predicate_type: &str, predicate: &Value) -> Vec<u8> {
    gojson::to_vec(&Statement {
        kind: STATEMENT_TYPE,
        predicate_type,
        subject: [Subject {
            name,
            digest: BTreeMap::from([(digest.algorithm().name(), digest.hex())]),
        }],
        predicate,
    })
}

/// A statement read back for verification.
#[derive(Debug, Clone)]
pub struct ParsedStatement {
    /// `predicateType`.
    pub predicate_type: String,
    /// The digests of its subjects, in the algorithms sigmirror knows (others are skipped).
    pub subjects: Vec<Digest>,
    /// The whole statement.
    pub json: Value,
}

/// Parses statement bytes (keys matched like Go: case-insensitively).
pub fn parse(bytes: &[u8]) -> Result<ParsedStatement> {
    let malformed = |reason: &str| Error::Statement {
        reason: reason.into(),
    };
    let json: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(&format!("not JSON: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?;
    let predicate_type = gojson::field(obj, "predicateType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let subjects = gojson::field(obj, "subject")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("digest")?.as_object())
        .flat_map(|digests| {
            digests.iter().filter_map(|(algorithm, hex)| {
                Digest::parse(&format!("{algorithm}:{}", hex.as_str()?)).ok()
            })
        })
        .collect();
    Ok(ParsedStatement {
        predicate_type,
        subjects,
        json,
    })
}

impl ParsedStatement {
    /// cosign's subject check: some subject has this digest.
    pub fn covers(&self, digest: &Digest) -> bool {
        self.subjects.contains(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_bytes_and_types() {
        let (uri, pred) = predicate("https://example.com/p/v1", br#"{"b":1,"a":2}"#, "T").unwrap();
        let d = Digest::sha256_of(b"image");
        let s = statement("127.0.0.1:5000/team/app", &d, &uri, &pred);
        assert_eq!(
            String::from_utf8(s.clone()).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://example.com/p/v1","subject":[{{"name":"127.0.0.1:5000/team/app","digest":{{"sha256":"{}"}}}}],"predicate":{{"a":2,"b":1}}}}"#,
                d.hex()
            )
        );
        let parsed = parse(&s).unwrap();
        assert!(parsed.covers(&d) && !parsed.covers(&Digest::sha256_of(b"other")));
        let (uri, pred) = predicate("custom", b"free text", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(uri, CUSTOM_PREDICATE);
        assert_eq!(
            pred,
            serde_json::json!({"Data": "free text", "Timestamp": "2026-01-01T00:00:00Z"})
        );
        assert_eq!(
            predicate("spdx", b"SPDXVersion: 2.3", "").unwrap().1,
            Value::String("SPDXVersion: 2.3".into())
        );
        assert!(predicate("slsaprovenance", b"[1]", "").is_err());
        assert!(predicate("nonsense", b"{}", "").is_err());
        assert_eq!(
            predicate_type_uri("slsaprovenance1").unwrap(),
            "https://slsa.dev/provenance/v1"
        );
    }
}
