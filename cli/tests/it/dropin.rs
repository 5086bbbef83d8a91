//! cosign's command lines keep cosign's meaning (issue: "A true drop-in for cosign", items 2–4
//! and 10): `load` writes to a registry, `--local-image` verifies a saved layout, and the flags
//! and forms cosign's end-to-end tests use. The real cosign judges what sigmirror writes, and
//! sigmirror what cosign writes.

use sigmirror_tests::oci::push_image;
use sigmirror_tests::run;

use crate::{Setup, TEST_PREDICATE_TYPE, generate_other_key_pair, setup, sigmirror};

/// The digest `image` has in its registry, as the real cosign resolves it.
fn remote_digest(s: &Setup, image: &str) -> String {
    s.cosign(&["triangulate", "--type", "digest", image])
        .ok()
        .stdout_text()
        .trim()
        .rsplit_once('@')
        .unwrap()
        .1
        .to_owned()
}

#[test]
fn load_writes_a_saved_layout_to_the_registry_as_cosign_load_does() {
    let s = setup("dropin/load");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    s.attest(&s.image);
    // cosign save -> sigmirror load IMAGE: the image and what is attached are in the registry,
    // under the new name, digests unchanged; the real cosign verifies both.
    s.cosign(&["save", "--dir", "cosign-out", &s.image]).ok();
    let loaded = format!("{}:loaded", s.reg.image("dropin/elsewhere"));
    s.sm(&["load", "--dir", "cosign-out", &loaded]).ok();
    assert_eq!(remote_digest(&s, &loaded), s.digest);
    s.cosign_verify("verify", "cosign.pub", &loaded, &[]).ok();
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &loaded,
        &["--type", TEST_PREDICATE_TYPE],
    )
    .ok();
    // sigmirror save (names kept) -> sigmirror load under another name: the same.
    s.sm(&["save", "--dir", "sm-out", &s.image]).ok();
    let again = format!("{}:again", s.reg.image("dropin/third"));
    s.sm(&["load", "--dir", "sm-out", &again]).ok();
    s.cosign_verify("verify", "cosign.pub", &again, &[]).ok();
    // A layout without a signature loads an unsigned image, which then does not verify.
    let unsigned = format!("{}:v1", s.reg.image("dropin/unsigned"));
    push_image(&unsigned, "unsigned");
    s.cosign(&["save", "--dir", "unsigned-out", &unsigned]).ok();
    let bare = format!("{}:bare", s.reg.image("dropin/bare"));
    s.sm(&["load", "--dir", "unsigned-out", &bare]).ok();
    s.cosign_verify("verify", "cosign.pub", &bare, &[])
        .fails_with("no signatures found");
    // cosign's form needs IMAGE; without it nothing is written anywhere, and the store's
    // form is named.
    s.sm(&["load", "--dir", "cosign-out"]).fails_with("<IMAGE>");
    assert!(!s.dir.join("store").exists());
    let help = s.sm(&["load", "--help"]).ok().stdout_text();
    assert!(help.contains("store load"), "{help}");
    // Not a layout: an error naming the folder, non-zero.
    std::fs::create_dir_all(s.dir.join("empty")).unwrap();
    s.sm(&["load", "--dir", "empty", &bare]).fails_with("empty");
}

