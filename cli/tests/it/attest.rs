//! Attestations and SBOMs: sigmirror and the real cosign verify each other's, a third party
//! (securesystemslib) checks the DSSE envelope, and every broken envelope is refused.

use serde_json::Value;
use sigmirror_cosign::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use sigmirror_cosign::keys::PrivateKey;
use sigmirror_cosign::statement;
use sigmirror_tests::run;

use crate::Setup;

/// The shared [`Setup`] with a provenance predicate in its folder.
fn setup(repo: &str) -> Setup {
    let s = crate::setup(repo);
    s.dir.write(
        "provenance.json",
        r#"{"builder":{"id":"https://ci.example/builder"},"buildType":"https://example/build@v1"}"#,
    );
    s
}

impl Setup {
    fn key(&self) -> PrivateKey {
        PrivateKey::from_encrypted_pem(&self.dir.read("cosign.key"), b"pw").unwrap()
    }
}

fn lines(out: &sigmirror_tests::Run) -> Vec<Value> {
    out.stdout_text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn image_attestations_verify_both_ways() {
    let s = setup("team/att");
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--predicate",
        "provenance.json",
        "--type",
        "slsaprovenance",
        &s.image,
    ])
    .ok();
    // The real cosign verifies sigmirror's attestation.
    let out = s
        .cosign(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            "--type",
            "slsaprovenance",
            &s.image,
        ])
        .ok();
    assert_eq!(lines(&out).len(), 1);
    // sigmirror prints the envelope by default, the statement with -o statement.
    let out = s
        .sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "slsaprovenance",
            &s.image,
        ])
        .ok();
    let envelope = &lines(&out)[0];
    assert_eq!(envelope["payloadType"], IN_TOTO_PAYLOAD_TYPE);
    // As in cosign, verify-attestation looks for `custom` attestations unless told otherwise.
    s.sm(&["verify-attestation", "--key", "cosign.pub", &s.image])
        .fails_with("not \"https://cosign.sigstore.dev/attestation/v1\"");
    s.cosign(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &s.image,
    ])
    .fails_with("none of the attestations matched the predicate type: custom");
    let out = s
        .sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "slsaprovenance",
            "-o",
            "statement",
            &s.image,
        ])
        .ok();
    let st = &lines(&out)[0];
    assert_eq!(st["predicateType"], "https://slsa.dev/provenance/v0.2");
    assert_eq!(
        st["subject"][0]["digest"]["sha256"],
        s.digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        st["predicate"]["builder"]["id"],
        "https://ci.example/builder"
    );

    // cosign attests, sigmirror verifies; the .att now holds both.
    s.dir.write("vuln.json", r#"{"scanner":{"uri":"x"}}"#);
    s.cosign(&[
        "attest",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        "--predicate",
        "vuln.json",
        "--type",
        "https://example.com/scan/v1",
        &s.image,
    ])
    .ok();
    let out = s
        .sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "https://example.com/scan/v1",
            "-o",
            "statement",
            &s.image,
        ])
        .ok();
    assert_eq!(lines(&out).len(), 1);

    // download attestation matches cosign's, and filters by predicate type.
    let ours = s.sm(&["download", "attestation", &s.image]).ok();
    let theirs = s.cosign(&["download", "attestation", &s.image]).ok();
    let sorted = |r: &sigmirror_tests::Run| {
        let mut l: Vec<String> = r.stdout_text().lines().map(str::to_owned).collect();
        l.sort();
        l
    };
    assert_eq!(
        sorted(&ours),
        sorted(&theirs),
        "the same envelopes, byte for byte"
    );
    let filtered = s
        .sm(&[
            "download",
            "attestation",
            "--predicate-type",
            "https://example.com/scan/v1",
            &s.image,
        ])
        .ok();
    assert_eq!(lines(&filtered).len(), 1);
    s.sm(&[
        "download",
        "attestation",
        "--predicate-type",
        "https://nothing/v1",
        &s.image,
    ])
    .fails_with("no attestations with predicate type");

    // --replace keeps one attestation of the type, first.
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--predicate",
        "provenance.json",
        "--type",
        "slsaprovenance",
        "--replace",
        &s.image,
    ])
    .ok();
    // One provenance (the replaced one is gone), and the scan attestation kept.
    for kind in ["slsaprovenance", "https://example.com/scan/v1"] {
        let out = s
            .sm(&[
                "verify-attestation",
                "--key",
                "cosign.pub",
                "--type",
                kind,
                "-o",
                "statement",
                &s.image,
            ])
            .ok();
        assert_eq!(lines(&out).len(), 1, "{kind}");
    }
    s.cosign(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--type",
        "slsaprovenance",
        &s.image,
    ])
    .ok();
}

