//! Key files: generation, import, public keys, and every kind of bad key input.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use sigmirror_cosign::keys::{COSIGN_PRIVATE_KEY_LABEL, PrivateKey, ScryptParams};
use sigmirror_tests::{TestDir, run, tool};

use crate::{generate_key_pair, sigmirror};

fn mode(dir: &TestDir, name: &str) -> u32 {
    std::fs::metadata(dir.join(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn generate_writes_private_key_0600_and_public_key() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "s3cret");
    assert_eq!(dir.entries(), ["cosign.key", "cosign.pub"]);
    assert_eq!(mode(&dir, "cosign.key"), 0o600);
    assert_eq!(mode(&dir, "cosign.pub"), 0o644);
    let key = String::from_utf8(dir.read("cosign.key")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"),
        "{key}"
    );
    // public-key prints exactly the .pub file.
    let out = run(
        sigmirror(&dir)
            .args(["public-key", "--key", "cosign.key"])
            .env("COSIGN_PASSWORD", "s3cret"),
        None,
    )
    .ok();
    assert_eq!(out.stdout, dir.read("cosign.pub"));
}

#[test]
fn output_prefix_and_password_from_stdin() {
    let dir = TestDir::new();
    // No COSIGN_PASSWORD and stdin not a terminal: all of stdin is the password, newline included.
    run(
        sigmirror(&dir).args(["generate-key-pair", "--output-key-prefix", "release"]),
        Some(b"pw\n"),
    )
    .ok();
    assert_eq!(dir.entries(), ["release.key", "release.pub"]);
    let pem = dir.read("release.key");
    assert!(PrivateKey::from_encrypted_pem(&pem, b"pw\n").is_ok());
    assert!(
        PrivateKey::from_encrypted_pem(&pem, b"pw").is_err(),
        "the newline is part of it"
    );
}

#[test]
fn empty_password_is_a_real_password() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "");
    let pem = dir.read("cosign.key");
    assert!(PrivateKey::from_encrypted_pem(&pem, b"").is_ok());
    assert!(PrivateKey::from_encrypted_pem(&pem, b"x").is_err());
}

#[test]
fn existing_key_is_not_overwritten_without_consent() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "one");
    let before = dir.read("cosign.key");
    run(
        sigmirror(&dir)
            .arg("generate-key-pair")
            .env("COSIGN_PASSWORD", "two"),
        Some(b"n\n"),
    )
    .fails_with("declined");
    assert_eq!(dir.read("cosign.key"), before);
    assert_eq!(
        dir.entries(),
        ["cosign.key", "cosign.pub"],
        "no temporary files left behind"
    );
    run(
        sigmirror(&dir)
            .args(["generate-key-pair", "--yes"])
            .env("COSIGN_PASSWORD", "two"),
        None,
    )
    .ok();
    assert!(PrivateKey::from_encrypted_pem(&dir.read("cosign.key"), b"two").is_ok());
}

fn openssl(dir: &TestDir, args: &[&str]) {
    run(
        Command::new(tool("openssl"))
            .current_dir(dir.path())
            .args(args),
        None,
    )
    .ok();
}

#[test]
fn import_pkcs8_and_sec1_p256_keys() {
    let dir = TestDir::new();
    openssl(
        &dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-out",
            "sec1.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "sec1.pem",
            "-out",
            "pkcs8.pem",
        ],
    );
    openssl(
        &dir,
        &["ec", "-in", "sec1.pem", "-pubout", "-out", "expected.pub"],
    );
    for (input, prefix) in [("sec1.pem", "a"), ("pkcs8.pem", "b")] {
        run(
            sigmirror(&dir)
                .args(["import-key-pair", "--key", input, "-o", prefix])
                .env("COSIGN_PASSWORD", "pw"),
            None,
        )
        .ok();
        assert_eq!(mode(&dir, &format!("{prefix}.key")), 0o600);
        // The imported public key is the one openssl derives from the input.
        assert_eq!(
            dir.read(&format!("{prefix}.pub")),
            dir.read("expected.pub"),
            "{input}"
        );
    }
    // Default prefix is import-cosign.
    run(
        sigmirror(&dir)
            .args(["import-key-pair", "--key", "pkcs8.pem"])
            .env("COSIGN_PASSWORD", ""),
        None,
    )
    .ok();
    assert!(dir.join("import-cosign.key").is_file() && dir.join("import-cosign.pub").is_file());
}