#[test]
fn local_image_verifies_a_saved_layout_without_the_registry() {
    let mut s = setup("dropin/local");
    generate_other_key_pair(&s.dir);
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    s.attest(&s.image);
    s.cosign(&["save", "--dir", "cosign-out", &s.image]).ok();
    s.sm(&["save", "--dir", "sm-out", &s.image]).ok();
    let unsigned = format!("{}:v1", s.reg.image("dropin/unsigned"));
    push_image(&unsigned, "unsigned");
    s.sm(&["save", "--dir", "unsigned-out", &unsigned]).ok();
    // The real cosign reads our layout the same way.
    s.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--local-image",
        "sm-out",
    ])
    .ok();
    // From here on there is no registry at all.
    s.reg.stop();
    let sm = |args: &[&str]| run(sigmirror(&s.dir).args(args), None);
    for layout in ["cosign-out", "sm-out"] {
        let out = sm(&["verify", "--key", "cosign.pub", "--local-image", layout]).ok();
        // As cosign, the header names the folder.
        assert!(
            out.stderr
                .contains(&format!("Verification for {layout} --")),
            "{}",
            out.stderr
        );
        let payloads: serde_json::Value = serde_json::from_str(out.stdout_text().trim()).unwrap();
        assert_eq!(
            payloads[0]["critical"]["image"]["docker-manifest-digest"],
            s.digest.as_str(),
            "{layout}"
        );
        sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            TEST_PREDICATE_TYPE,
            "--local-image",
            layout,
        ])
        .ok();
        // The wrong key, and an attestation type the layout does not hold, are refused.
        sm(&["verify", "--key", "other.pub", "--local-image", layout])
            .fails_with("does not verify");
        sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "https://example.com/other/v1",
            "--local-image",
            layout,
        ])
        .fails_with("https://example.com/other/v1");
    }
    sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--local-image",
        "unsigned-out",
    ])
    .fails_with("no signatures");
    sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--local-image",
        "missing-dir",
    ])
    .fails_with("missing-dir");
    // --local-image=false keeps IMAGE a reference (and there is no registry now).
    sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--local-image=false",
        "sm-out",
    ])
    .fails_with("docker.io");
    sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--local-image",
        "--offline",
        "sm-out",
    ])
    .fails_with("cannot be used with");
}

#[test]
fn sign_writes_cosigns_output_files_and_verify_checks_a_detached_signature() {
    let s = setup("dropin/outputs");
    generate_other_key_pair(&s.dir);
    // --upload=false: the signature is made and written, nothing is pushed.
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--upload=false",
        "--output-signature",
        "image.sig",
        "--output-payload",
        "payload.json",
        "--output-certificate",
        "cert.pem",
        &s.image,
    ])
    .ok();
    s.cosign_verify("verify", "cosign.pub", &s.image, &[])
        .fails_with("no signatures found");
    for file in ["image.sig", "payload.json", "cert.pem"] {
        let mode = std::fs::metadata(s.dir.join(file)).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600,
            "{file}"
        );
    }
    // A key has no certificate: its public key is written, as cosign does.
    assert_eq!(s.dir.read("cert.pem"), s.dir.read("cosign.pub"));
    // The real cosign accepts the detached signature over the payload, and so does sigmirror,
    // from the file, from the variable, and with the payload made again from the digest.
    s.cosign_verify(
        "verify",
        "cosign.pub",
        &s.image,
        &["--signature", "image.sig", "--payload", "payload.json"],
    )
    .ok();
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--signature",
        "image.sig",
        "--payload",
        "payload.json",
        &s.image,
    ])
    .ok();
    let by_env = run(
        sigmirror(&s.dir)
            .env("COSIGN_SIGNATURE", "image.sig")
            .args(["verify", "--key", "cosign.pub", &s.image]),
        None,
    )
    .ok();
    assert!(by_env.stdout_text().contains(&s.digest));
    let b64 = String::from_utf8(s.dir.read("image.sig")).unwrap();
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--signature",
        &b64,
        &s.image,
    ])
    .ok();
    // Refused: another key, a tampered payload, and another image's digest.
    s.sm(&[
        "verify",
        "--key",
        "other.pub",
        "--signature",
        "image.sig",
        &s.image,
    ])
    .fails_with("does not verify");
    let tampered = String::from_utf8(s.dir.read("payload.json"))
        .unwrap()
        .replace("\"optional\":null", "\"optional\":{\"x\":\"y\"}");
    s.dir.write("tampered.json", tampered);
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--signature",
        "image.sig",
        "--payload",
        "tampered.json",
        &s.image,
    ])
    .fails_with("does not verify");
    let other = format!("{}:v1", s.reg.image("dropin/other"));
    push_image(&other, "other");
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--signature",
        "image.sig",
        "--payload",
        "payload.json",
        &other,
    ])
    .fails_with("digest");
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--signature",
        "image.sig",
        &other,
    ])
    .fails_with("does not verify");
    // --payload signs a given payload as it is (here one with an annotation `sign` was not
    // given); cosign verifies what was pushed, annotation included.
    let generated = s
        .sm(&["generate", "-a", "team=given", &s.image])
        .ok()
        .stdout;
    s.dir.write("given.json", &generated);
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--payload",
        "given.json",
        &s.image,
    ])
    .ok();
    s.cosign_verify("verify", "cosign.pub", &s.image, &["-a", "team=given"])
        .ok();
    // -r with an index: one file per digest, named as cosign names them.
    let index = format!("{}:multi", s.reg.image("dropin/outputs"));
    let (index_digest, children) = sigmirror_tests::oci::push_index(&index, "outputs-index");
    s.sm(&[
        "sign",
        "-r",
        "--key",
        "cosign.key",
        "--output-signature",
        "idx.sig",
        &index,
    ])
    .ok();
    for digest in std::iter::once(&index_digest).chain(&children) {
        let file = format!("idx.sig-{}", digest.replace(':', "-"));
        let sig = String::from_utf8(s.dir.read(&file)).unwrap();
        let pinned = format!("{}@{digest}", s.reg.image("dropin/outputs"));
        s.sm(&[
            "verify",
            "--key",
            "cosign.pub",
            "--signature",
            &sig,
            &pinned,
        ])
        .ok();
        s.cosign_verify("verify", "cosign.pub", &pinned, &[]).ok();
    }
}

