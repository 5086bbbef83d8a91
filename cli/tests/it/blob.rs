//! sign-blob / verify-blob round trips and the ways verification must fail.

use sigmirror_cosign::b64;
use sigmirror_tests::{TestDir, run, tool};

use crate::{generate_key_pair, sigmirror};

fn sign(dir: &TestDir, args: &[&str]) -> sigmirror_tests::Run {
    run(
        sigmirror(dir)
            .arg("sign-blob")
            .args(args)
            .env("COSIGN_PASSWORD", "pw"),
        None,
    )
}

fn verify(dir: &TestDir, args: &[&str]) -> sigmirror_tests::Run {
    run(sigmirror(dir).arg("verify-blob").args(args), None)
}

#[test]
fn signature_file_bundle_and_stdout_all_verify() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    dir.write("artifact.tar", b"some artifact bytes\n".repeat(1000));
    let out = sign(
        &dir,
        &[
            "--key",
            "cosign.key",
            "--output-signature",
            "a.sig",
            "--bundle",
            "a.bundle",
            "artifact.tar",
        ],
    )
    .ok();
    assert!(
        out.stdout.is_empty(),
        "with --output-signature nothing goes to stdout"
    );
    assert!(
        out.stderr.contains("Wrote signature to file a.sig"),
        "{}",
        out.stderr
    );
    let sig = dir.read("a.sig");
    assert!(
        !sig.ends_with(b"\n"),
        "signature file has no newline, like cosign"
    );
    let bundle: serde_json::Value = serde_json::from_slice(&dir.read("a.bundle")).unwrap();
    assert_eq!(
        bundle["base64Signature"].as_str().unwrap().as_bytes(),
        &sig[..]
    );
    assert_eq!(
        bundle.as_object().unwrap().len(),
        1,
        "key-only bundle has no cert or rekor entry"
    );

    let ok = verify(
        &dir,
        &[
            "--key",
            "cosign.pub",
            "--signature",
            "a.sig",
            "artifact.tar",
        ],
    )
    .ok();
    assert!(ok.stderr.contains("Verified OK"));
    verify(
        &dir,
        &[
            "--key",
            "cosign.pub",
            "--bundle",
            "a.bundle",
            "artifact.tar",
        ],
    )
    .ok();
    // The signature given inline as base64.
    let inline = String::from_utf8(sig.clone()).unwrap();
    verify(
        &dir,
        &[
            "--key",
            "cosign.pub",
            "--signature",
            &inline,
            "artifact.tar",
        ],
    )
    .ok();

    // Without --output-signature the base64 signature goes to stdout with a newline.
    let out = sign(&dir, &["--key", "cosign.key", "artifact.tar"]).ok();
    let printed = out.stdout_text();
    assert!(printed.ends_with('\n'));
    verify(
        &dir,
        &[
            "--key",
            "cosign.pub",
            "--signature",
            printed.trim(),
            "artifact.tar",
        ],
    )
    .ok();
}

#[test]
fn raw_der_output_and_stdin_blob() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    dir.write("blob", "from a file");
    sign(
        &dir,
        &[
            "--key",
            "cosign.key",
            "--b64=false",
            "--output-signature",
            "raw.sig",
            "blob",
        ],
    )
    .ok();
    let raw = dir.read("raw.sig");
    assert_eq!(raw[0], 0x30, "ASN.1 DER SEQUENCE");
    verify(
        &dir,
        &["--key", "cosign.pub", "--signature", "raw.sig", "blob"],
    )
    .ok();
    // Blob from stdin, password from the environment.
    let out = run(
        sigmirror(&dir)
            .args(["sign-blob", "--key", "cosign.key", "-"])
            .env("COSIGN_PASSWORD", "pw"),
        Some(b"from a file"),
    )
    .ok();
    let sig = out.stdout_text();
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            sig.trim(),
            "-",
        ]),
        Some(b"from a file"),
    )
    .ok();
    // Blob and password cannot both come from stdin.
    run(
        sigmirror(&dir).args(["sign-blob", "--key", "cosign.key", "-"]),
        Some(b"x"),
    )
    .fails_with("COSIGN_PASSWORD");
}

