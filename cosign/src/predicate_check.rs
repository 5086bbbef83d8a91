//! The checks cosign makes on a predicate file before it attests it with a `--type` shortname,
//! so that sigmirror refuses what cosign refuses. An attestation cosign would not write is one
//! that `cosign verify-attestation --type …` cannot read back (it decodes the predicate into
//! the same Go types), so accepting it here would only move the failure to the verifier.
//!
//! cosign makes two checks, in this order:
//! 1. For SLSA provenance and in-toto links, the file must be a JSON object holding every field
//!    its Go type declares without `omitempty` (top level only): "required field … missing".
//! 2. The file is decoded into that Go type: every field it declares that the file has must
//!    have the JSON type the Go type needs (a string for `string`, an RFC 3339 string for
//!    `time.Time`, base64 for `[]byte`, …); `null` fits every type, unknown fields are
//!    ignored, and field names match exactly or else without regard to ASCII case, as Go's
//!    `encoding/json` matches them.
//!
//! The types are those of in-toto-golang (SLSA 0.2 and 1.0 provenance, Link) and of cosign's
//! vulnerability predicate, as cosign 2.5 uses them. The other shortnames (`spdx`, `spdxjson`,
//! `cyclonedx`, `openvex`, `custom`) take any JSON, as in cosign.

use serde_json::Value;