#[test]
fn a_digest_not_yet_in_the_registry_is_signed_and_attested_as_cosign_does() {
    let s = setup("dropin/early");
    // The digest the image will have: the same content pushed elsewhere first.
    let digest = push_image(&format!("{}:v1", s.reg.image("dropin/staging")), "early");
    let early = format!("{}@{digest}", s.reg.image("dropin/later"));
    let out = s.sm(&["sign", "--key", "cosign.key", &early]).ok();
    assert!(
        out.stderr.contains("Pushing signature to:"),
        "{}",
        out.stderr
    );
    s.dir.write("pred.json", r#"{"buildType":"test"}"#);
    s.sm(&crate::attest_args(&early)).ok();
    // A tag must exist, and -r needs the index.
    let missing_tag = format!("{}:nosuchtag", s.reg.image("dropin/later"));
    s.sm(&["sign", "--key", "cosign.key", &missing_tag])
        .fails_with("not found");
    s.sm(&["sign", "-r", "--key", "cosign.key", &early])
        .fails_with("not found");
    // The image arrives; the real cosign finds the signature and attestation waiting.
    let tagged = format!("{}:v1", s.reg.image("dropin/later"));
    assert_eq!(push_image(&tagged, "early"), digest);
    s.cosign_verify("verify", "cosign.pub", &tagged, &[]).ok();
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &tagged,
        &["--type", TEST_PREDICATE_TYPE],
    )
    .ok();
    // generate does not look a digest up either.
    let generated = s.sm(&["generate", "127.0.0.1:1/never/there@sha256:0000000000000000000000000000000000000000000000000000000000000000"]).ok();
    assert!(
        generated
            .stdout_text()
            .contains("\"docker-reference\":\"127.0.0.1:1/never/there\"")
    );
}