#[test]
fn import_refuses_key_types_cosign_does_not_sign_with_and_writes_nothing() {
    let dir = TestDir::new();
    // RSA below 2048 bits, a curve cosign has no verifier for, and algorithms it does not know.
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "rsa1024.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "ecparam",
            "-name",
            "secp256k1",
            "-genkey",
            "-noout",
            "-out",
            "k1.pem",
        ],
    );
    openssl(
        &dir,
        &["genpkey", "-algorithm", "ED448", "-out", "ed448.pem"],
    );
    let before = dir.entries();
    for (file, needle) in [
        ("rsa1024.pem", "RSA of 1024 bits"),
        ("k1.pem", "secp256k1"),
        ("ed448.pem", "Ed448"),
    ] {
        let out = run(
            sigmirror(&dir)
                .args(["import-key-pair", "--key", file])
                .env("COSIGN_PASSWORD", "pw"),
            None,
        )
        .fails_with(needle);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "one-line error: {}",
            out.stderr
        );
    }
    assert_eq!(dir.entries(), before, "nothing written");
}

#[test]
fn legacy_cosign_key_with_n_32768_decrypts() {
    let dir = TestDir::new();
    let key = PrivateKey::generate();
    let legacy = key
        .to_encrypted_pem_with(b"old", ScryptParams::LEGACY, COSIGN_PRIVATE_KEY_LABEL)
        .unwrap();
    assert!(legacy.contains("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"));
    dir.write("legacy.key", &legacy);
    let out = run(
        sigmirror(&dir)
            .args(["public-key", "--key", "legacy.key"])
            .env("COSIGN_PASSWORD", "old"),
        None,
    )
    .ok();
    assert_eq!(out.stdout_text(), key.public_key().to_pem());
}

/// Every broken key gives a one-line error, a non-zero exit, and no signature file.
#[test]
fn bad_private_keys_fail_cleanly() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    dir.write("blob", "data");
    let good = String::from_utf8(dir.read("cosign.key")).unwrap();
    let body: String = good.lines().filter(|l| !l.starts_with("-----")).collect();
    let json = sigmirror_cosign::b64::decode_lenient(body.as_bytes()).unwrap();
    let json = String::from_utf8(json).unwrap();
    let repack = |json: &str| {
        sigmirror_cosign::pem::encode("ENCRYPTED SIGSTORE PRIVATE KEY", json.as_bytes())
    };
    let mut tampered: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ct = tampered["ciphertext"].as_str().unwrap().to_owned();
    let flipped = match ct.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &ct[1..]),
    };
    tampered["ciphertext"] = flipped.into();
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "no PEM block"),
        ("truncated", good[..good.len() / 2].to_owned(), "truncated"),
        (
            "label",
            good.replace("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED OTHER KEY"),
            "unsupported PEM type",
        ),
        (
            "tampered",
            repack(&tampered.to_string()),
            "decryption failed",
        ),
        (
            "huge-n",
            repack(&json.replace("\"N\":65536", "\"N\":4294967296")),
            "unsupported scrypt parameters",
        ),
        (
            "odd-r",
            repack(&json.replace("\"r\":8", "\"r\":1")),
            "unsupported scrypt parameters",
        ),
        ("not-json", repack("{not json"), "malformed encrypted key"),
    ];
    for (name, content, needle) in cases {
        dir.write(name, &content);
        let out = run(
            sigmirror(&dir)
                .args([
                    "sign-blob",
                    "--key",
                    name,
                    "--output-signature",
                    "out.sig",
                    "blob",
                ])
                .env("COSIGN_PASSWORD", "pw"),
            None,
        )
        .fails_with(needle);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{name}: one-line error: {}",
            out.stderr
        );
        assert!(!dir.join("out.sig").exists(), "{name}: nothing written");
    }
    let out = run(
        sigmirror(&dir)
            .args([
                "sign-blob",
                "--key",
                "cosign.key",
                "--output-signature",
                "out.sig",
                "blob",
            ])
            .env("COSIGN_PASSWORD", "wrong"),
        None,
    )
    .fails_with("wrong password");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(!dir.join("out.sig").exists());
}

#[test]
fn verifying_with_a_private_key_explains_what_to_pass() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    dir.write("blob", "data");
    run(
        sigmirror(&dir).args([
            "verify-blob",
            "--key",
            "cosign.key",
            "--signature",
            "MEU=",
            "blob",
        ]),
        None,
    )
    .fails_with("is a private key");
}
