//! Sigstore's client conformance cases (70 bundles, 21 that must verify and 49 that must not),
//! each verified twice: with the artifact's contents and with only its `sha256:` digest, as the
//! conformance suite runs every client. The failing cases must also fail for their reason: a
//! verifier that refuses a tampered bundle for an unrelated parse error would hide a missing
//! check.

use std::path::{Path, PathBuf};

use sigmirror_cosign::sigstore::keys::PublicKey;
use sigmirror_cosign::sigstore::{
    Artifact, Bundle, Error, IdentityPolicy, Options, Policy, TrustedRoot, verify,
};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

pub fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn cases() -> Vec<PathBuf> {
    let dir = data().join("sigstore-conformance/bundle-verify");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// The override file of a case, or the default.
fn read_or(case: &Path, name: &str, default: &Path) -> Vec<u8> {
    let own = case.join(name);
    std::fs::read(if own.exists() {
        own
    } else {
        default.to_owned()
    })
    .unwrap()
}

fn text_or(case: &Path, name: &str, default: &str) -> String {
    std::fs::read_to_string(case.join(name))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| default.to_owned())
}

/// Runs a case in one artifact mode; the outcome is the error, if any.
fn run(case: &Path, digest_only: bool) -> Result<(), Error> {
    let bundle = std::fs::read(case.join("bundle.sigstore.json")).unwrap();
    run_bundle(case, &bundle, digest_only)
}

/// Runs a case with `bundle` in place of its own.
pub fn run_bundle(case: &Path, bundle: &[u8], digest_only: bool) -> Result<(), Error> {
    let trust = TrustedRoot::from_json(&read_or(
        case,
        "trusted_root.json",
        &data().join("trusted-roots/production.json"),
    ))?;
    let policy = match std::fs::read(case.join("key.pub")) {
        Ok(pem) => Policy::Key(PublicKey::from_pem(&pem)?),
        Err(_) => Policy::Identity(IdentityPolicy::exact(
            &text_or(case, "identity", DEFAULT_IDENTITY),
            &text_or(case, "issuer", DEFAULT_ISSUER),
        )),
    };
    let artifact = read_or(
        case,
        "artifact",
        &data().join("sigstore-conformance/bundle-verify/a.txt"),
    );
    let artifact = match Artifact::of_bytes(&artifact) {
        Artifact::Contents { sha256, .. } if digest_only => Artifact::Sha256(sha256),
        contents => contents,
    };
    let bundle = Bundle::from_json(bundle)?;
    verify(
        &bundle,
        Some(&artifact),
        &trust,
        &policy,
        &Options::default(),
    )
    .map(|_| ())
}

/// What each failing case must be refused for (the first check that fails, in sigstore-go's
/// order; see the case's README).
fn expected_failure(name: &str) -> fn(&Error) -> bool {
    match name {
        "bundle-empty-certificate-chain_fail"
        | "bundle-invalid-base64-signature_fail"
        | "bundle-malformed-json_fail"
        | "bundle-negative-log-index_fail"
        | "bundle-with-root-cert_fail"
        | "intoto-missing-inclusion-proof_fail"
        | "invalid-inclusion-proof_fail"
        | "rekor2-no-inclusion-proof_fail"
        | "rekor2-timestamp-with-incorrect-time_fail" => |e| matches!(e, Error::Bundle { .. }),
        "bundle-unknown-version_fail" => |e| matches!(e, Error::UnsupportedBundle { .. }),
        "bundle-from-wrong-instance_fail"
        | "incorrect-public-key_fail"
        | "set-invalid-signature_fail" => |e| matches!(e, Error::NoVerifiedLogEntry { .. }),
        "checkpoint-bad-keyhint_fail"
        | "invalid-checkpoint-signature_fail"
        | "rekor2-checkpoint-missing-log-signature_fail"
        | "rekor2-checkpoint-missing-origin_fail"
        | "rekor2-checkpoint-missing-root-hash_fail"
        | "rekor2-checkpoint-missing-size_fail"
        | "rekor2-checkpoint-no-matching-signature_fail" => {
            |e| matches!(e, Error::Checkpoint { .. })
        }
        "checkpoint-wrong-roothash_fail" | "inclusion-proof-corrupted-hash_fail" => {
            |e| matches!(e, Error::InclusionProof { .. })
        }
        "dsse-invalid-sig_fail"
        | "dsse-mismatch-envelope_fail"
        | "dsse-mismatch-sig_fail"
        | "intoto-log-entry-mismatch_fail"
        | "message-digest-mismatch_fail"
        | "rekor2-dsse-invalid-sig_fail"
        | "rekor2-dsse-mismatch-envelope_fail"
        | "rekor2-dsse-mismatch-sig_fail"
        | "signature-mismatch_fail"
        | "wrong-hashedrekord-artifact_fail"
        | "wrong-hashedrekord-cert-and-sig_fail"
        | "wrong-hashedrekord-entry_fail" => |e| matches!(e, Error::EntryMismatch { .. }),
        "integrated-time-in-future_fail"
        | "intoto-expired-certificate_fail"
        | "intoto-set-outside-signing-cert-validity_fail"
        | "intoto-tsa-timestamp-outside-cert-validity_fail" => {
            |e| matches!(e, Error::OutsideValidity { .. })
        }
        "invalid-ct-key_fail" => |e| matches!(e, Error::Sct { .. }),
        "managed-key-no-key_fail" => |e| matches!(e, Error::Policy { .. }),
        "managed-key-wrong-key_fail" => |e| matches!(e, Error::Key { .. }),
        "rekor2-no-timestamp_fail" => |e| matches!(e, Error::NoSigningTime),
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail"
        | "rekor2-timestamp-outside-tsa-cert-validity_fail"
        | "rekor2-timestamp-payload-mismatch_fail"
        | "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail"
        | "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail" => {
            |e| matches!(e, Error::Timestamp { .. })
        }
        "trust-root-tlog-missing-validity-start_fail" => |e| matches!(e, Error::TrustedRoot { .. }),
        "wrong-material_fail" => |e| matches!(e, Error::Signature { .. }),
        _ => |_| false,
    }
}

#[test]
fn every_conformance_case_gives_the_expected_result_for_its_reason() {
    let cases = cases();
    assert_eq!(cases.len(), 70, "the conformance suite has 70 cases");
    let mut wrong = vec![];
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        for digest_only in [false, true] {
            let mode = if digest_only { "digest" } else { "file" };
            match (name.ends_with("_fail"), run(case, digest_only)) {
                (false, Ok(())) => {}
                (false, Err(e)) => wrong.push(format!("{name} ({mode}): refused: {e}")),
                (true, Ok(())) => wrong.push(format!("{name} ({mode}): ACCEPTED")),
                (true, Err(e)) => {
                    if !expected_failure(name)(&e) {
                        wrong.push(format!(
                            "{name} ({mode}): refused for another reason: {e:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
