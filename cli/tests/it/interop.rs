//! Interoperability with the real cosign 2.5 binary, both ways: keys, signatures, bundles.

use sigmirror_tests::{TestDir, cosign, run};

use crate::{generate_key_pair, sigmirror};

#[test]
fn cosign_reads_sigmirror_keys_and_signs_with_them() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let out = run(
        cosign(&dir)
            .args(["public-key", "--key", "cosign.key"])
            .env("COSIGN_PASSWORD", "pw"),
        None,
    )
    .ok();
    assert_eq!(
        out.stdout,
        dir.read("cosign.pub"),
        "cosign derives the same public key"
    );
    // cosign rejects a wrong password for our key too (it really decrypts it).
    run(
        cosign(&dir)
            .args(["public-key", "--key", "cosign.key"])
            .env("COSIGN_PASSWORD", "nope"),
        None,
    )
    .fails_with("decrypt");
    // cosign signs with our key; we verify.
    dir.write("blob", "signed by cosign with a sigmirror key");
    run(
        cosign(&dir)
            .args([
                "sign-blob",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "--output-signature",
                "c.sig",
                "blob",
            ])
            .env("COSIGN_PASSWORD", "pw"),
        None,
    )
    .ok();
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "c.sig",
            "blob",
        ]),
        None,
    )
    .ok();
}

#[test]
fn sigmirror_reads_cosign_keys_and_signs_with_them() {
    let dir = TestDir::new();
    run(
        cosign(&dir)
            .arg("generate-key-pair")
            .env("COSIGN_PASSWORD", "cpw"),
        None,
    )
    .ok();
    let out = run(
        sigmirror(&dir)
            .args(["public-key", "--key", "cosign.key"])
            .env("COSIGN_PASSWORD", "cpw"),
        None,
    )
    .ok();
    assert_eq!(out.stdout, dir.read("cosign.pub"));
    dir.write("blob", "signed by sigmirror with a cosign key");
    run(
        sigmirror(&dir)
            .args([
                "sign-blob",
                "--key",
                "cosign.key",
                "--output-signature",
                "s.sig",
                "--bundle",
                "s.bundle",
                "blob",
            ])
            .env("COSIGN_PASSWORD", "cpw"),
        None,
    )
    .ok();
    for how in [["--signature", "s.sig"], ["--bundle", "s.bundle"]] {
        let out = run(
            cosign(&dir)
                .args([
                    "verify-blob",
                    "--key",
                    "cosign.pub",
                    "--insecure-ignore-tlog",
                ])
                .args(how)
                .arg("blob"),
            None,
        )
        .ok();
        assert!(out.stderr.contains("Verified OK"), "{}", out.stderr);
    }
}

#[test]
fn cosign_signatures_and_bundles_verify_with_sigmirror_and_mismatches_fail_in_both() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    dir.write("blob", "payload");
    dir.write("other", "payloaD");
    run(
        cosign(&dir)
            .args([
                "sign-blob",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "--output-signature",
                "c.sig",
                "--bundle",
                "c.bundle",
                "blob",
            ])
            .env("COSIGN_PASSWORD", "pw"),
        None,
    )
    .ok();
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--key",
            "cosign.pub",
            "--bundle",
            "c.bundle",
            "blob",
        ]),
        None,
    )
    .ok();
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "c.sig",
            "other",
        ]),
        None,
    )
    .fails_with("invalid signature");
    // And cosign, the third party, agrees that our signature does not cover other bytes.
    run(
        sigmirror(&dir)
            .args([
                "sign-blob",
                "--key",
                "cosign.key",
                "--output-signature",
                "s.sig",
                "blob",
            ])
            .env("COSIGN_PASSWORD", "pw"),
        None,
    )
    .ok();
    run(
        cosign(&dir).args([
            "verify-blob",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            "--signature",
            "s.sig",
            "other",
        ]),
        None,
    )
    .fails_with("invalid signature");
}

#[test]
fn imported_key_interoperates() {
    let dir = TestDir::new();
    run(
        std::process::Command::new(sigmirror_tests::tool("openssl"))
            .current_dir(dir.path())
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "ec.pem",
            ]),
        None,
    )
    .ok();
    run(
        sigmirror(&dir)
            .args(["import-key-pair", "--key", "ec.pem"])
            .env("COSIGN_PASSWORD", "ipw"),
        None,
    )
    .ok();
    dir.write("blob", "imported");
    run(
        cosign(&dir)
            .args([
                "sign-blob",
                "--key",
                "import-cosign.key",
                "--tlog-upload=false",
                "--output-signature",
                "c.sig",
                "blob",
            ])
            .env("COSIGN_PASSWORD", "ipw"),
        None,
    )
    .ok();
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--key",
            "import-cosign.pub",
            "--signature",
            "c.sig",
            "blob",
        ]),
        None,
    )
    .ok();
}
