//! Signing and verifying images in a real registry, with the real cosign on the other side.

use std::process::Command;

use serde_json::Value;
use sigmirror_tests::oci::{push_image, push_index};
use sigmirror_tests::peers::HttpsFiles;
use sigmirror_tests::registry::{PASSWORD, TestRegistry, USER};
use sigmirror_tests::{TestDir, cosign, http_get, http_put, run};

use crate::{Setup, generate_key_pair, setup, sigmirror};

impl Setup {
    fn sig_tag_url(&self, repo: &str, digest: &str) -> String {
        format!(
            "http://{}/v2/{repo}/manifests/{}.sig",
            self.reg.addr(),
            digest.replace(':', "-")
        )
    }
    fn blob_url(&self, repo: &str, digest: &str) -> String {
        format!("http://{}/v2/{repo}/blobs/{digest}", self.reg.addr())
    }
}

fn payloads(out: &sigmirror_tests::Run) -> Vec<Value> {
    let text = out.stdout_text();
    let array: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    array.as_array().unwrap().clone()
}

#[test]
fn cosign_verifies_sigmirror_signatures_and_the_reverse() {
    let s = setup("team/app");
    s.sm(&["sign", "--key", "cosign.key", "-a", "tag=v1", &s.image])
        .ok();
    let out = s.cosign_verify("verify", "cosign.pub", &s.image, &[]).ok();
    assert!(
        out.stdout_text().contains(&s.digest),
        "{}",
        out.stdout_text()
    );

    let out = s
        .sm(&["verify", "--key", "cosign.pub", "-a", "tag=v1", &s.image])
        .ok();
    let p = payloads(&out);
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0]["critical"]["image"]["docker-manifest-digest"],
        s.digest.as_str()
    );
    assert_eq!(
        p[0]["critical"]["identity"]["docker-reference"],
        s.reg.image("team/app").as_str()
    );
    assert!(
        out.stderr
            .contains("The signatures were verified against the specified public key")
    );

    // A second key signs with cosign: the .sig now holds one signature from each tool, and
    // each tool verifies both.
    run(
        cosign(&s.dir)
            .args(["generate-key-pair", "--output-key-prefix", "c"])
            .env("COSIGN_PASSWORD", "pw"),
        None,
    )
    .ok();
    s.cosign(&[
        "sign",
        "--key",
        "c.key",
        "--tlog-upload=false",
        "-a",
        "by=cosign",
        &s.image,
    ])
    .ok();
    let manifest: Value =
        serde_json::from_slice(&http_get(&s.sig_tag_url("team/app", &s.digest))).unwrap();
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
    for key in ["cosign.pub", "c.pub"] {
        s.cosign_verify("verify", key, &s.image, &[]).ok();
        s.sm(&["verify", "--key", key, &s.image]).ok();
    }
    let out = s
        .sm(&["verify", "--key", "c.pub", "-a", "by=cosign", &s.image])
        .ok();
    assert_eq!(payloads(&out).len(), 1);
}

