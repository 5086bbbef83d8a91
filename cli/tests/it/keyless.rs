//! Keyless verification offline, judged by third parties: bundles and cosign 2's older forms
//! made by a private Sigstore instance (`tests/peers/private_sigstore.py`) must be accepted by
//! sigmirror exactly when cosign, sigstore-go and sigstore-python accept them, and every
//! mutation (wrong identity, expired at signing time, SET or entry from another log, tampered
//! proof, untrusted CA or CT log, tampered or mismatched signature) refused by all of them.

use std::path::Path;
use std::process::Command;

use sigmirror_tests::oci::push_image;
use sigmirror_tests::private_sigstore::{IDENTITY, ISSUER, PrivateSigstore};
use sigmirror_tests::registry::TestRegistry;
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

/// Sigstore's public-good trusted root (a test vector of the cosign crate).
const PRODUCTION_ROOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cosign/tests/data/trusted-roots/production.json"
);

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
    // Files named on the command line are read with a bound (`/dev/zero` never ends).
    for args in [
        &["verify-blob", "--bundle", "/dev/zero", "a.txt"][..],
        &[
            "verify-blob",
            "--signature",
            "a.sig",
            "--trusted-root",
            "/dev/zero",
        ][..],
        &[
            "verify-blob",
            "--signature",
            "a.sig",
            "--certificate",
            "/dev/zero",
            "--trusted-root",
            PRODUCTION_ROOT,
        ][..],
        &["trust", "root", "add", "zero", "/dev/zero"][..],
    ] {
        let mut cmd = sigmirror(&dir);
        cmd.args(args);
        if args[0] == "verify-blob" && !args.contains(&"--bundle") {
            cmd.args(identity_flags()).arg("a.txt");
        }
        run(&mut cmd, None).fails_with("refusing to read it");
    }
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

