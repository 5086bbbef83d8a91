//! The pkcs11 plugin against a real SoftHSM2 token (initialised per test with softhsm2-util):
//! keys generated on the token, checked with OpenSC's pkcs11-tool, signatures checked by the
//! real cosign.

use std::process::Command;

use sigmirror_tests::peers::{
    SOFTHSM_MODULE, SoftHsm, TOKEN_LABEL, TOKEN_PIN, sign_and_verify_everywhere, with_env,
};
use sigmirror_tests::{Run, TestDir, run};

use crate::sigmirror;

fn sm(dir: &TestDir, hsm: &SoftHsm, env: &[(&str, String)]) -> Command {
    let mut cmd = sigmirror(dir);
    with_env(&mut cmd, env);
    cmd.env("SOFTHSM2_CONF", hsm.conf());
    cmd
}

fn sm_run(dir: &TestDir, hsm: &SoftHsm, args: &[&str]) -> Run {
    run(sm(dir, hsm, &[]).args(args), None)
}

fn uri(object: &str, query: &str) -> String {
    format!("pkcs11:token={TOKEN_LABEL};object={object}?module-path={SOFTHSM_MODULE}{query}")
}

#[test]
fn key_generated_on_the_token_signs_images_and_blobs_and_cosign_verifies() {
    let hsm = SoftHsm::new();
    let dir = TestDir::new();
    let key = uri("release", &format!("&pin-value={TOKEN_PIN}"));
    sm_run(&dir, &hsm, &["generate-key-pair", "--kms", &key]).ok();
    assert_eq!(
        dir.entries(),
        ["cosign.pub"],
        "the private key stays on the token"
    );

    // OpenSC sees an EC key pair labelled "release" on the token, private key not extractable.
    let objects = hsm.pkcs11_tool(&["--list-objects"]).ok().stdout_text();
    assert!(objects.contains("Private Key Object; EC"), "{objects}");
    assert!(objects.contains("label:      release"), "{objects}");
    assert!(objects.contains("never extractable"), "{objects}");

    sign_and_verify_everywhere(&|| sm(&dir, &hsm, &[]), &dir, &key);

    // Module and PIN from cosign's variables; PIN from a file; slot-id instead of the label.
    let env = vec![
        ("COSIGN_PKCS11_MODULE_PATH", SOFTHSM_MODULE.to_owned()),
        ("COSIGN_PKCS11_PIN", TOKEN_PIN.to_owned()),
    ];
    dir.write("artifact.txt", b"x");
    let out = run(
        sm(&dir, &hsm, &env).args([
            "sign-blob",
            "--key",
            "pkcs11:token=ci;object=release",
            "artifact.txt",
        ]),
        None,
    )
    .ok();
    assert!(!out.stdout.is_empty());
    let pin_file = dir.write("pin.txt", format!("{TOKEN_PIN}\n"));
    let by_slot = format!(
        "pkcs11:slot-id={};object=release?module-path={SOFTHSM_MODULE}&pin-source={}",
        hsm.slot_id,
        pin_file.display()
    );
    sm_run(
        &dir,
        &hsm,
        &["sign-blob", "--key", &by_slot, "artifact.txt"],
    )
    .ok();

    // Verifying needs no PIN: the public key object is public.
    let out = sm_run(&dir, &hsm, &["public-key", "--key", &uri("release", "")]).ok();
    assert_eq!(out.stdout, dir.read("cosign.pub"));
}

#[test]
fn pkcs11_tool_lists_tokens_and_key_uris_that_sign() {
    let hsm = SoftHsm::new();
    let dir = TestDir::new();
    sm_run(
        &dir,
        &hsm,
        &[
            "generate-key-pair",
            "--kms",
            &uri("listed", &format!("&pin-value={TOKEN_PIN}")),
        ],
    )
    .ok();

    let out = sm_run(
        &dir,
        &hsm,
        &[
            "pkcs11-tool",
            "list-tokens",
            "--module-path",
            SOFTHSM_MODULE,
        ],
    )
    .ok();
    let text = out.stdout_text();
    assert!(
        text.contains(&format!("Token in slot {}", hsm.slot_id)),
        "{text}"
    );
    assert!(text.contains("\tLabel: ci"), "{text}");
    assert!(text.contains("SoftHSM"), "{text}");

    let slot = hsm.slot_id.to_string();
    let out = sm_run(
        &dir,
        &hsm,
        &[
            "pkcs11-tool",
            "list-keys-uris",
            "--module-path",
            SOFTHSM_MODULE,
            "--slot-id",
            &slot,
            "--pin",
            TOKEN_PIN,
        ],
    )
    .ok();
    let text = out.stdout_text();
    assert!(
        !text.contains(TOKEN_PIN),
        "the PIN is never printed: {text}"
    );
    let listed = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("URI: "))
        .unwrap_or_else(|| panic!("no URI in {text}"));
    assert!(listed.contains(";object=listed"), "{listed}");
    assert!(listed.contains(&format!("slot-id={slot}")), "{listed}");
    dir.write("a.txt", b"x");
    let out = sm_run(
        &dir,
        &hsm,
        &[
            "sign-blob",
            "--key",
            &format!("{listed}&pin-value={TOKEN_PIN}"),
            "--output-signature",
            "a.sig",
            "a.txt",
        ],
    )
    .ok();
    assert!(out.stdout.is_empty());
    run(
        sigmirror_tests::cosign(&dir).args([
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "a.sig",
            "--insecure-ignore-tlog",
            "a.txt",
        ]),
        None,
    )
    .ok();

    // Without a PIN only public keys are visible, and they are listed too.
    let out = sm_run(
        &dir,
        &hsm,
        &[
            "pkcs11-tool",
            "list-keys-uris",
            "--module-path",
            SOFTHSM_MODULE,
            "--slot-id",
            &slot,
        ],
    )
    .ok();
    assert!(
        out.stdout_text().contains(";object=listed"),
        "{}",
        out.stdout_text()
    );
    sm_run(
        &dir,
        &hsm,
        &[
            "pkcs11-tool",
            "list-tokens",
            "--module-path",
            "/nonexistent.so",
        ],
    )
    .fails_with("does not exist");
}