#[test]
fn signature_image_is_byte_identical_to_cosigns() {
    let s = setup("team/bytes");
    // cosign signs first; keep its manifest and config.
    s.cosign(&[
        "sign",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        "-a",
        "k=v",
        &s.image,
    ])
    .ok();
    let cosign_manifest = http_get(&s.sig_tag_url("team/bytes", &s.digest));
    let parsed: Value = serde_json::from_slice(&cosign_manifest).unwrap();
    let cosign_config =
        http_get(&s.blob_url("team/bytes", parsed["config"]["digest"].as_str().unwrap()));
    // Remove it, sign the same payload with sigmirror.
    s.sm(&["clean", "--force", "--type", "signature", &s.image])
        .ok();
    s.sm(&["sign", "--key", "cosign.key", "-a", "k=v", &s.image])
        .ok();
    let ours = http_get(&s.sig_tag_url("team/bytes", &s.digest));
    let ours_parsed: Value = serde_json::from_slice(&ours).unwrap();
    let our_config = http_get(&s.blob_url(
        "team/bytes",
        ours_parsed["config"]["digest"].as_str().unwrap(),
    ));
    assert_eq!(our_config, cosign_config, "config blob bytes");
    // Manifests differ only in the (randomised) signature value.
    let sig_of = |m: &Value| {
        m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let normalised = String::from_utf8(ours.clone())
        .unwrap()
        .replace(&sig_of(&ours_parsed), &sig_of(&parsed));
    assert_eq!(
        normalised.as_bytes(),
        &cosign_manifest[..],
        "manifest bytes"
    );
}

#[test]
fn signing_twice_with_the_same_key_is_deduplicated() {
    let s = setup("team/dedupe");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    let first = http_get(&s.sig_tag_url("team/dedupe", &s.digest));
    let out = s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    assert!(out.stderr.contains("already present"), "{}", out.stderr);
    assert_eq!(http_get(&s.sig_tag_url("team/dedupe", &s.digest)), first);
    // Different annotations are a different payload: appended.
    s.sm(&["sign", "--key", "cosign.key", "-a", "x=1", &s.image])
        .ok();
    let manifest: Value =
        serde_json::from_slice(&http_get(&s.sig_tag_url("team/dedupe", &s.digest))).unwrap();
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
}

#[test]
fn annotations_must_match() {
    let s = setup("team/ann");
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "-a",
        "env=prod,team=a",
        &s.image,
    ])
    .ok();
    s.sm(&["verify", "--key", "cosign.pub", "-a", "env=prod", &s.image])
        .ok();
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "-a",
        "env=prod",
        "-a",
        "team=a",
        &s.image,
    ])
    .ok();
    let out = s.sm(&["verify", "--key", "cosign.pub", "-a", "env=dev", &s.image]);
    assert_eq!(out.code, 12, "{}", out.stderr);
    assert!(out.stderr.contains("annotation env"), "{}", out.stderr);
    let out = s.sm(&["verify", "--key", "cosign.pub", "-a", "missing=x", &s.image]);
    assert_eq!(out.code, 12);
    // cosign agrees.
    s.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "-a",
        "env=dev",
        &s.image,
    ])
    .fails_with("no matching signatures");
}

/// Appends a layer to the .sig with `attach signature`, the way a tampering party could.
fn attach(s: &Setup, payload: &[u8], signature: &str) {
    s.dir.write("payload.json", payload);
    s.dir.write("sig.b64", signature);
    s.sm(&[
        "attach",
        "signature",
        "--payload",
        "payload.json",
        "--signature",
        "sig.b64",
        &s.image,
    ])
    .ok();
}

fn sign_bytes(s: &Setup, bytes: &[u8]) -> String {
    s.dir.write("to-sign", bytes);
    let out = s.sm(&["sign-blob", "--key", "cosign.key", "to-sign"]).ok();
    out.stdout_text().trim().to_owned()
}

#[test]
fn every_kind_of_bad_signature_fails_verification() {
    let s = setup("team/neg");
    let other_digest = format!("sha256:{}", "0".repeat(64));
    // Wrong key: sign with another key.
    crate::generate_other_key_pair(&s.dir);
    s.sm(&["sign", "--key", "other.key", &s.image]).ok();
    let out = s.sm(&["verify", "--key", "cosign.pub", &s.image]);
    assert_eq!(out.code, 12, "wrong key: {}", out.stderr);
    assert!(out.stderr.contains("invalid signature"), "{}", out.stderr);

    // A correctly signed payload, but for another digest.
    let generated = s.sm(&["generate", &s.image]).ok().stdout;
    let for_other = String::from_utf8(generated.clone())
        .unwrap()
        .replace(&s.digest, &other_digest);
    attach(
        &s,
        for_other.as_bytes(),
        &sign_bytes(&s, for_other.as_bytes()),
    );
    // One byte of the payload changed after signing.
    let good_sig = sign_bytes(&s, &generated);
    let mut tampered = generated.clone();
    let pos = tampered.iter().position(|&b| b == b'"').unwrap();
    tampered.insert(pos, b' ');
    attach(&s, &tampered, &good_sig);
    // One byte of the signature changed.
    let mut sig = sigmirror_cosign::b64::decode_lenient(good_sig.as_bytes()).unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    attach(&s, &generated, &sigmirror_cosign::b64::encode(&sig));
    // A signature annotation that is not base64.
    attach(&s, &generated, "not base64 at all!");
    // The good signature with spaces around it: Go's decoder, and so cosign, refuses that.
    attach(&s, &generated, &format!(" {good_sig} "));

    let out = s.sm(&["verify", "--key", "cosign.pub", &s.image]);
    assert_eq!(out.code, 12, "{}", out.stderr);
    for needle in [
        "signature 1: invalid signature",
        "signature 2: payload is for digest",
        "signature 3: invalid signature",
        "signature 4: invalid signature",
        "signature 5: signature annotation is not base64",
        "signature 6: signature annotation is not base64",
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing {needle:?} in {}",
            out.stderr
        );
    }
    // cosign rejects the same .sig for this key.
    s.cosign_verify("verify", "cosign.pub", &s.image, &[])
        .fails_with("no matching signatures");
    // And the good signature, once attached, is accepted by both.
    attach(&s, &generated, &good_sig);
    s.sm(&["verify", "--key", "cosign.pub", &s.image]).ok();
    s.cosign_verify("verify", "cosign.pub", &s.image, &[]).ok();
}