/// Signs `repo@digest` as the private instance would for cosign 2 (`sign-image-layer` with
/// `extra`) and attaches the signature with its certificate, Rekor bundle and timestamp.
/// With `--tsa` among `extra`, the evidence is given in cosign's forms (`--cert`,
/// `--cert-chain`, `--rekor-response` with the signed-payload JSON, `--tsr` with the DER
/// response), else in sigmirror's (`--certificate`, `--rekor-bundle`, `--rfc3161-timestamp`).
pub(crate) fn sign_image(
    ps: &PrivateSigstore,
    dir: &TestDir,
    image: &str,
    repo: &str,
    digest: &str,
    extra: &[&str],
) {
    let payload = dir.join(format!("{}.payload.json", repo.replace('/', "_")));
    ps.run(&[
        "simple-signing-payload",
        "--ref",
        repo,
        "--digest",
        digest,
        "--out",
        payload.to_str().unwrap(),
    ]);
    let out = TestDir::new();
    let mut args = vec!["--out-dir", out.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    ps.sign("sign-image-layer", &payload, &args);
    let file = |n: &str| out.join(n).to_string_lossy().into_owned();
    let mut attach = vec![
        "attach".to_owned(),
        "signature".into(),
        "--payload".into(),
        payload.to_string_lossy().into_owned(),
        "--signature".into(),
        file("signature.b64"),
    ];
    if extra.contains(&"--tsa") {
        attach.extend(cosign_evidence_forms(&out));
    } else {
        attach.extend([
            "--certificate".into(),
            file("cert.pem"),
            "--certificate-chain".into(),
            file("chain.pem"),
            "--rekor-bundle".into(),
            file("rekor_bundle.json"),
        ]);
        if out.join("rfc3161timestamp.json").exists() {
            attach.extend(["--rfc3161-timestamp".into(), file("rfc3161timestamp.json")]);
        }
    }
    attach.push(image.to_owned());
    run(sigmirror(dir).args(&attach), None).ok();
}

/// `attach signature`'s evidence flags as cosign names and reads them, from the private
/// instance's files in `out`: the Rekor bundle inside cosign's signed-payload JSON, the
/// timestamp as the authority's DER response.
fn cosign_evidence_forms(out: &TestDir) -> Vec<String> {
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
    let response = format!(
        r#"{{"base64Signature":"{}","cert":"","rekorBundle":{}}}"#,
        read("signature.b64").trim(),
        read("rekor_bundle.json").trim()
    );
    out.write("rekor_response.json", response.as_bytes());
    let timestamp: serde_json::Value =
        serde_json::from_str(&read("rfc3161timestamp.json")).unwrap();
    let der = sigmirror_cosign::b64::decode_lenient(
        timestamp["SignedRFC3161Timestamp"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    out.write("timestamp.tsr", &der);
    let file = |n: &str| out.join(n).to_string_lossy().into_owned();
    vec![
        "--cert".into(),
        file("cert.pem"),
        "--cert-chain".into(),
        file("chain.pem"),
        "--rekor-response".into(),
        file("rekor_response.json"),
        "--tsr".into(),
        file("timestamp.tsr"),
    ]
}

#[test]
fn keyless_images_verify_online_offline_and_in_the_mounted_view() {
    let ps = PrivateSigstore::init();
    let mut reg = TestRegistry::start();
    let dir = TestDir::new();
    let store = dir.join("store");
    let sm = |args: &[&str]| {
        run(
            sigmirror(&dir).env("SIGMIRROR_STORE", &store).args(args),
            None,
        )
    };
    let root = ps.trusted_root().to_string_lossy().into_owned();

    let good = format!("{}:v1", reg.image("keyless/app"));
    let good_digest = push_image(&good, "keyless-app");
    sign_image(
        &ps,
        &dir,
        &good,
        &reg.image("keyless/app"),
        &good_digest,
        &["--tsa"],
    );
    let forged = format!("{}:v1", reg.image("keyless/forged"));
    let forged_digest = push_image(&forged, "keyless-forged");
    sign_image(
        &ps,
        &dir,
        &forged,
        &reg.image("keyless/forged"),
        &forged_digest,
        &["--mutate", "untrusted-ca"],
    );

    // A keyless attestation about the image: its subject is the manifest's digest.
    let manifest = dir.join("manifest.json");
    let repo_path = "keyless/app";
    std::fs::write(
        &manifest,
        sigmirror_tests::http_get(&format!(
            "http://{}/v2/{repo_path}/manifests/{good_digest}",
            reg.addr()
        )),
    )
    .unwrap();
    let att = TestDir::new();
    let legacy = att.join("legacy.json");
    ps.sign(
        "attest-blob",
        &manifest,
        &[
            "--out",
            att.join("b.json").to_str().unwrap(),
            "--legacy-bundle",
            legacy.to_str().unwrap(),
        ],
    );
    let legacy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&legacy).unwrap()).unwrap();
    let b64 = |s: &str| sigmirror_cosign::b64::decode_lenient(s.as_bytes()).unwrap();
    att.write(
        "envelope.json",
        b64(legacy["base64Signature"].as_str().unwrap()),
    );
    att.write("cert.pem", b64(legacy["cert"].as_str().unwrap()));
    att.write(
        "rekor.json",
        serde_json::to_vec(&legacy["rekorBundle"]).unwrap(),
    );
    let (envelope, cert, rekor) = (
        att.join("envelope.json"),
        att.join("cert.pem"),
        att.join("rekor.json"),
    );
    let attach_att = [
        "attach",
        "attestation",
        "--attestation",
        envelope.to_str().unwrap(),
        "--certificate",
        cert.to_str().unwrap(),
        "--rekor-bundle",
        rekor.to_str().unwrap(),
        &good,
    ];
    sm(&attach_att).ok();
    // The same envelope re-encoded (whitespace) on another image built from the same manifest:
    // its bytes no longer hash to what the log recorded.
    let reencoded = format!("{}:v1", reg.image("keyless/reencoded"));
    assert_eq!(push_image(&reencoded, "keyless-app"), good_digest);
    let pretty: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&envelope).unwrap()).unwrap();
    att.write("pretty.json", serde_json::to_vec_pretty(&pretty).unwrap());
    let pretty = att.join("pretty.json");
    let mut attach_pretty = attach_att;
    attach_pretty[3] = pretty.to_str().unwrap();
    attach_pretty[8] = &reencoded;
    sm(&attach_pretty).ok();

    // Online: cosign 2.5 (private infrastructure by environment), cosign 3 and sigmirror (the
    // trusted root) accept the signed image and refuse the one from the impostor CA.
    let cosign_env = |cmd: &str, image: &str| {
        let mut c = Command::new(tool("cosign"));
        c.current_dir(dir.path()).env("HOME", dir.path());
        for (k, v) in ps.cosign_env() {
            c.env(k, v);
        }
        run(
            c.args([cmd, "--allow-http-registry"])
                .args(identity_flags())
                .arg(image),
            None,
        )
    };
    let cosign3 = |image: &str| {
        run(
            Command::new(tool("cosign3"))
                .current_dir(dir.path())
                .env("HOME", dir.path())
                .args(["verify", "--allow-http-registry", "--trusted-root", &root])
                .args(identity_flags())
                .arg(image),
            None,
        )
    };
    let sm_verify = |cmd: &str, image: &str, extra: &[&str]| {
        let mut args = vec![cmd];
        args.extend_from_slice(extra);
        args.extend(identity_flags());
        args.push(image);
        sm(&args)
    };
    for (case, expect, image) in [
        ("signed image", true, &good),
        ("image signed under an untrusted CA", false, &forged),
    ] {
        agree(
            case,
            expect,
            &[
                ("cosign 2.5", cosign_env("verify", image)),
                ("cosign3", cosign3(image)),
                (
                    "sigmirror",
                    sm_verify("verify", image, &["--trusted-root", &root]),
                ),
            ],
        );
    }
    agree(
        "keyless attestation",
        true,
        &[
            ("cosign 2.5", cosign_env("verify-attestation", &good)),
            (
                "sigmirror",
                sm_verify("verify-attestation", &good, &["--trusted-root", &root]),
            ),
        ],
    );
    agree(
        "keyless attestation whose envelope is not the logged one",
        false,
        &[
            ("cosign 2.5", cosign_env("verify-attestation", &reencoded)),
            (
                "sigmirror",
                sm_verify("verify-attestation", &reencoded, &["--trusted-root", &root]),
            ),
        ],
    );
    // cosign's output for keyless: the checks it made, then the payloads.
    let out = sm_verify("verify", &good, &["--trusted-root", &root]).ok();
    assert!(
        out.stderr.contains("code-signing certificate was verified"),
        "{}",
        out.stderr
    );
    // The payloads as cosign prints them: with the certificate's subject, issuer, Fulcio
    // extensions and the Rekor bundle, the same JSON as cosign's.
    let ours: serde_json::Value = serde_json::from_str(out.stdout_text().trim()).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(cosign_env("verify", &good).ok().stdout_text().trim()).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours[0]["optional"]["Subject"], IDENTITY);
    assert!(out.stdout_text().contains(&good_digest));
    let out = sm(&[
        "verify",
        "--trusted-root",
        &root,
        "--certificate-identity",
        "https://github.com/someone/else",
        "--certificate-oidc-issuer",
        ISSUER,
        &good,
    ]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("does not match the required https://github.com/someone/else"),
        "{}",
        out.stderr
    );

    // Into the store; then the registry goes away and the store answers alone.
    sm(&["pull", &good, &forged]).ok();
    sm(&["trust", "root", "add", "private", &root]).ok();
    let mut identity = vec!["trust", "identity", "add", "release"];
    identity.extend(identity_flags());
    sm(&identity).ok();
    let listed = sm(&["trust", "identity", "ls"]).ok();
    assert!(
        listed
            .stdout_text()
            .contains(&format!("release\t{IDENTITY} issued by {ISSUER}")),
        "{}",
        listed.stdout_text()
    );
    reg.stop();
    sm_verify("verify", &good, &["--offline"]).ok();
    sm_verify("verify-attestation", &good, &["--offline"]).ok();
    sm_verify("verify", &forged, &["--offline"]).fails_with("certificate chain");

    // The mounted view: the trusted identity verifies the signature and the attestation of
    // the signed image, and the certificate reads as a file.
    let point = dir.join("mnt");
    let _mount = super::fuse::Mounted::start(&dir, &point);
    let tag = point.join(reg.addr()).join("keyless/app/_tags/v1");
    assert!(
        tag.join("verified/release").exists(),
        "{:?}",
        std::fs::read_dir(&tag).map(|d| d.count())
    );
    let summary = std::fs::read_to_string(tag.join("signatures/1/certificate.txt")).unwrap();
    assert!(
        summary.contains(&format!("Identity: {IDENTITY}")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("OIDC issuer: {ISSUER}")),
        "{summary}"
    );
    assert!(tag.join("signatures/1/bundle.json").is_file());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tag.join("verification.json")).unwrap()).unwrap();
    assert_eq!(
        report["verifiedBy"],
        serde_json::json!(["release"]),
        "{report}"
    );
    assert_eq!(
        report["attestations"][0]["keys"]["release"]["verified"], true,
        "{report}"
    );
    let forged_tag = point.join(reg.addr()).join("keyless/forged/_tags/v1");
    assert!(forged_tag.join("signatures/1/certificate.pem").is_file());
    assert!(!forged_tag.join("verified/release").exists());

    // Whole-store verification, offline: the store's trusted identity, and a policy file naming
    // the identity under the trusted root, each verify the keyless image and refuse the one
    // from the impostor CA.
    let outcomes = |out: &sigmirror_tests::Run| -> Vec<(String, bool, String)> {
        let v: serde_json::Value = serde_json::from_str(&out.stdout_text()).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["image"].as_str().unwrap().to_owned(),
                    o["ledger"]["verified"].as_bool().unwrap(),
                    format!("{} {}", o["ledger"]["verifiedBy"], o["ledger"]["reasons"]),
                )
            })
            .collect()
    };
    dir.write(
        "policy.yaml",
        format!(
            "identities:\n  ci:\n    certificateIdentity: {IDENTITY}\n    \
             certificateOidcIssuer: {ISSUER}\ntrustedRoot: {root}\n"
        ),
    );
    let policy = dir.join("policy.yaml").to_str().unwrap().to_owned();
    for (extra, signer) in [
        (vec![], "release"),
        (vec!["--policy", policy.as_str()], "ci"),
    ] {
        let mut args = vec!["store", "verify", "--json"];
        args.extend(extra);
        let seen = outcomes(&sm(&args).fails_with("1 of 2 images did not satisfy the policy"));
        let good_outcome = seen.iter().find(|o| o.0 == good).unwrap();
        assert!(
            good_outcome.1 && good_outcome.2.contains(signer),
            "{seen:?}"
        );
        let forged_outcome = seen.iter().find(|o| o.0 == forged).unwrap();
        assert!(
            !forged_outcome.1 && forged_outcome.2.contains("certificate chain"),
            "{seen:?}"
        );
    }
}