#[test]
fn blob_attestations_verify_both_ways_and_with_securesystemslib() {
    let s = setup("team/blobatt");
    s.dir.write("artifact.bin", b"release artifact".repeat(100));
    s.sm(&[
        "attest-blob",
        "--key",
        "cosign.key",
        "--predicate",
        "provenance.json",
        "--type",
        "slsaprovenance",
        "--output-signature",
        "ours.json",
        "artifact.bin",
    ])
    .ok();
    let env: Value = serde_json::from_slice(&s.dir.read("ours.json")).unwrap();
    let keys: Vec<&str> = env
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 3);
    s.cosign(&[
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--signature",
        "ours.json",
        "--type",
        "slsaprovenance",
        "artifact.bin",
    ])
    .ok();
    s.sm(&[
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--signature",
        "ours.json",
        "--type",
        "slsaprovenance",
        "artifact.bin",
    ])
    .ok();
    // Without --type both look for `custom`, and both refuse this provenance.
    let without_type = [
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--signature",
        "ours.json",
        "artifact.bin",
    ];
    s.cosign(&without_type)
        .fails_with("invalid predicate type, expected custom");
    s.sm(&without_type)
        .fails_with("https://cosign.sigstore.dev/attestation/v1");
    s.cosign(&[
        "attest-blob",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        "--predicate",
        "provenance.json",
        "--type",
        "https://example.com/ci/v1",
        "--output-signature",
        "theirs.json",
        "artifact.bin",
    ])
    .ok();
    s.sm(&[
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--signature",
        "theirs.json",
        "--type",
        "https://example.com/ci/v1",
        "artifact.bin",
    ])
    .ok();
    // Wrong predicate type, other bytes, other key.
    s.sm(&[
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--signature",
        "ours.json",
        "--type",
        "spdxjson",
        "artifact.bin",
    ])
    .fails_with("predicate type");
    s.dir.write("other.bin", "other");
    s.sm(&[
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--signature",
        "ours.json",
        "other.bin",
    ])
    .fails_with("no subject with digest");
    crate::generate_other_key_pair(&s.dir);
    s.sm(&[
        "verify-blob-attestation",
        "--key",
        "other.pub",
        "--signature",
        "ours.json",
        "artifact.bin",
    ])
    .fails_with("invalid signature");
    // Malformed input: clear errors.
    s.dir.write("junk.json", "{not json");
    s.sm(&[
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--signature",
        "junk.json",
        "artifact.bin",
    ])
    .fails_with("not JSON");
    let bad_b64 = String::from_utf8(s.dir.read("ours.json"))
        .unwrap()
        .replace("\"payload\":\"", "\"payload\":\"@@");
    s.dir.write("badb64.json", bad_b64);
    s.sm(&[
        "verify-blob-attestation",
        "--key",
        "cosign.pub",
        "--signature",
        "badb64.json",
        "artifact.bin",
    ])
    .fails_with("not base64");

    // A third party checks the DSSE envelope: securesystemslib's verifier, with our public key.
    let script = r#"
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
env = Envelope.from_dict(json.load(open(sys.argv[1])))
key = SSlibKey("", "ecdsa", "ecdsa-sha2-nistp256", {"public": open(sys.argv[2]).read()})
env.verify([key], 1)
stmt = json.loads(env.payload)
print(stmt["predicateType"])
"#;
    let py = sigmirror_tests::venv_python();
    let out = run(
        std::process::Command::new(&py)
            .current_dir(s.dir.path())
            .args(["-c", script, "ours.json", "cosign.pub"]),
        None,
    )
    .ok();
    assert_eq!(out.stdout_text().trim(), "https://slsa.dev/provenance/v0.2");
    // ...and rejects it for another key.
    let out = run(
        std::process::Command::new(&py)
            .current_dir(s.dir.path())
            .args(["-c", script, "ours.json", "other.pub"]),
        None,
    );
    assert_ne!(out.code, 0, "securesystemslib must reject another key");
}

/// Attaches an envelope made in the test (signed with the real key) to the image's `.att`.
fn attach_envelope(s: &Setup, name: &str, envelope: &[u8]) {
    s.dir.write(name, envelope);
    s.sm(&["attach", "attestation", "--attestation", name, &s.image])
        .ok();
}