#[test]
fn missing_annotation_and_wrong_manifest_type_fail() {
    let s = setup("team/shape");
    let sig_url = s.sig_tag_url("team/shape", &s.digest);
    let generated = s.sm(&["generate", &s.image]).ok().stdout;
    // A .sig image whose only layer has no signature annotation: push the payload blob and a
    // config through sigmirror's own image writer is not possible, so use upload + edit.
    s.dir.write("p.json", &generated);
    let sig_tag = format!(
        "{}:{}.sig",
        s.reg.image("team/shape"),
        s.digest.replace(':', "-")
    );
    s.sm(&[
        "upload",
        "blob",
        "-f",
        "p.json",
        "--ct",
        "application/vnd.dev.cosign.simplesigning.v1+json",
        &sig_tag,
    ])
    .ok();
    let out = s.sm(&["verify", "--key", "cosign.pub", &s.image]);
    assert_eq!(out.code, 12, "{}", out.stderr);
    assert!(
        out.stderr.contains("no signature annotation"),
        "{}",
        out.stderr
    );
    // The .sig tag holding an index instead of an image manifest.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1}}]}}"#,
        s.digest
    );
    http_put(
        &sig_url,
        "application/vnd.oci.image.index.v1+json",
        index.as_bytes(),
    );
    s.sm(&["verify", "--key", "cosign.pub", &s.image])
        .fails_with("unexpected manifest media type");
}