#[test]
fn flags_and_forms_from_cosigns_scripts_mean_what_they_mean_in_cosign() {
    let s = setup("dropin/forms");
    generate_other_key_pair(&s.dir);
    // Every on/off flag takes =true and =false (and Go's 1/0), its variable too.
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--recursive=false",
        "--upload=true",
        &s.image,
    ])
    .ok();
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--offline=false",
        "--private-infrastructure",
        &s.image,
    ])
    .ok();
    // cosign's `verify --offline` (no log lookups, image from the registry) is refused rather
    // than read as sigmirror's (the local store): the store must be named.
    s.sm(&["verify", "--key", "cosign.pub", "--offline=1", &s.image])
        .fails_with("name it with --store DIR or SIGMIRROR_STORE");
    s.sm(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--offline",
        &s.image,
    ])
    .fails_with("name it with --store DIR or SIGMIRROR_STORE");
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--offline",
        "--store",
        "nowhere",
        &s.image,
    ])
    .fails_with("no store");
    let store = s.pull_into_store(&[&s.image]);
    s.verify_offline(&store, "cosign.pub", &s.image).ok();
    run(
        sigmirror(&s.dir).env("SIGMIRROR_STORE", &store).args([
            "verify",
            "--offline",
            "--key",
            "cosign.pub",
            &s.image,
        ]),
        None,
    )
    .ok();
    s.sm(&["verify", "--key", "cosign.pub", "--offline=maybe", &s.image])
        .fails_with("invalid value 'maybe'");
    // --output-file: what stdout would show, in the file.
    let shown = s
        .sm(&["verify", "--key", "cosign.pub", &s.image])
        .ok()
        .stdout;
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--output-file",
        "verified.json",
        &s.image,
    ])
    .ok();
    assert_eq!(s.dir.read("verified.json"), shown);
    // sign-blob of several files: one signature per line, each verified by cosign.
    s.dir.write("a.txt", "first\n");
    s.dir.write("b.txt", "second\n");
    let out = s
        .sm(&["sign-blob", "--key", "cosign.key", "a.txt", "b.txt"])
        .ok();
    let sigs: Vec<String> = out.stdout_text().lines().map(str::to_owned).collect();
    assert_eq!(sigs.len(), 2);
    for (file, sig) in ["a.txt", "b.txt"].iter().zip(&sigs) {
        s.cosign(&[
            "verify-blob",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            "--signature",
            sig,
            file,
        ])
        .ok();
    }
    s.cosign(&[
        "verify-blob",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--signature",
        &sigs[0],
        "b.txt",
    ])
    .fails_with("invalid signature");
    s.sm(&[
        "verify-blob",
        "--offline",
        "--key",
        "cosign.pub",
        "--signature",
        &sigs[0],
        "a.txt",
    ])
    .ok();
    s.sm(&[
        "verify",
        "--max-workers",
        "2",
        "--key",
        "cosign.pub",
        &s.image,
    ])
    .ok();
    // attest --no-upload prints the envelope and stores nothing; attached later, the real
    // cosign accepts it.
    s.dir.write("pred.json", r#"{"buildType":"test"}"#);
    let mut no_upload = crate::attest_args(&s.image).to_vec();
    no_upload.insert(1, "--no-upload");
    let envelope = s.sm(&no_upload).ok().stdout;
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &s.image,
        &["--type", TEST_PREDICATE_TYPE],
    )
    .fails_with("no matching attestations");
    s.dir.write("envelope.json", &envelope);
    s.sm(&[
        "attach",
        "attestation",
        "--attestation",
        "envelope.json",
        &s.image,
    ])
    .ok();
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &s.image,
        &["--type", TEST_PREDICATE_TYPE],
    )
    .ok();
    // attach sbom --sbom - reads stdin; cosign downloads the same bytes.
    let sbom = br#"{"spdxVersion":"SPDX-2.3","name":"from-stdin"}"#;
    let attached = run(
        sigmirror(&s.dir).args(["attach", "sbom", "--sbom", "-", "--type", "spdx", &s.image]),
        Some(sbom),
    )
    .ok();
    assert!(attached.stderr.contains("spdx+json"), "{}", attached.stderr);
    let downloaded = s.cosign(&["download", "sbom", &s.image]).ok().stdout;
    assert_eq!(downloaded, sbom);
    // --attachment sbom signs and verifies the SBOM image instead of the image.
    s.sm(&[
        "sign",
        "--key",
        "other.key",
        "--attachment",
        "sbom",
        &s.image,
    ])
    .ok();
    s.cosign_verify("verify", "other.pub", &s.image, &["--attachment", "sbom"])
        .ok();
    s.sm(&[
        "verify",
        "--key",
        "other.pub",
        "--attachment",
        "sbom",
        &s.image,
    ])
    .ok();
    s.sm(&["verify", "--key", "other.pub", &s.image])
        .fails_with("does not verify");
    // download sbom --platform: the SBOM of one platform's image of an index.
    let index = format!("{}:multi", s.reg.image("dropin/forms"));
    let (_, children) = sigmirror_tests::oci::push_index(&index, "forms-index");
    let arm = format!("{}@{}", s.reg.image("dropin/forms"), children[1]);
    s.dir.write(
        "arm.spdx.json",
        r#"{"spdxVersion":"SPDX-2.3","name":"arm64"}"#,
    );
    s.sm(&["attach", "sbom", "--sbom", "arm.spdx.json", &arm])
        .ok();
    let ours = s
        .sm(&["download", "sbom", "--platform", "linux/arm64", &index])
        .ok()
        .stdout;
    let theirs = s
        .cosign(&["download", "sbom", "--platform", "linux/arm64", &index])
        .ok()
        .stdout;
    assert_eq!(ours, theirs);
    assert_eq!(ours, s.dir.read("arm.spdx.json"));
    s.sm(&["download", "sbom", &index]).fails_with("no SBOM");
    s.sm(&["download", "sbom", "--platform", "linux/s390x", &index])
        .fails_with("linux/arm64");
    s.sm(&["download", "sbom", "--platform", "linux/arm64", &s.image])
        .fails_with("not a multi-platform index");
}