#[test]
fn broken_attestations_fail_verification() {
    let s = setup("team/badatt");
    let key = s.key();
    let digest = sigmirror_oci::Digest::parse(&s.digest).unwrap();
    let pred = serde_json::json!({"k": "v"});
    let good = statement::statement("x", &digest, "https://example.com/t/v1", &pred);

    // No attestations at all.
    let out = s.sm(&["verify-attestation", "--key", "cosign.pub", &s.image]);
    assert_eq!(out.code, 10, "{}", out.stderr);
    // Statement about another digest.
    let zero = sigmirror_oci::Digest::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
    let other = statement::statement("x", &zero, "https://example.com/t/v1", &pred);
    attach_envelope(
        &s,
        "other.json",
        &Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, other)
            .unwrap()
            .to_json(),
    );
    // Signed under another payload type.
    let mut typed = Envelope::sign(&key, "text/plain", good.clone()).unwrap();
    typed.payload_type = "text/plain".into();
    let json = String::from_utf8(typed.to_json()).unwrap();
    s.dir.write("typed.json", &json);
    // attach refuses non-in-toto envelopes; put it in with the payload type switched after
    // signing, which breaks the signature instead.
    let switched = json.replace("text/plain", IN_TOTO_PAYLOAD_TYPE);
    attach_envelope(&s, "switched.json", switched.as_bytes());
    // A tampered payload.
    let mut tampered = Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, good.clone()).unwrap();
    tampered.payload.insert(1, b' ');
    attach_envelope(&s, "tampered.json", &tampered.to_json());
    // Signed by another key.
    let stranger =
        Envelope::sign(&PrivateKey::generate(), IN_TOTO_PAYLOAD_TYPE, good.clone()).unwrap();
    attach_envelope(&s, "stranger.json", &stranger.to_json());

    let out = s.sm(&["verify-attestation", "--key", "cosign.pub", &s.image]);
    assert_eq!(out.code, 12, "{}", out.stderr);
    for needle in [
        "attestation 1: statement has no subject",
        "attestation 2: invalid signature",
        "attestation 3: invalid signature",
        "attestation 4: invalid signature",
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing {needle:?}: {}",
            out.stderr
        );
    }
    s.cosign(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &s.image,
    ])
    .fails_with("no matching attestations");

    // attach refuses envelopes that are not in-toto or carry no signatures.
    s.sm(&[
        "attach",
        "attestation",
        "--attestation",
        "typed.json",
        &s.image,
    ])
    .fails_with("is not in-toto");
    let mut unsigned = Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, good.clone()).unwrap();
    unsigned.signatures.clear();
    s.dir.write("unsigned.json", unsigned.to_json());
    s.sm(&[
        "attach",
        "attestation",
        "--attestation",
        "unsigned.json",
        &s.image,
    ])
    .fails_with("no signatures");

    // A good one is accepted; with --type of another predicate type it is not.
    attach_envelope(
        &s,
        "good.json",
        &Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, good)
            .unwrap()
            .to_json(),
    );
    let out = s
        .sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "https://example.com/t/v1",
            &s.image,
        ])
        .ok();
    assert_eq!(lines(&out).len(), 1);
    let out = s.sm(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--type",
        "slsaprovenance",
        &s.image,
    ]);
    assert_eq!(out.code, 12);
    assert!(
        out.stderr
            .contains("predicate type is \"https://example.com/t/v1\""),
        "{}",
        out.stderr
    );
    s.cosign(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--type",
        "https://example.com/t/v1",
        &s.image,
    ])
    .ok();
}