#[test]
fn key_signed_sigstore_bundles_from_cosign_3_verify_with_the_key() {
    let dir = TestDir::new();
    super::generate_key_pair(&dir, "pw");
    crate::generate_other_key_pair(&dir);
    dir.write("a.txt", b"artifact");
    dir.write("b.txt", b"another artifact");
    run(
        Command::new(tool("cosign3"))
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env("COSIGN_PASSWORD", "pw")
            .args([
                "sign-blob",
                "--key",
                "cosign.key",
                "--bundle",
                "a.sigstore.json",
                "--tlog-upload=false",
                "--use-signing-config=false",
                "-y",
                "a.txt",
            ]),
        None,
    )
    .ok();
    let verify = |key: &str, blob: &str, extra: &[&str]| {
        run(
            sigmirror(&dir)
                .args(["verify-blob", "--key", key, "--bundle", "a.sigstore.json"])
                .args(extra)
                .arg(blob),
            None,
        )
    };
    let ok = verify("cosign.pub", "a.txt", &["--insecure-ignore-tlog"]).ok();
    assert!(
        ok.stderr
            .contains("WARNING: skipping transparency log verification"),
        "{}",
        ok.stderr
    );
    verify("cosign.pub", "b.txt", &["--insecure-ignore-tlog"]).fails_with("not this one");
    verify("other.pub", "a.txt", &["--insecure-ignore-tlog"]).fails_with("does not verify");
    // With the log required, a bundle without an entry does not verify.
    let ps = PrivateSigstore::init();
    let root = ps.trusted_root();
    verify(
        "cosign.pub",
        "a.txt",
        &["--trusted-root", root.to_str().unwrap()],
    )
    .fails_with("no transparency-log entry");
}