#[test]
fn verification_fails_for_every_kind_of_mismatch() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    crate::generate_other_key_pair(&dir);
    dir.write("blob", "the signed bytes");
    dir.write("changed", "the signed byteS");
    sign(
        &dir,
        &[
            "--key",
            "cosign.key",
            "--output-signature",
            "a.sig",
            "--bundle",
            "a.bundle",
            "blob",
        ],
    )
    .ok();
    let sig = b64::decode_lenient(&dir.read("a.sig")).unwrap();

    // A signature over other bytes.
    verify(
        &dir,
        &["--key", "cosign.pub", "--signature", "a.sig", "changed"],
    )
    .fails_with("invalid signature");
    // A signature by another key.
    verify(
        &dir,
        &["--key", "other.pub", "--signature", "a.sig", "blob"],
    )
    .fails_with("invalid signature");
    // One byte of the signature changed (still valid DER).
    let mut tampered = sig.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    dir.write("tampered.sig", b64::encode(&tampered));
    verify(
        &dir,
        &["--key", "cosign.pub", "--signature", "tampered.sig", "blob"],
    )
    .fails_with("invalid signature");
    // Malformed base64: taken as raw bytes (as cosign does), which are no signature.
    verify(
        &dir,
        &["--key", "cosign.pub", "--signature", "notb64!!", "blob"],
    )
    .fails_with("malformed signature");
    // A bundle with a tampered or missing signature, or not JSON at all.
    let bundle = String::from_utf8(dir.read("a.bundle")).unwrap();
    dir.write(
        "t.bundle",
        bundle.replace(
            &String::from_utf8(dir.read("a.sig")).unwrap(),
            &b64::encode(&tampered),
        ),
    );
    verify(
        &dir,
        &["--key", "cosign.pub", "--bundle", "t.bundle", "blob"],
    )
    .fails_with("invalid signature");
    dir.write("empty.bundle", "{}");
    verify(
        &dir,
        &["--key", "cosign.pub", "--bundle", "empty.bundle", "blob"],
    )
    .fails_with("base64Signature is missing");
    dir.write("junk.bundle", "not json");
    verify(
        &dir,
        &["--key", "cosign.pub", "--bundle", "junk.bundle", "blob"],
    )
    .fails_with("malformed bundle");
    // Missing inputs.
    verify(
        &dir,
        &["--key", "cosign.pub", "--signature", "a.sig", "nonexistent"],
    )
    .fails_with("nonexistent");
    verify(
        &dir,
        &["--key", "missing.pub", "--signature", "a.sig", "blob"],
    )
    .fails_with("missing.pub");
    verify(&dir, &["--key", "cosign.pub", "blob"]).fails_with("--signature");
}

#[test]
fn unsupported_tlog_upload_is_refused() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    dir.write("blob", "x");
    sign(&dir, &["--key", "cosign.key", "--tlog-upload=true", "blob"])
        .fails_with("transparency log");
    sign(
        &dir,
        &["--key", "cosign.key", "--tlog-upload=false", "blob"],
    )
    .ok();
}

/// A 2 GiB file signs with a flat memory profile: the blob is streamed, never held whole.
#[test]
fn two_gib_blob_signs_in_bounded_memory() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let file = std::fs::File::create(dir.join("big")).unwrap();
    file.set_len(2 << 30).unwrap(); // sparse: cheap to create, still 2 GiB of bytes to hash
    let out = run(
        std::process::Command::new(tool("time"))
            .current_dir(dir.path())
            .args([
                "-f",
                "maxrss_kib=%M",
                env!("CARGO_BIN_EXE_sigmirror"),
                "sign-blob",
                "--key",
                "cosign.key",
                "--output-signature",
                "big.sig",
                "big",
            ])
            .env("COSIGN_PASSWORD", "pw")
            .env("HOME", dir.path())
            .env("SIGMIRROR_PLUGIN_PATH", sigmirror_tests::plugin_dir()),
        None,
    )
    .ok();
    let rss_kib: u64 = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .expect("time output")
        .trim()
        .parse()
        .unwrap();
    // scrypt N=65536 alone needs 64 MiB; the blob adds only a 1 MiB buffer.
    assert!(
        rss_kib < 100 * 1024,
        "peak RSS {rss_kib} KiB for a 2 GiB blob"
    );
    verify(
        &dir,
        &["--key", "cosign.pub", "--signature", "big.sig", "big"],
    )
    .ok();
}