#[test]
fn sboms_attach_and_download_like_cosign() {
    let s = setup("team/sbom");
    s.dir.write(
        "bom.spdx.json",
        r#"{"spdxVersion":"SPDX-2.3","name":"app"}"#,
    );
    s.sm(&[
        "attach",
        "sbom",
        "--sbom",
        "bom.spdx.json",
        "--type",
        "spdx",
        &s.image,
    ])
    .ok();
    let ours = s.sm(&["download", "sbom", &s.image]).ok();
    assert_eq!(ours.stdout, s.dir.read("bom.spdx.json"));
    assert!(ours.stderr.contains("text/spdx+json"), "{}", ours.stderr);
    let theirs = s.cosign(&["download", "sbom", &s.image]).ok();
    assert_eq!(theirs.stdout, s.dir.read("bom.spdx.json"));
    // cosign's attach; our download and tree see it.
    s.dir.write("bom.xml", "<bom/>");
    s.cosign(&[
        "attach",
        "sbom",
        "--sbom",
        "bom.xml",
        "--type",
        "cyclonedx",
        &s.image,
    ])
    .ok();
    let ours = s.sm(&["download", "sbom", &s.image]).ok();
    assert_eq!(ours.stdout, b"<bom/>");
    assert!(
        ours.stderr.contains("application/vnd.cyclonedx+xml"),
        "{}",
        ours.stderr
    );
    let tree = s.sm(&["tree", &s.image]).ok();
    assert!(
        tree.stdout_text().contains("SBOMs for an image tag"),
        "{}",
        tree.stdout_text()
    );
    let tri = s.sm(&["triangulate", "--type", "sbom", &s.image]).ok();
    assert!(tri.stdout_text().trim().ends_with(".sbom"));
}

/// `attest --type` refuses the predicates the real cosign refuses for that type, naming the
/// same missing field, and takes the ones cosign takes (issue: "The mirror tells the truth",
/// item 5). An SLSA 0.2 attestation sigmirror writes is then read back by
/// `cosign verify-attestation --type slsaprovenance`, which decodes it into cosign's Go type.
#[test]
fn predicates_are_checked_for_their_type_as_cosign_checks_them() {
    let s = setup("team/predicates");
    let cases: &[(&str, &str)] = &[
        ("slsaprovenance", "{}"),
        ("slsaprovenance", r#"{"builder":{}}"#),
        ("slsaprovenance", r#"{"builder":"x","buildType":"t"}"#),
        ("slsaprovenance", r#"{"builder":{"id":5},"buildType":"t"}"#),
        (
            "slsaprovenance",
            r#"{"builder":{},"buildType":"t","invocation":5}"#,
        ),
        (
            "slsaprovenance",
            r#"{"builder":{},"buildType":"t","metadata":{"buildStartedOn":"now"}}"#,
        ),
        (
            "slsaprovenance",
            r#"{"builder":{"id":"b"},"buildType":"t","unknown":[1]}"#,
        ),
        (
            "slsaprovenance02",
            r#"{"Builder":{"ID":"b"},"buildType":"t"}"#,
        ),
        ("slsaprovenance1", r#"{"buildDefinition":{}}"#),
        (
            "slsaprovenance1",
            r#"{"buildDefinition":{"buildType":5},"runDetails":{}}"#,
        ),
        (
            "slsaprovenance1",
            r#"{"buildDefinition":{},"runDetails":{"builder":{"id":"b"}}}"#,
        ),
        ("link", r#"{"_type":"link","name":"n"}"#),
        ("vuln", "{}"),
        ("vuln", r#"{"scanner":{"db":{"uri":1}}}"#),
        (
            "vuln",
            r#"{"metadata":{"scanStartedOn":"2024-01-01T00:00:00Z"}}"#,
        ),
        ("cyclonedx", r#"{"bomFormat":5}"#),
    ];
    for (i, (kind, predicate)) in cases.iter().enumerate() {
        let file = format!("predicate-{i}.json");
        s.dir.write(&file, predicate);
        let attest = |tool: &str| {
            let mut args = vec![
                "attest",
                "--key",
                "cosign.key",
                "--type",
                kind,
                "--predicate",
                &file,
            ];
            if tool == "cosign" {
                args.extend(["--yes", "--tlog-upload=false", "--allow-http-registry"]);
                args.push(&s.image);
                s.cosign(&args)
            } else {
                args.push(&s.image);
                s.sm(&args)
            }
        };
        let theirs = attest("cosign");
        let ours = attest("sigmirror");
        assert_eq!(
            theirs.code == 0,
            ours.code == 0,
            "{kind} {predicate}: cosign {}, sigmirror {}",
            theirs.stderr,
            ours.stderr
        );
        // The field cosign names as missing is the one sigmirror names.
        if let Some(at) = theirs.stderr.find("required field ") {
            let field = theirs.stderr[at..].split_whitespace().nth(2).unwrap();
            ours.fails_with(&format!("required field {field} missing"));
        }
    }
    // What sigmirror accepted, cosign reads back with the type's Go decoder.
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "provenance.json",
        &s.image,
    ])
    .ok();
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &s.image,
        &["--type", "slsaprovenance"],
    )
    .ok();
}