#[test]
fn unsigned_unknown_unauthorized_and_unreachable() {
    let mut s = setup("team/unsigned");
    let out = s.sm(&["verify", "--key", "cosign.pub", &s.image]);
    assert_eq!(out.code, 10, "{}", out.stderr);
    assert!(out.stderr.contains("no signatures found"), "{}", out.stderr);
    let out = s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        &s.reg.image("team/nothing:v1"),
    ]);
    assert_eq!(out.code, 11);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
    let out = s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        &s.reg.image("team/nothing:v1"),
    ]);
    assert!(
        out.code != 0 && out.stderr.contains("not found"),
        "{}",
        out.stderr
    );

    let locked = TestRegistry::start_with_login();
    let image = format!("{}:v1", locked.image("team/locked"));
    // skopeo pushes with the credentials.
    let dir = TestDir::new();
    let _ = dir;
    run(
        Command::new(sigmirror_tests::tool("skopeo"))
            .args([
                "login",
                "--tls-verify=false",
                "-u",
                USER,
                "-p",
                PASSWORD,
                locked.addr(),
            ])
            .env("REGISTRY_AUTH_FILE", s.dir.join("auth.json")),
        None,
    )
    .ok();
    push_with_auth(&image, &s.dir.join("auth.json"));
    s.sm(&["sign", "--key", "cosign.key", &image])
        .fails_with("unauthorized");
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--registry-username",
        USER,
        "--registry-password",
        "wrong",
        &image,
    ])
    .fails_with("the registry rejected the credentials of user");
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--registry-username",
        USER,
        "--registry-password",
        PASSWORD,
        &image,
    ])
    .ok();
    s.sm(&[
        "verify",
        "--key",
        "cosign.pub",
        "--registry-username",
        USER,
        "--registry-password",
        PASSWORD,
        &image,
    ])
    .ok();
    // Credentials from ~/.docker/config.json (HOME is the test folder).
    let auth = sigmirror_cosign::b64::encode(format!("{USER}:{PASSWORD}").as_bytes());
    std::fs::create_dir_all(s.dir.join(".docker")).unwrap();
    s.dir.write(
        ".docker/config.json",
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, locked.addr()),
    );
    s.sm(&["verify", "--key", "cosign.pub", &image]).ok();
    // A whole repository behind a login: its tags are listed through the authenticated client
    // (page by page with `n` and `last`), and every image tag is pulled.
    push_with_auth(
        &format!("{}:v2", locked.image("team/locked")),
        &s.dir.join("auth.json"),
    );
    s.sm(&[
        "pull",
        "--store",
        "store",
        "--progress",
        "none",
        &locked.image("team/locked"),
    ])
    .ok();
    let listed = s
        .sm(&["store", "ls", "--store", "store"])
        .ok()
        .stdout_text();
    for tag in ["v1", "v2"] {
        let name = format!("{}:{tag}\t", locked.image("team/locked"));
        assert!(listed.contains(&name), "{tag}: {listed}");
    }
    s.verify_offline("store", "cosign.pub", &image).ok();
    // Credentials from a credential helper named in the docker config.
    let bin = TestDir::new();
    let helper = bin.write(
        "docker-credential-sigtest",
        format!("#!/bin/sh\nread server\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n"),
    );
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    s.dir.write(
        ".docker/config.json",
        format!(r#"{{"credHelpers":{{"{}":"sigtest"}}}}"#, locked.addr()),
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(
        sigmirror(&s.dir)
            .args(["verify", "--key", "cosign.pub", &image])
            .env("PATH", &path),
        None,
    )
    .ok();
    // Without the helper on PATH the registry refuses.
    s.sm(&["verify", "--key", "cosign.pub", &image])
        .fails_with("unauthorized");

    let image = s.image.clone();
    s.reg.stop();
    let out = s.sm(&["verify", "--key", "cosign.pub", &image]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot reach the registry"),
        "{}",
        out.stderr
    );
}

fn push_with_auth(dest: &str, auth_file: &std::path::Path) {
    // Push through skopeo's auth file by copying from an anonymous scratch registry.
    let scratch = TestRegistry::start();
    let src = format!("{}:v1", scratch.image("scratch"));
    push_image(&src, "locked");
    run(
        Command::new(sigmirror_tests::tool("skopeo")).args([
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--dest-authfile",
            &auth_file.display().to_string(),
            &format!("docker://{src}"),
            &format!("docker://{dest}"),
        ]),
        None,
    )
    .ok();
}

#[test]
fn failed_signing_leaves_the_previous_signatures_intact() {
    let s = setup("team/intact");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    let before = http_get(&s.sig_tag_url("team/intact", &s.digest));
    // The signer fails: nothing is written.
    s.sm(&["sign", "--key", "testing://error-on-call", &s.image])
        .fails_with("deliberate error");
    assert_eq!(http_get(&s.sig_tag_url("team/intact", &s.digest)), before);
    s.sm(&["verify", "--key", "cosign.pub", &s.image]).ok();
}

#[test]
fn index_signing_recursive_and_children() {
    let reg = TestRegistry::start();
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let image = format!("{}:multi", reg.image("team/multi"));
    let (index, children) = push_index(&image, "multi");
    let sm = |args: &[&str]| {
        run(
            sigmirror(&dir).args(args).env("COSIGN_PASSWORD", "pw"),
            None,
        )
    };
    sm(&["sign", "--key", "cosign.key", &image]).ok();
    // The index is signed, its children are not.
    let out = sm(&["verify", "--key", "cosign.pub", &image]).ok();
    assert_eq!(
        payloads(&out)[0]["critical"]["image"]["docker-manifest-digest"],
        index.as_str()
    );
    let child = format!("{}@{}", reg.image("team/multi"), children[0]);
    assert_eq!(sm(&["verify", "--key", "cosign.pub", &child]).code, 10);
    // --recursive signs each platform manifest too; cosign verifies a child.
    sm(&["sign", "--key", "cosign.key", "--recursive", &image]).ok();
    for c in &children {
        let child = format!("{}@{c}", reg.image("team/multi"));
        sm(&["verify", "--key", "cosign.pub", &child]).ok();
    }
    run(
        cosign(&dir).args([
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{}@{}", reg.image("team/multi"), children[1]),
        ]),
        None,
    )
    .ok();
}

#[test]
fn cosign_repository_and_docker_media_types() {
    let s = setup("team/elsewhere");
    let sig_repo = s.reg.image("sigs/store");
    run(
        sigmirror(&s.dir)
            .args(["sign", "--key", "cosign.key", &s.image])
            .env("COSIGN_PASSWORD", "pw")
            .env("COSIGN_REPOSITORY", &sig_repo),
        None,
    )
    .ok();
    // Not in the image's repository...
    assert_eq!(s.sm(&["verify", "--key", "cosign.pub", &s.image]).code, 10);
    // ...but found with COSIGN_REPOSITORY, by both tools.
    run(
        sigmirror(&s.dir)
            .args(["verify", "--key", "cosign.pub", &s.image])
            .env("COSIGN_REPOSITORY", &sig_repo),
        None,
    )
    .ok();
    run(
        cosign(&s.dir)
            .args([
                "verify",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog",
                &s.image,
            ])
            .env("COSIGN_REPOSITORY", &sig_repo),
        None,
    )
    .ok();
    let out = run(
        sigmirror(&s.dir)
            .args(["triangulate", &s.image])
            .env("COSIGN_REPOSITORY", &sig_repo),
        None,
    )
    .ok();
    assert!(
        out.stdout_text()
            .starts_with(&format!("{sig_repo}:sha256-")),
        "{}",
        out.stdout_text()
    );

    // Docker media types for the signature image; cosign still verifies.
    run(
        sigmirror(&s.dir)
            .args(["sign", "--key", "cosign.key", &s.image])
            .env("COSIGN_PASSWORD", "pw")
            .env("COSIGN_DOCKER_MEDIA_TYPES", "1"),
        None,
    )
    .ok();
    let manifest: Value =
        serde_json::from_slice(&http_get(&s.sig_tag_url("team/elsewhere", &s.digest))).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    s.cosign_verify("verify", "cosign.pub", &s.image, &[]).ok();
}

#[test]
fn generate_triangulate_tree_download_match_cosign() {
    let s = setup("team/tools");
    s.sm(&["sign", "--key", "cosign.key", "-a", "a=b", &s.image])
        .ok();
    for args in [
        vec!["generate", "-a", "x=y"],
        vec!["triangulate"],
        vec!["triangulate", "--type", "digest"],
        vec!["triangulate", "--type", "attestation"],
        vec!["download", "signature"],
    ] {
        let mut full = args.clone();
        full.push(&s.image);
        let ours = s.sm(&full).ok().stdout;
        let theirs = s.cosign(&full).ok().stdout;
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{args:?}"
        );
    }
    let out = s.sm(&["tree", &s.image]).ok();
    let text = out.stdout_text();
    assert!(text.contains("🔐 Signatures for an image tag"), "{text}");
    let manifest: Value =
        serde_json::from_slice(&http_get(&s.sig_tag_url("team/tools", &s.digest))).unwrap();
    assert!(
        text.contains(manifest["layers"][0]["digest"].as_str().unwrap()),
        "{text}"
    );
    // The classic detached flow: generate, sign-blob, attach; both tools verify.
    let s2 = setup("team/detached");
    let payload = s2.sm(&["generate", &s2.image]).ok().stdout;
    s2.dir.write("payload.json", &payload);
    let sig = s2
        .sm(&[
            "sign-blob",
            "--key",
            "cosign.key",
            "--output-signature",
            "payload.sig",
            "payload.json",
        ])
        .ok();
    let _ = sig;
    s2.sm(&[
        "attach",
        "signature",
        "--payload",
        "payload.json",
        "--signature",
        "payload.sig",
        &s2.image,
    ])
    .ok();
    s2.sm(&["verify", "--key", "cosign.pub", &s2.image]).ok();
    s2.cosign_verify("verify", "cosign.pub", &s2.image, &[])
        .ok();
}