#[test]
fn oci_1_1_signatures_are_written_and_found_as_cosign_2_experimental_mode_does() {
    let s = setup("dropin/oci11");
    let experimental = |args: &[&str]| {
        run(
            sigmirror(&s.dir)
                .env("COSIGN_PASSWORD", "pw")
                .env("COSIGN_EXPERIMENTAL", "1")
                .args(args),
            None,
        )
    };
    // As in cosign, the mode is experimental: refused without COSIGN_EXPERIMENTAL.
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--registry-referrers-mode=oci-1-1",
        &s.image,
    ])
    .fails_with("COSIGN_EXPERIMENTAL=1");
    let out = experimental(&[
        "sign",
        "--key",
        "cosign.key",
        "--registry-referrers-mode=oci-1-1",
        &s.image,
    ])
    .ok();
    assert!(
        out.stderr
            .contains("with config.mediaType [application/vnd.dev.cosign.artifact.sig.v1+json]"),
        "{}",
        out.stderr
    );
    // Not at the .sig tag: found only by those who look among the referrers.
    s.cosign_verify("verify", "cosign.pub", &s.image, &[])
        .fails_with("no signatures found");
    s.cosign_verify("verify", "cosign.pub", &s.image, &["--experimental-oci11"])
        .ok();
    s.sm(&["verify", "--key", "cosign.pub", &s.image])
        .fails_with("no signatures");
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--experimental-oci11",
        &s.image,
    ])
    .ok();
    // The mirror carries the referrer: offline, the same.
    let store = s.pull_into_store(&[&s.image]);
    s.sm(&[
        "verify",
        "--offline",
        "--store",
        &store,
        "--key",
        "cosign.pub",
        "--experimental-oci11",
        &s.image,
    ])
    .ok();
    // cosign's own OCI 1.1 signature, of another image, verifies here; a wrong key does not.
    let other = format!("{}:v2", s.reg.image("dropin/oci11"));
    push_image(&other, "oci11-other");
    run(
        sigmirror_tests::cosign(&s.dir)
            .env("COSIGN_PASSWORD", "pw")
            .env("COSIGN_EXPERIMENTAL", "1")
            .args([
                "sign",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "--registry-referrers-mode=oci-1-1",
                &other,
            ]),
        None,
    )
    .ok();
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--experimental-oci11",
        &other,
    ])
    .ok();
    generate_other_key_pair(&s.dir);
    s.sm(&[
        "verify",
        "--key",
        "other.pub",
        "--experimental-oci11",
        &other,
    ])
    .fails_with("does not verify");
}