#[test]
fn pkcs11_failures_are_clear() {
    let hsm = SoftHsm::new();
    let dir = TestDir::new();
    dir.write("a.txt", b"x");
    let pin = format!("&pin-value={TOKEN_PIN}");
    let sign = |key: &str| sm_run(&dir, &hsm, &["sign-blob", "--key", key, "a.txt"]);
    sm_run(
        &dir,
        &hsm,
        &["generate-key-pair", "--kms", &uri("release", &pin)],
    )
    .ok();

    let out = sign(&uri("release", "&pin-value=0000")).fails_with("wrong PIN for token \"ci\"");
    // The PIN in the URI never reaches the terminal.
    assert!(!out.stderr.contains("pin-value=0000"), "{}", out.stderr);
    let out = sign(&uri("missing", &pin)).fails_with("");
    assert!(!out.stderr.contains(TOKEN_PIN), "{}", out.stderr);
    sm_run(
        &dir,
        &hsm,
        &[
            "generate-key-pair",
            "--kms",
            &uri("other", "&pin-value=0000"),
            "-y",
        ],
    )
    .fails_with("wrong PIN");
    sign(&uri("missing", &pin)).fails_with("key not found: no private key with object=\"missing\"");
    sign(&uri("release", "")).fails_with("needs the user PIN");
    sm_run(
        &dir,
        &hsm,
        &["generate-key-pair", "--kms", &uri("release", &pin), "-y"],
    )
    .fails_with("already exists");
    sign(&format!(
        "pkcs11:token=nope;object=release?module-path={SOFTHSM_MODULE}{pin}"
    ))
    .fails_with("no token \"nope\" found");
    sign(&format!(
        "pkcs11:token=ci;object=release?module-path=/nonexistent/module.so{pin}"
    ))
    .fails_with("module /nonexistent/module.so does not exist");
    sign("pkcs11:token=ci;object=release").fails_with("no PKCS#11 module");
    sign(&format!(
        "pkcs11:object=release?module-path={SOFTHSM_MODULE}"
    ))
    .fails_with("must name the token");

    // Wrong key type: an EC key on a curve cosign does not sign with, and an RSA key too small,
    // made on the token with OpenSC.
    hsm.pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:secp521r1",
        "--label",
        "p521",
        "--id",
        "0102",
    ])
    .ok();
    sign(&uri("p521", &pin)).fails_with("not on curve P-256 or P-384");
    sm_run(&dir, &hsm, &["public-key", "--key", &uri("p521", &pin)])
        .fails_with("unsupported key type");
    hsm.pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "rsa:1024",
        "--label",
        "rsa1024",
        "--id",
        "0103",
    ])
    .ok();
    sign(&uri("rsa1024", &pin)).fails_with("RSA of 1024 bits");
}

#[test]
fn rsa_and_p384_keys_on_the_token_sign_and_cosign_verifies() {
    let hsm = SoftHsm::new();
    let pin = format!("&pin-value={TOKEN_PIN}");
    for (key_type, label, id, openssl_says) in [
        ("rsa:3072", "rsa", "0201", "Public-Key: (3072 bit)"),
        ("EC:secp384r1", "p384", "0202", "NIST CURVE: P-384"),
    ] {
        hsm.pkcs11_tool(&[
            "--keypairgen",
            "--key-type",
            key_type,
            "--label",
            label,
            "--id",
            id,
        ])
        .ok();
        let dir = TestDir::new();
        let key = uri(label, &pin);
        sm_run(
            &dir,
            &hsm,
            &["public-key", "--key", &key, "--outfile", "cosign.pub"],
        )
        .ok();
        // The public key is the token's, as openssl reads the exported PEM.
        let text = run(
            std::process::Command::new(sigmirror_tests::tool("openssl"))
                .current_dir(dir.path())
                .args(["pkey", "-pubin", "-in", "cosign.pub", "-noout", "-text"]),
            None,
        )
        .ok()
        .stdout_text();
        assert!(text.contains(openssl_says), "{text}");
        // CKM_RSA_PKCS over the SHA-256 DigestInfo and CKM_ECDSA over the SHA-256 digest: what
        // cosign verifies with the exported key.
        sign_and_verify_everywhere(&|| sm(&dir, &hsm, &[]), &dir, &key);
    }
}