#[test]
fn upload_and_clean() {
    let s = setup("team/up");
    s.dir.write("file.txt", "some text\n");
    s.dir.write("m.wasm", b"\0asm\x01\0\0\0");
    let manifest = |tag: &str| http_get(&format!("http://{}/v2/{tag}", s.reg.addr()));
    s.sm(&[
        "upload",
        "blob",
        "-f",
        "file.txt",
        "-a",
        "k=v",
        &s.reg.image("team/blob:ours"),
    ])
    .ok();
    s.cosign(&[
        "upload",
        "blob",
        "-f",
        "file.txt",
        "-a",
        "k=v",
        &s.reg.image("team/blob:theirs"),
    ])
    .ok();
    s.sm(&[
        "upload",
        "wasm",
        "-f",
        "m.wasm",
        &s.reg.image("team/wasm:ours"),
    ])
    .ok();
    s.cosign(&[
        "upload",
        "wasm",
        "-f",
        "m.wasm",
        &s.reg.image("team/wasm:theirs"),
    ])
    .ok();
    for repo in ["team/blob", "team/wasm"] {
        let ours = manifest(&format!("{repo}/manifests/ours"));
        let theirs = manifest(&format!("{repo}/manifests/theirs"));
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{repo}: same manifest as cosign"
        );
    }
    s.dir.write("not.wasm", "text");
    s.sm(&[
        "upload",
        "wasm",
        "-f",
        "not.wasm",
        &s.reg.image("team/wasm:bad"),
    ])
    .fails_with("not a WebAssembly module");

    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    run(sigmirror(&s.dir).args(["clean", &s.image]), Some(b"n\n")).fails_with("declined");
    s.sm(&["verify", "--key", "cosign.pub", &s.image]).ok();
    s.sm(&["clean", "--force", &s.image]).ok();
    assert_eq!(s.sm(&["verify", "--key", "cosign.pub", &s.image]).code, 10);
}