#[test]
fn attestation_policies_in_rego_are_evaluated_and_cue_is_refused_not_skipped() {
    let s = setup("dropin/policy");
    s.dir.write(
        "slsa.json",
        r#"{ "buildType": "x", "builder": { "id": "2" }, "recipe": {} }"#,
    );
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "slsa.json",
        &s.image,
    ])
    .ok();
    let verify = |policy: &str| {
        s.sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "slsaprovenance",
            "--policy",
            policy,
            &s.image,
        ])
    };
    // The judge is cosign 3: the Debian build of cosign 2.5 has no Rego evaluator (it answers
    // "invalid policy format, expected .cue"); it judges the CUE policy below instead.
    let cosign_verify = |policy: &str| {
        crate::cosign3::cosign3_verify(
            &s,
            "verify-attestation",
            &s.image,
            &["--type", "slsaprovenance", "--policy", policy],
        )
    };
    // Rego v0 syntax, as cosign's e2e tests write it; cosign agrees on each verdict.
    s.dir.write(
        "good.rego",
        "package signature\n\nallow {\n  input.predicateType == \"https://slsa.dev/provenance/v0.2\"\n  input.predicate.builder.id == \"2\"\n}\n",
    );
    s.dir.write(
        "bad.rego",
        "package signature\n\nallow {\n  input.predicate.builder.id == \"3\"\n}\n",
    );
    verify("good.rego").ok();
    cosign_verify("good.rego").ok();
    verify("bad.rego").fails_with("result is undefined for query 'data.signature.allow'");
    cosign_verify("bad.rego").fails_with("validation errors occurred");
    // Several Rego files are one policy, as OPA loads them: `allow` holds if any of their
    // `allow` rules does (cosign 3 agrees).
    let both = [
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--type",
        "slsaprovenance",
        "--policy",
        "good.rego",
        "--policy",
        "bad.rego",
        &s.image,
    ];
    s.sm(&both).ok();
    crate::cosign3::cosign3(&s, &both).ok();
    // A second attestation of the type that fails the policy fails the image.
    s.dir.write(
        "slsa3.json",
        r#"{ "buildType": "x", "builder": { "id": "3" }, "recipe": {} }"#,
    );
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "slsa3.json",
        &s.image,
    ])
    .ok();
    verify("good.rego").fails_with("1 validation errors occurred");
    cosign_verify("good.rego").fails_with("validation errors occurred");
    // CUE: cosign 2.5 evaluates it (and fails the image with the failing attestation);
    // sigmirror cannot, and says so instead of passing the image.
    s.dir.write("policy.cue", "predicate: builder: id: \"2\"\n");
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &s.image,
        &["--type", "slsaprovenance", "--policy", "policy.cue"],
    )
    .fails_with("validation errors occurred");
    verify("policy.cue").fails_with("no CUE evaluator");
    // Not Rego at all, and not a policy file: named errors.
    s.dir
        .write("broken.rego", "package signature\nallow {{ nope\n");
    verify("broken.rego").fails_with("broken.rego");
    s.dir.write("policy.json", "{}");
    verify("policy.json").fails_with("expected .cue or .rego");
}

/// Runs openssl in the setup's folder.
fn openssl(s: &Setup, args: &[&str]) -> sigmirror_tests::Run {
    run(
        std::process::Command::new(sigmirror_tests::tool("openssl"))
            .current_dir(s.dir.path())
            .args(args),
        None,
    )
    .ok()
}

