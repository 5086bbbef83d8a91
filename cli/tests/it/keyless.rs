//! Keyless verification offline, judged by third parties: bundles and cosign 2's older forms
//! made by a private Sigstore instance (`tests/peers/private_sigstore.py`) must be accepted by
//! sigmirror exactly when cosign, sigstore-go and sigstore-python accept them, and every
//! mutation (wrong identity, expired at signing time, SET or entry from another log, tampered
//! proof, untrusted CA or CT log, tampered or mismatched signature) refused by all of them.

use std::path::Path;
use std::process::Command;

use sigmirror_tests::private_sigstore::{IDENTITY, ISSUER, PrivateSigstore};
use sigmirror_tests::{Run, TestDir, run, tool, venv_python};

use super::sigmirror;

/// A verdict: accepted or refused, with the output for the failure message.
fn accepted(run: &Run) -> bool {
    run.code == 0
}

fn identity_flags() -> [&'static str; 4] {
    [
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ]
}

/// sigmirror's verdict on a Sigstore bundle.
fn sigmirror_bundle(
    dir: &TestDir,
    ps: &PrivateSigstore,
    command: &str,
    bundle: &Path,
    artifact: &Path,
) -> Run {
    sigmirror_bundle_with(dir, ps, &[command], bundle, artifact)
}

/// [`sigmirror_bundle`] with more flags (`args` starts with the command).
fn sigmirror_bundle_with(
    dir: &TestDir,
    ps: &PrivateSigstore,
    args: &[&str],
    bundle: &Path,
    artifact: &Path,
) -> Run {
    run(
        sigmirror(dir)
            .args(args)
            .arg("--bundle")
            .arg(bundle)
            .arg("--trusted-root")
            .arg(ps.trusted_root())
            .args(identity_flags())
            .arg(artifact),
        None,
    )
}

/// cosign 3's verdict on a Sigstore bundle, given the instance's trusted root.
fn cosign3_bundle(
    dir: &TestDir,
    ps: &PrivateSigstore,
    args: &[&str],
    bundle: &Path,
    artifact: &Path,
) -> Run {
    run(
        Command::new(tool("cosign3"))
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .args(args)
            .arg("--bundle")
            .arg(bundle)
            .arg("--trusted-root")
            .arg(ps.trusted_root())
            .args(identity_flags())
            .arg(artifact),
        None,
    )
}

/// sigstore-go's verdict (its example verifier, with CT log, tlog and a timestamp required).
fn sigstore_go(ps: &PrivateSigstore, bundle: &Path, artifact: &Path) -> Run {
    run(
        Command::new(tool("sigstore-go-verification"))
            .arg("-trustedrootJSONpath")
            .arg(ps.trusted_root())
            .arg("-artifact")
            .arg(artifact)
            .args(["-expectedSAN", IDENTITY, "-expectedIssuer", ISSUER])
            .arg(bundle),
        None,
    )
}

/// sigstore-python's verdict, with the instance as its trust configuration (no TUF, no network).
fn sigstore_python(ps: &PrivateSigstore, bundle: &Path, artifact: &Path) -> Run {
    run(
        Command::new(venv_python())
            .args(["-m", "sigstore", "--trust-config"])
            .arg(ps.trust_config())
            .args(["verify", "identity", "--bundle"])
            .arg(bundle)
            .args(["--cert-identity", IDENTITY, "--cert-oidc-issuer", ISSUER])
            .arg(artifact),
        None,
    )
}

/// Asserts every verdict is `expect`, naming the ones that are not.
#[track_caller]
fn agree(case: &str, expect: bool, verdicts: &[(&str, Run)]) {
    let wrong: Vec<String> = verdicts
        .iter()
        .filter(|(_, r)| accepted(r) != expect)
        .map(|(judge, r)| format!("{judge}: exit {} {}", r.code, r.stderr.trim()))
        .collect();
    assert!(
        wrong.is_empty(),
        "{case}: expected {}, but:\n{}",
        if expect { "accept" } else { "reject" },
        wrong.join("\n")
    );
}

