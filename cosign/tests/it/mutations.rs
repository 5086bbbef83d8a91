//! Every signed byte matters: in each bundle of the conformance suite that verifies, change one
//! field at a time (a bit of a signature, digest, certificate, log entry, proof hash, checkpoint,
//! timestamp; an index or a time) and the bundle must no longer verify. Only the fields no
//! verifier may rely on are left alone: the public-key hint, DSSE key ids, certificates after the
//! first in a v0.1/v0.2 chain (never trusted), and witness lines of a checkpoint.

use serde_json::Value;
use sigmirror_cosign::sigstore::bytes;

use super::conformance::{cases, run_bundle};

/// Flips one bit in the middle of a base64 field.
fn flip(text: &str) -> Option<String> {
    let mut raw = bytes::decode(text).ok()?;
    if raw.is_empty() {
        return None;
    }
    let middle = raw.len() / 2;
    raw[middle] ^= 0x01;
    Some(bytes::encode(&raw))
}

/// Every mutation of `bundle`: (where, the mutated bundle).
fn mutations(bundle: &Value) -> Vec<(String, Value)> {
    let mut out = vec![];
    let mut paths: Vec<(Vec<PathPart>, String)> = vec![];
    collect(bundle, &mut vec![], &mut paths);
    for (path, label) in paths {
        let mut mutated = bundle.clone();
        let target = path.iter().fold(&mut mutated, |v, p| match p {
            PathPart::Key(k) => &mut v[k.as_str()],
            PathPart::Index(i) => &mut v[*i],
        });
        let changed = match target {
            Value::String(s) if label == "checkpoint" => {
                // The origin line: the log's signature covers it.
                Some(Value::String(s.replacen('\n', "x\n", 1)))
            }
            Value::String(s) if label == "integer" => s
                .parse::<i64>()
                .ok()
                .map(|n| Value::String((n + 1).to_string())),
            Value::Number(n) => n.as_i64().map(|n| Value::from(n + 1)),
            Value::String(s) => flip(s).map(Value::String),
            _ => None,
        };
        if let Some(changed) = changed {
            *target = changed;
            out.push((label_path(&path), mutated));
        }
    }
    out
}

#[derive(Clone)]
enum PathPart {
    Key(String),
    Index(usize),
}

fn label_path(path: &[PathPart]) -> String {
    path.iter()
        .map(|p| match p {
            PathPart::Key(k) => k.clone(),
            PathPart::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The fields to mutate: base64 bytes, integers, checkpoints.
fn collect(value: &Value, path: &mut Vec<PathPart>, out: &mut Vec<(Vec<PathPart>, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let skip = matches!(
                    key.as_str(),
                    "hint"
                        | "keyid"
                        | "mediaType"
                        | "algorithm"
                        | "kind"
                        | "version"
                        | "payloadType"
                );
                // Only the leaf of a chain is used; the others are ignored by design.
                let chain = key == "certificates";
                if skip {
                    continue;
                }
                path.push(PathPart::Key(key.clone()));
                match (key.as_str(), child) {
                    ("envelope", Value::String(_)) => out.push((path.clone(), "checkpoint".into())),
                    ("logIndex" | "integratedTime" | "treeSize", Value::String(_)) => {
                        out.push((path.clone(), "integer".into()))
                    }
                    (_, Value::Array(items)) if chain => {
                        if let Some(first) = items.first() {
                            path.push(PathPart::Index(0));
                            collect(first, path, out);
                            path.pop();
                        }
                    }
                    (_, Value::String(_)) => out.push((path.clone(), "bytes".into())),
                    _ => collect(child, path, out),
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathPart::Index(i));
                match item {
                    Value::String(_) => out.push((path.clone(), "bytes".into())),
                    _ => collect(item, path, out),
                }
                path.pop();
            }
        }
        _ => {}
    }
}

#[test]
fn no_single_field_of_a_valid_bundle_can_change_and_still_verify() {
    let mut accepted = vec![];
    let mut tried = 0;
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("_fail") {
            continue;
        }
        let json: Value =
            serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap())
                .unwrap();
        assert!(
            run_bundle(&case, &serde_json::to_vec(&json).unwrap(), false).is_ok(),
            "{name}"
        );
        for (field, mutated) in mutations(&json) {
            tried += 1;
            if run_bundle(&case, &serde_json::to_vec(&mutated).unwrap(), false).is_ok() {
                accepted.push(format!("{name}: {field}"));
            }
        }
    }
    assert!(tried > 200, "only {tried} mutations");
    assert!(
        accepted.is_empty(),
        "accepted after a change:\n{}",
        accepted.join("\n")
    );
}