#[test]
fn private_infrastructure_flags_replace_parts_of_the_trust_and_insecure_flags_skip_one_check() {
    let ps = PrivateSigstore::init();
    let dir = TestDir::new();
    let artifact = dir.write("a.bin", b"bytes");
    let legacy = dir.join("legacy.json");
    ps.sign(
        "sign-blob",
        &artifact,
        &[
            "--out",
            dir.join("b.json").to_str().unwrap(),
            "--legacy-bundle",
            legacy.to_str().unwrap(),
        ],
    );
    let f = |p: &str| ps.dir().join(p).to_string_lossy().into_owned();
    let logs = [
        ("SIGSTORE_REKOR_PUBLIC_KEY", f("certs/rekor.pub.pem")),
        ("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", f("certs/ctlog.pub.pem")),
    ];
    let verify = |extra: &[&str], env: &[(&str, String)]| {
        let mut cmd = sigmirror(&dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(
            cmd.args(["verify-blob", "--bundle", legacy.to_str().unwrap()])
                .args(extra)
                .args(identity_flags())
                .arg(&artifact),
            None,
        )
    };
    verify(&["--certificate-chain", &f("fulcio_chain.pem")], &logs).ok();
    verify(
        &[
            "--ca-roots",
            &f("certs/fulcio_root.pem"),
            "--ca-intermediates",
            &f("certs/fulcio_intermediate.pem"),
        ],
        &logs,
    )
    .ok();
    // The impostor CA's root (same names, other keys) does not verify the real chain.
    verify(
        &[
            "--ca-roots",
            &f("untrusted/fulcio_root.pem"),
            "--ca-intermediates",
            &f("untrusted/fulcio_intermediate.pem"),
        ],
        &logs,
    )
    .fails_with("certificate chain");
    // Without the CT log's key no SCT verifies, unless SCTs are skipped, which is said.
    verify(&["--certificate-chain", &f("fulcio_chain.pem")], &logs[..1])
        .fails_with("certificate transparency");
    let skipped = verify(
        &[
            "--certificate-chain",
            &f("fulcio_chain.pem"),
            "--insecure-ignore-sct",
        ],
        &logs[..1],
    )
    .ok();
    assert!(
        skipped
            .stderr
            .contains("skipping signed certificate timestamp verification"),
        "{}",
        skipped.stderr
    );
    // A regular expression for the identity.
    run(
        sigmirror(&dir)
            .envs(logs.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["verify-blob", "--bundle", legacy.to_str().unwrap()])
            .args(["--certificate-chain", &f("fulcio_chain.pem")])
            .args([
                "--certificate-identity-regexp",
                "^https://github.com/sigmirror/",
            ])
            .args(["--certificate-oidc-issuer", ISSUER])
            .arg(&artifact),
        None,
    )
    .ok();
    run(
        sigmirror(&dir)
            .envs(logs.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["verify-blob", "--bundle", legacy.to_str().unwrap()])
            .args(["--certificate-chain", &f("fulcio_chain.pem")])
            .args(["--certificate-identity-regexp", "^https://github.com/acme/"])
            .args(["--certificate-oidc-issuer", ISSUER])
            .arg(&artifact),
        None,
    )
    .fails_with("does not match the required /^https://github.com/acme//");
    // The timestamp authority from SIGSTORE_TSA_CERTIFICATE_FILE, for a `.sig` layer's pieces
    // with a timestamp, required by --use-signed-timestamps.
    let layer = TestDir::new();
    let payload = dir.write("payload.json", br#"{"critical":{}}"#);
    ps.sign(
        "sign-image-layer",
        &payload,
        &["--out-dir", layer.path().to_str().unwrap(), "--tsa"],
    );
    let l = |n: &str| layer.join(n).to_string_lossy().into_owned();
    let pieces = [
        "--certificate",
        &l("cert.pem"),
        "--signature",
        &l("signature.b64"),
        "--bundle",
        &l("legacy_bundle.json"),
        "--use-signed-timestamps",
        "--certificate-chain",
        &f("fulcio_chain.pem"),
    ];
    let with_tsa = [
        logs[0].clone(),
        logs[1].clone(),
        ("SIGSTORE_TSA_CERTIFICATE_FILE", f("tsa_chain.pem")),
    ];
    let verify_layer = |extra: &[&str], env: &[(&str, String)]| {
        let mut cmd = sigmirror(&dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(
            cmd.arg("verify-blob")
                .args(pieces)
                .args(extra)
                .args(identity_flags())
                .arg(&payload),
            None,
        )
    };
    verify_layer(
        &["--rfc3161-timestamp", &l("rfc3161timestamp.json")],
        &with_tsa,
    )
    .ok();
    verify_layer(&[], &with_tsa).fails_with("signed timestamp is required");
    verify_layer(&["--rfc3161-timestamp", &l("rfc3161timestamp.json")], &logs)
        .fails_with("no timestamp authority");
    // Without the log's key no entry verifies.
    verify(&["--certificate-chain", &f("fulcio_chain.pem")], &logs[1..])
        .fails_with("no transparency-log entry");
}