#[test]
fn message_signature_bundles_get_the_same_verdict_from_sigmirror_and_every_judge() {
    let ps = PrivateSigstore::init();
    let dir = TestDir::new();
    let artifact = dir.write("release.tar", b"the release artifact\n");
    let cases: &[(&str, &[&str], bool)] = &[
        ("v0.3", &[], true),
        ("v0.3 with timestamp", &["--tsa"], true),
        ("v0.2", &["--bundle-version", "0.2"], true),
        ("v0.1", &["--bundle-version", "0.1"], true),
        ("v0.3 old media type", &["--old-media-type"], true),
        // cosign requires the log's time unless told to use timestamps.
        ("timestamp, no promise", &["--tsa", "--no-promise"], true),
        ("wrong identity", &["--mutate", "wrong-identity"], false),
        ("wrong issuer", &["--mutate", "wrong-issuer"], false),
        (
            "expired at signing",
            &["--tsa", "--mutate", "expired"],
            false,
        ),
        (
            "SET from another key",
            &["--mutate", "set-untrusted-key"],
            false,
        ),
        (
            "entry from another log",
            &["--mutate", "untrusted-log"],
            false,
        ),
        (
            "tampered inclusion proof",
            &["--mutate", "tampered-proof"],
            false,
        ),
        ("untrusted CA", &["--mutate", "untrusted-ca"], false),
        ("untrusted CT log", &["--mutate", "untrusted-ctlog"], false),
        (
            "tampered signature",
            &["--mutate", "tampered-signature"],
            false,
        ),
        (
            "signature not the logged one",
            &["--mutate", "signature-mismatch"],
            false,
        ),
        (
            "untrusted TSA, no promise",
            &["--mutate", "untrusted-tsa", "--no-promise"],
            false,
        ),
    ];
    for (i, (case, extra, expect)) in cases.iter().enumerate() {
        let bundle = dir.join(format!("case{i}.sigstore.json"));
        let mut args = vec!["--out", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        ps.sign("sign-blob", &artifact, &args);
        let verify: &[&str] = if extra.contains(&"--no-promise") {
            &["verify-blob", "--use-signed-timestamps"]
        } else {
            &["verify-blob"]
        };
        agree(
            case,
            *expect,
            &[
                (
                    "sigmirror",
                    sigmirror_bundle_with(&dir, &ps, verify, &bundle, &artifact),
                ),
                (
                    "cosign3",
                    cosign3_bundle(&dir, &ps, verify, &bundle, &artifact),
                ),
                ("sigstore-go", sigstore_go(&ps, &bundle, &artifact)),
                ("sigstore-python", sigstore_python(&ps, &bundle, &artifact)),
            ],
        );
    }
}

#[test]
fn dsse_attestation_bundles_get_the_same_verdict_from_sigmirror_and_every_judge() {
    let ps = PrivateSigstore::init();
    let dir = TestDir::new();
    let artifact = dir.write("sbom.spdx.json", br#"{"spdxVersion":"SPDX-2.3"}"#);
    // sigstore-python does not read `intoto` entries (nor does the conformance suite ask it
    // to): that case is judged by the others.
    let cases: &[(&str, &[&str], bool, bool)] = &[
        ("dsse entry", &[], true, true),
        ("dsse entry with timestamp", &["--tsa"], true, true),
        ("intoto entry", &["--entry-kind", "intoto"], true, false),
        (
            "wrong identity",
            &["--mutate", "wrong-identity"],
            false,
            true,
        ),
        (
            "expired at signing",
            &["--tsa", "--mutate", "expired"],
            false,
            true,
        ),
        ("untrusted CA", &["--mutate", "untrusted-ca"], false, true),
        (
            "tampered signature",
            &["--mutate", "tampered-signature"],
            false,
            true,
        ),
        (
            "signature not the logged one",
            &["--mutate", "signature-mismatch"],
            false,
            true,
        ),
        (
            "tampered inclusion proof",
            &["--mutate", "tampered-proof"],
            false,
            true,
        ),
    ];
    for (i, (case, extra, expect, python)) in cases.iter().enumerate() {
        let bundle = dir.join(format!("att{i}.sigstore.json"));
        let mut args = vec!["--out", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        ps.sign("attest-blob", &artifact, &args);
        let mut verdicts = vec![
            (
                "sigmirror",
                sigmirror_bundle(&dir, &ps, "verify-blob-attestation", &bundle, &artifact),
            ),
            (
                "cosign3",
                cosign3_bundle(&dir, &ps, &["verify-blob-attestation"], &bundle, &artifact),
            ),
            ("sigstore-go", sigstore_go(&ps, &bundle, &artifact)),
        ];
        if *python {
            verdicts.push(("sigstore-python", sigstore_python(&ps, &bundle, &artifact)));
        }
        agree(case, *expect, &verdicts);
    }
    // The artifact must be a subject: another file is refused.
    let bundle = dir.join("att0.sigstore.json");
    let other = dir.write("other.json", b"{}");
    sigmirror_bundle(&dir, &ps, "verify-blob-attestation", &bundle, &other)
        .fails_with("not a subject of the statement");
}

/// cosign 2.5 with the instance as its private infrastructure (environment variables).
fn cosign_legacy(dir: &TestDir, ps: &PrivateSigstore, args: &[&str]) -> Run {
    let mut cmd = Command::new(tool("cosign"));
    cmd.current_dir(dir.path()).env("HOME", dir.path());
    for (k, v) in ps.cosign_env() {
        cmd.env(k, v);
    }
    run(cmd.args(args).args(identity_flags()), None)
}

#[test]
fn cosign_2_blob_bundles_and_detached_certificates_verify_like_cosign() {
    let ps = PrivateSigstore::init();
    let dir = TestDir::new();
    let artifact = dir.write("tool.bin", b"\x7fELF a tool");
    let root = ps.trusted_root();
    let root = root.to_str().unwrap();
    let cases: &[(&str, &[&str], bool)] = &[
        ("signed", &[], true),
        ("signed with timestamp", &["--tsa"], true),
        ("wrong identity", &["--mutate", "wrong-identity"], false),
        ("expired at signing", &["--mutate", "expired"], false),
        (
            "SET from another key",
            &["--mutate", "set-untrusted-key"],
            false,
        ),
        ("untrusted CA", &["--mutate", "untrusted-ca"], false),
        ("untrusted CT log", &["--mutate", "untrusted-ctlog"], false),
        (
            "signature not the logged one",
            &["--mutate", "signature-mismatch"],
            false,
        ),
    ];
    for (i, (case, extra, expect)) in cases.iter().enumerate() {
        let bundle = dir.join(format!("new{i}.json"));
        let legacy = dir.join(format!("legacy{i}.json"));
        let mut args = vec![
            "--out",
            bundle.to_str().unwrap(),
            "--legacy-bundle",
            legacy.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ps.sign("sign-blob", &artifact, &args);
        let legacy = legacy.to_str().unwrap();
        let artifact = artifact.to_str().unwrap();
        let with_env = {
            let mut cmd = sigmirror(&dir);
            for (k, v) in ps.cosign_env() {
                cmd.env(k, v);
            }
            run(
                cmd.args(["verify-blob", "--bundle", legacy])
                    .args(identity_flags())
                    .arg(artifact),
                None,
            )
        };
        agree(
            case,
            *expect,
            &[
                (
                    "sigmirror --trusted-root",
                    run(
                        sigmirror(&dir)
                            .args(["verify-blob", "--bundle", legacy, "--trusted-root", root])
                            .args(identity_flags())
                            .arg(artifact),
                        None,
                    ),
                ),
                ("sigmirror SIGSTORE_*", with_env),
                (
                    "cosign 2.5",
                    cosign_legacy(&dir, &ps, &["verify-blob", "--bundle", legacy, artifact]),
                ),
            ],
        );
    }

    // cosign 2's `.sig` pieces: certificate, signature and Rekor bundle as separate files.
    let payload = dir.write("payload.json", br#"{"critical":{}}"#);
    for (case, extra, expect) in [
        ("layer", &[][..], true),
        (
            "layer, wrong issuer",
            &["--mutate", "wrong-issuer"][..],
            false,
        ),
        (
            "layer, tampered signature",
            &["--mutate", "tampered-signature"][..],
            false,
        ),
    ] {
        let out = TestDir::new();
        let mut args = vec!["--out-dir", out.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        ps.sign("sign-image-layer", &payload, &args);
        let file = |n: &str| out.join(n).to_string_lossy().into_owned();
        let pieces = [
            "verify-blob".to_owned(),
            "--certificate".into(),
            file("cert.pem"),
            "--signature".into(),
            file("signature.b64"),
            "--bundle".into(),
            file("legacy_bundle.json"),
        ];
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let payload = payload.to_str().unwrap();
        agree(
            case,
            expect,
            &[
                (
                    "sigmirror",
                    run(
                        sigmirror(&dir)
                            .args(&pieces)
                            .args(["--trusted-root", root])
                            .args(identity_flags())
                            .arg(payload),
                        None,
                    ),
                ),
                (
                    "cosign 2.5",
                    cosign_legacy(&dir, &ps, &[&pieces[..], &[payload]].concat()),
                ),
            ],
        );
    }
}

#[test]
fn cosign_2_attestation_bundles_verify_like_cosign() {
    let ps = PrivateSigstore::init();
    let dir = TestDir::new();
    let artifact = dir.write("app.tgz", b"app bytes");
    for (case, extra, expect) in [
        ("attested", &[][..], true),
        ("wrong identity", &["--mutate", "wrong-identity"][..], false),
        ("untrusted CA", &["--mutate", "untrusted-ca"][..], false),
    ] {
        let bundle = dir.join("att.sigstore.json");
        let legacy = dir.join("att.legacy.json");
        let mut args = vec![
            "--out",
            bundle.to_str().unwrap(),
            "--legacy-bundle",
            legacy.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ps.sign("attest-blob", &artifact, &args);
        let legacy = legacy.to_str().unwrap();
        let artifact = artifact.to_str().unwrap();
        agree(
            case,
            expect,
            &[
                (
                    "sigmirror",
                    run(
                        sigmirror(&dir)
                            .args([
                                "verify-blob-attestation",
                                "--bundle",
                                legacy,
                                "--trusted-root",
                            ])
                            .arg(ps.trusted_root())
                            .args(identity_flags())
                            .arg(artifact),
                        None,
                    ),
                ),
                (
                    "cosign 2.5",
                    cosign_legacy(
                        &dir,
                        &ps,
                        &["verify-blob-attestation", "--bundle", legacy, artifact],
                    ),
                ),
            ],
        );
    }
}

#[test]
fn keyless_flags_are_checked_before_anything_is_read() {
    let dir = TestDir::new();
    dir.write("a.txt", b"a");
    dir.write("a.sig", b"MEU=");
    run(
        sigmirror(&dir).args(["verify-blob", "--signature", "a.sig", "a.txt"]),
        None,
    )
    .fails_with("--certificate-identity");
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--signature",
            "a.sig",
            "--certificate-identity",
            IDENTITY,
            "a.txt",
        ]),
        None,
    )
    .fails_with("--certificate-oidc-issuer");
    run(
        sigmirror(&dir)
            .args(["verify-blob", "--signature", "a.sig", "--key", "k.pub"])
            .args(identity_flags())
            .arg("a.txt"),
        None,
    )
    .fails_with("not both");
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--signature",
            "a.sig",
            "--certificate-identity-regexp",
            "(",
            "--certificate-oidc-issuer",
            ISSUER,
            "a.txt",
        ]),
        None,
    )
    .fails_with("invalid regular expression");
    // No trusted root anywhere: said, with the ways to give one.
    run(
        sigmirror(&dir)
            .args(["verify-blob", "--signature", "a.sig"])
            .args(identity_flags())
            .arg("a.txt"),
        None,
    )
    .fails_with("trust root add");
}