/// A Go type, as `encoding/json` decodes into it.
#[derive(Debug)]
enum GoType {
    /// `interface{}`: anything.
    Any,
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `time.Time`: an RFC 3339 string.
    Time,
    /// `[]byte`: a base64 string.
    Bytes,
    /// `map[string]T`.
    Map(&'static GoType),
    /// `[]T`.
    Slice(&'static GoType),
    /// A struct: its fields, `(json name, required, type)`.
    Struct(&'static [Field]),
}

/// A struct field: its JSON name, whether cosign requires it (no `omitempty`; checked at the
/// top level only), and its type.
type Field = (&'static str, bool, GoType);

use GoType::{Any, Bool, Bytes, Map, Slice, Str, Struct, Time};

const DIGEST_SET: GoType = Map(&Str);

const SLSA_MATERIAL: GoType = Struct(&[("uri", false, Str), ("digest", false, DIGEST_SET)]);

/// in-toto-golang `slsa/v0.2` `ProvenancePredicate`.
const SLSA_02: GoType = Struct(&[
    ("builder", true, Struct(&[("id", true, Str)])),
    ("buildType", true, Str),
    (
        "invocation",
        false,
        Struct(&[
            (
                "configSource",
                false,
                Struct(&[
                    ("uri", false, Str),
                    ("digest", false, DIGEST_SET),
                    ("entryPoint", false, Str),
                ]),
            ),
            ("parameters", false, Any),
            ("environment", false, Any),
        ]),
    ),
    ("buildConfig", false, Any),
    (
        "metadata",
        false,
        Struct(&[
            ("buildInvocationID", false, Str),
            ("buildStartedOn", false, Time),
            ("buildFinishedOn", false, Time),
            (
                "completeness",
                true,
                Struct(&[
                    ("parameters", true, Bool),
                    ("environment", true, Bool),
                    ("materials", true, Bool),
                ]),
            ),
            ("reproducible", true, Bool),
        ]),
    ),
    ("materials", false, Slice(&SLSA_MATERIAL)),
]);

/// in-toto-golang `slsa/v1` `ResourceDescriptor`.
const RESOURCE_DESCRIPTOR: GoType = Struct(&[
    ("uri", false, Str),
    ("digest", false, DIGEST_SET),
    ("name", false, Str),
    ("downloadLocation", false, Str),
    ("mediaType", false, Str),
    ("content", false, Bytes),
    ("annotations", false, Map(&Any)),
]);

/// in-toto-golang `slsa/v1` `ProvenancePredicate`.
const SLSA_1: GoType = Struct(&[
    (
        "buildDefinition",
        true,
        Struct(&[
            ("buildType", true, Str),
            ("externalParameters", true, Any),
            ("internalParameters", false, Any),
            ("resolvedDependencies", false, Slice(&RESOURCE_DESCRIPTOR)),
        ]),
    ),
    (
        "runDetails",
        true,
        Struct(&[
            (
                "builder",
                true,
                Struct(&[
                    ("id", true, Str),
                    ("version", false, Map(&Str)),
                    ("builderDependencies", false, Slice(&RESOURCE_DESCRIPTOR)),
                ]),
            ),
            (
                "metadata",
                false,
                Struct(&[
                    ("invocationID", false, Str),
                    ("startedOn", false, Time),
                    ("finishedOn", false, Time),
                ]),
            ),
            ("byproducts", false, Slice(&RESOURCE_DESCRIPTOR)),
        ]),
    ),
]);

/// in-toto-golang `Link`.
const LINK: GoType = Struct(&[
    ("_type", true, Str),
    ("name", true, Str),
    ("materials", true, Map(&Any)),
    ("products", true, Map(&Any)),
    ("byproducts", true, Map(&Any)),
    ("command", true, Slice(&Str)),
    ("environment", true, Map(&Any)),
]);

/// cosign's `CosignVulnPredicate` (`pkg/cosign/attestation`).
const VULN: GoType = Struct(&[
    (
        "invocation",
        true,
        Struct(&[
            ("parameters", true, Any),
            ("uri", true, Str),
            ("event_id", true, Str),
            ("builder.id", true, Str),
        ]),
    ),
    (
        "scanner",
        true,
        Struct(&[
            ("uri", true, Str),
            ("version", true, Str),
            (
                "db",
                true,
                Struct(&[("uri", true, Str), ("version", true, Str)]),
            ),
            ("result", true, Any),
        ]),
    ),
    (
        "metadata",
        true,
        Struct(&[
            ("scanStartedOn", true, Time),
            ("scanFinishedOn", true, Time),
        ]),
    ),
]);

/// How cosign checks a shortname's predicate: the Go type, and whether its required fields are
/// checked first (cosign does for provenance and links, not for vulnerability scans).
fn rules(shortname: &str) -> Option<(&'static GoType, bool)> {
    match shortname {
        "slsaprovenance" | "slsaprovenance02" => Some((&SLSA_02, true)),
        "slsaprovenance1" => Some((&SLSA_1, true)),
        "link" => Some((&LINK, true)),
        "vuln" => Some((&VULN, false)),
        _ => None,
    }
}

/// Checks `predicate` (the parsed file) as cosign checks it for `--type shortname`; the error
/// names the field that is missing or of the wrong type. Shortnames cosign does not check, and
/// URIs, pass.
pub fn check(shortname: &str, predicate: &Value) -> Result<(), String> {
    let Some((go_type, required_first)) = rules(shortname) else {
        return Ok(());
    };
    if required_first {
        let Struct(fields) = go_type else {
            unreachable!("checked predicate types are structs")
        };
        let object = match predicate {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Err(format!(
                    "the predicate must be a JSON object, not {}",
                    kind(other)
                ));
            }
        };
        for (name, required, _) in fields.iter() {
            if *required && !object.is_some_and(|m| m.contains_key(*name)) {
                return Err(format!("required field {name} missing"));
            }
        }
    }
    fits(go_type, predicate, "")
}

/// Whether `value` decodes into `go_type`; `path` is where it is (`builder.id`).
fn fits(go_type: &GoType, value: &Value, path: &str) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    let wrong = |wanted: &str| {
        let at = if path.is_empty() {
            "the predicate".to_owned()
        } else {
            format!("field {path}")
        };
        Err(format!("{at} must be {wanted}, not {}", kind(value)))
    };
    match (go_type, value) {
        (Any, _) | (Str, Value::String(_)) | (Bool, Value::Bool(_)) => Ok(()),
        (Str, _) => wrong("a string"),
        (Bool, _) => wrong("true or false"),
        (Time, Value::String(text)) if is_rfc3339(text) => Ok(()),
        (Time, _) => wrong("an RFC 3339 time (2006-01-02T15:04:05Z)"),
        (Bytes, Value::String(text)) if crate::b64::decode_go_std(text.as_bytes()).is_ok() => {
            Ok(())
        }
        (Bytes, _) => wrong("base64 text"),
        (Map(inner), Value::Object(map)) => map
            .iter()
            .try_for_each(|(key, v)| fits(inner, v, &join(path, key))),
        (Map(_), _) => wrong("an object"),
        (Slice(inner), Value::Array(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| fits(inner, v, &format!("{path}[{i}]"))),
        (Slice(_), _) => wrong("an array"),
        (Struct(fields), Value::Object(map)) => {
            for (key, v) in map {
                if let Some((name, _, field_type)) = field_for(fields, key) {
                    fits(field_type, v, &join(path, name))?;
                }
            }
            Ok(())
        }
        (Struct(_), _) => wrong("an object"),
    }
}

/// The field a JSON key decodes into, as Go matches it: the exact name, else the first field
/// whose name is equal without regard to ASCII case.
fn field_for<'f>(fields: &'f [Field], key: &str) -> Option<&'f Field> {
    fields.iter().find(|(name, _, _)| *name == key).or_else(|| {
        fields
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(key))
    })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The JSON kind of `value`, as the message names it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `text` is a time Go's `time.Time` decodes: `YYYY-MM-DDTHH:MM:SS[.fraction]` then
/// `Z` or `±HH:MM`, with each number in its range.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return false;
    }
    if b[16] != b':' {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') < 24
                && (m1 - b'0') * 10 + (m2 - b'0') < 60
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn provenance_02_needs_builder_then_build_type_then_the_right_types() {
        let err = |v: Value| check("slsaprovenance", &v).unwrap_err();
        assert_eq!(err(json!({})), "required field builder missing");
        assert_eq!(err(json!(null)), "required field builder missing");
        assert_eq!(
            err(json!({"builder": {}})),
            "required field buildType missing"
        );
        assert_eq!(
            err(json!([])),
            "the predicate must be a JSON object, not an array"
        );
        assert_eq!(
            err(json!({"builder": "x", "buildType": "t"})),
            "field builder must be an object, not a string"
        );
        assert_eq!(
            err(json!({"builder": {"id": 5}, "buildType": "t"})),
            "field builder.id must be a string, not a number"
        );
        // Go matches field names without regard to case.
        assert_eq!(
            err(json!({"builder": {"ID": 5}, "buildType": "t"})),
            "field builder.id must be a string, not a number"
        );
        assert_eq!(
            err(json!({"builder": {}, "buildType": "t",
                       "metadata": {"buildStartedOn": "yesterday"}})),
            "field metadata.buildStartedOn must be an RFC 3339 time (2006-01-02T15:04:05Z), \
             not a string"
        );
        assert_eq!(
            err(json!({"builder": {}, "buildType": "t",
                       "materials": [{"digest": {"sha256": 1}}]})),
            "field materials[0].digest.sha256 must be a string, not a number"
        );
        for ok in [
            json!({"builder": {"id": "b"}, "buildType": "t", "extra": 5}),
            json!({"builder": null, "buildType": null}),
            json!({"builder": {}, "buildType": "t",
                   "metadata": {"buildStartedOn": "2024-02-29T23:59:59.5+01:00"}}),
        ] {
            assert_eq!(check("slsaprovenance02", &ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn provenance_1_links_and_vulnerability_scans_have_their_own_rules() {
        assert_eq!(
            check("slsaprovenance1", &json!({"buildDefinition": {}})),
            Err("required field runDetails missing".into())
        );
        assert_eq!(
            check(
                "slsaprovenance1",
                &json!({"buildDefinition": {}, "runDetails": []})
            ),
            Err("field runDetails must be an object, not an array".into())
        );
        assert_eq!(
            check(
                "slsaprovenance1",
                &json!({"buildDefinition": {"resolvedDependencies": [{"content": "%%"}]},
                        "runDetails": {}})
            ),
            Err(
                "field buildDefinition.resolvedDependencies[0].content must be base64 text, \
                 not a string"
                    .into()
            )
        );
        assert_eq!(
            check("link", &json!({"_type": "x"})),
            Err("required field name missing".into())
        );
        // Vulnerability scans: no required fields, types only.
        assert_eq!(check("vuln", &json!({})), Ok(()));
        assert_eq!(
            check("vuln", &json!({"scanner": 5})),
            Err("field scanner must be an object, not a number".into())
        );
        assert_eq!(
            check("vuln", &json!([])),
            Err("the predicate must be an object, not an array".into())
        );
        for free in [
            "spdxjson",
            "cyclonedx",
            "openvex",
            "custom",
            "https://x.example/p",
        ] {
            assert_eq!(check(free, &json!({"anything": [1]})), Ok(()));
        }
    }

    #[test]
    fn times_are_checked_as_go_parses_rfc_3339() {
        for ok in [
            "2006-01-02T15:04:05Z",
            "2006-01-02T15:04:05.999999999-07:00",
            "2000-02-29T00:00:00Z",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2006-01-02 15:04:05Z",
            "2006-01-02T15:04:05",
            "2006-13-02T15:04:05Z",
            "2001-02-29T00:00:00Z",
            "2006-01-02T24:00:00Z",
            "2006-01-02T15:04:05.Z",
            "2006-01-02T15:04:05+0700",
            "06-01-02T15:04:05Z",
            "",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