#[test]
fn every_key_type_cosign_imports_signs_and_verifies_in_both_directions() {
    let s = setup("dropin/keys");
    // Keys as openssl writes them: RSA as PKCS#1, P-384 as SEC1 after its parameters,
    // P-521 and Ed25519 as PKCS#8.
    openssl(&s, &["genrsa", "-traditional", "-out", "rsa.pem", "3072"]);
    openssl(
        &s,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-out",
            "p384.pem",
        ],
    );
    openssl(
        &s,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
            "-out",
            "p521.pem",
        ],
    );
    openssl(
        &s,
        &["genpkey", "-algorithm", "ED25519", "-out", "ed25519.pem"],
    );
    assert!(
        String::from_utf8(s.dir.read("rsa.pem"))
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
    let names = ["rsa", "p384", "p521", "ed25519"];
    for name in names {
        // import-key-pair: cosign's encrypted file (0600) and the public key openssl derives.
        s.sm(&[
            "import-key-pair",
            "--key",
            &format!("{name}.pem"),
            "--output-key-prefix",
            &format!("sm-{name}"),
        ])
        .ok();
        let mode = std::fs::metadata(s.dir.join(format!("sm-{name}.key")))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let expected = openssl(&s, &["pkey", "-in", &format!("{name}.pem"), "-pubout"]).stdout;
        assert_eq!(s.dir.read(&format!("sm-{name}.pub")), expected, "{name}");
    }
    for name in names {
        // sigmirror signs and attests an image and a blob; the real cosign verifies each.
        let image = format!("{}:{name}", s.reg.image("dropin/keys"));
        push_image(&image, name);
        let (key, public) = (format!("sm-{name}.key"), format!("sm-{name}.pub"));
        s.sm(&["sign", "--key", &key, &image]).ok();
        s.dir.write("pred.json", r#"{"buildType":"test"}"#);
        s.sm(&[
            "attest",
            "--key",
            &key,
            "--predicate",
            "pred.json",
            "--type",
            TEST_PREDICATE_TYPE,
            &image,
        ])
        .ok();
        s.cosign_verify("verify", &public, &image, &[]).ok();
        s.cosign_verify(
            "verify-attestation",
            &public,
            &image,
            &["--type", TEST_PREDICATE_TYPE],
        )
        .ok();
        s.dir
            .write("blob.txt", format!("a blob signed with {name}\n"));
        let sig = s
            .sm(&["sign-blob", "--key", &key, "blob.txt"])
            .ok()
            .stdout_text();
        s.cosign(&[
            "verify-blob",
            "--key",
            &public,
            "--insecure-ignore-tlog",
            "--signature",
            sig.trim(),
            "blob.txt",
        ])
        .ok();
        s.sm(&[
            "verify-blob",
            "--key",
            &public,
            "--signature",
            sig.trim(),
            "blob.txt",
        ])
        .ok();
        s.dir.write("other.txt", "not what was signed\n");
        s.sm(&[
            "verify-blob",
            "--key",
            &public,
            "--signature",
            sig.trim(),
            "other.txt",
        ])
        .fails_with("signature");
        // The keys of the other types verify none of it.
        for other in names.iter().filter(|o| **o != name) {
            s.sm(&["verify", "--key", &format!("sm-{other}.pub"), &image])
                .fails_with("does not verify");
        }
    }
    // The other direction: the real cosign imports the same kind of keys and signs; sigmirror
    // verifies. cosign 3 imports RSA and ECDSA keys (the Debian cosign 2.5 refuses them) and
    // signs P-384 and P-521 keys over their curve's own hash; cosign 2.5 imports Ed25519.
    for name in ["rsa", "p384", "p521"] {
        let image = format!("{}:by-cosign-{name}", s.reg.image("dropin/keys"));
        push_image(&image, &format!("by-cosign-{name}"));
        // cosign reads PKCS#8 only.
        openssl(
            &s,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                &format!("{name}.pem"),
                "-out",
                &format!("{name}.p8"),
            ],
        );
        crate::cosign3::cosign3(
            &s,
            &[
                "import-key-pair",
                "--key",
                &format!("{name}.p8"),
                "--output-key-prefix",
                &format!("c-{name}"),
            ],
        )
        .ok();
        crate::cosign3::cosign3(
            &s,
            &[
                "sign",
                "--key",
                &format!("c-{name}.key"),
                "--tlog-upload=false",
                "--use-signing-config=false",
                "--new-bundle-format=false",
                &image,
            ],
        )
        .ok();
        s.sm(&["verify", "--key", &format!("c-{name}.pub"), &image])
            .ok();
        let wrong = s.sm(&["verify", "--key", "cosign.pub", &image]);
        if name == "rsa" {
            wrong.fails_with("not an ECDSA P-256 signature");
        } else {
            wrong.fails_with("does not verify");
        }
    }
    let image = format!("{}:by-cosign-ed25519", s.reg.image("dropin/keys"));
    push_image(&image, "by-cosign-ed25519");
    s.cosign(&[
        "import-key-pair",
        "--key",
        "ed25519.pem",
        "--output-key-prefix",
        "c-ed25519",
    ])
    .ok();
    s.cosign(&[
        "sign",
        "--key",
        "c-ed25519.key",
        "--tlog-upload=false",
        &image,
    ])
    .ok();
    s.sm(&["verify", "--key", "c-ed25519.pub", &image]).ok();
    s.sm(&["verify", "--key", "sm-rsa.pub", &image])
        .fails_with("does not verify");
}