/// Registries with object storage redirect blob downloads to HTTPS. Reads from an open
/// plain-HTTP registry skip loading the platform's trust store, so this proves the redirect is
/// still followed, with the platform's roots (here `SSL_CERT_FILE` holding the storage's CA),
/// and refused when the storage's certificate is not trusted.
#[test]
fn blobs_redirected_to_https_storage_use_the_platform_trust_store() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let certs = TestDir::new();
    sigmirror_tests::tls::make_certs(certs.path());
    let storage = TestDir::new();
    let root = storage.join("data");
    std::fs::create_dir_all(&root).unwrap();
    let files = HttpsFiles::start(&root, &certs.join("server.crt"), &certs.join("server.key"));
    let reg = TestRegistry::start_redirecting_blobs(&root, &files.url());
    let image = format!("{}:v1", reg.image("redirect/app"));
    let trusted = certs.join("ca.crt");
    let system = std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    let sm = |args: &[&str], roots: &std::path::Path| {
        run(
            sigmirror(&dir)
                .args(args)
                .env("COSIGN_PASSWORD", "pw")
                .env_remove("SSL_CERT_DIR")
                .env("SSL_CERT_FILE", roots),
            None,
        )
    };
    dir.write("content.txt", "content kept in redirected storage");
    let pushed = sm(&["upload", "blob", "-f", "content.txt", &image], &trusted)
        .ok()
        .stdout_text();
    let digest = pushed.trim().rsplit('@').next().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{pushed}");
    sm(&["sign", "--key", "cosign.key", &image], &trusted).ok();

    let out = sm(&["verify", "--key", "cosign.pub", &image], &trusted).ok();
    assert_eq!(payloads(&out).len(), 1);
    assert!(out.stdout_text().contains(&digest));
    let log = files.log();
    assert!(
        log.contains("\"GET /docker/registry/v2/blobs/sha256/"),
        "the signature payload was not fetched from the HTTPS storage:\n{log}"
    );

    // The storage's certificate is not trusted: the download, and the verification, fail.
    sm(&["verify", "--key", "cosign.pub", &image], &system).fails_with("certificate");

    // A pull follows the same redirects for every blob; the mirror then verifies offline.
    let store = dir.join("store");
    let store = store.to_str().unwrap();
    sm(&["pull", "--store", store, &image], &trusted).ok();
    sm(&["store", "fsck", "--store", store], &trusted).ok();
    let offline = sm(
        &[
            "verify",
            "--offline",
            "--store",
            store,
            "--key",
            "cosign.pub",
            &image,
        ],
        &trusted,
    )
    .ok();
    assert!(offline.stdout_text().contains(&digest));
}

#[test]
fn verify_prints_odd_payloads_byte_for_byte_as_cosign_does() {
    let s = setup("team/odd");
    // A payload cosign accepts but would never write: keys out of order and in another case,
    // the identity missing, fields cosign's type does not know, and characters Go escapes.
    let payload = format!(
        r#"{{"optional":{{"z":"last","a":"<b>&amp;</b>","n":7}},"Critical":{{"extra":true,"type":"cosign container image signature","image":{{"docker-manifest-digest":"{}","size":1}},"identity":{{}}}},"unknown":[1,2]}}"#,
        s.digest
    );
    attach(&s, payload.as_bytes(), &sign_bytes(&s, payload.as_bytes()));
    let ours = s.sm(&["verify", "--key", "cosign.pub", &s.image]).ok();
    let theirs = s.cosign_verify("verify", "cosign.pub", &s.image, &[]).ok();
    assert_eq!(
        ours.stdout_text(),
        theirs.stdout_text(),
        "stdout differs from cosign's"
    );
    // Re-serialised, not the signed bytes: the unknown fields are gone.
    assert!(
        !ours.stdout_text().contains("unknown"),
        "{}",
        ours.stdout_text()
    );
}
