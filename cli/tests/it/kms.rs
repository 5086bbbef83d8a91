//! The kms plugin against real servers: AWS KMS as served by moto (with the MessageType=DIGEST
//! fix of `tests/peers/moto_server_digestfix.py`) and Vault transit as served by an OpenBao dev
//! server. Signatures are checked by the real cosign.

use std::process::Command;

use sigmirror_tests::peers::{
    AzureKeyVault, GcpKms, Moto, OpenBao, sign_and_verify_everywhere, with_env,
};
use sigmirror_tests::{Run, TestDir, run};

use crate::sigmirror;

/// `sigmirror` in `dir` with exactly `env` as backend settings.
fn sm(dir: &TestDir, env: &[(&str, String)]) -> Command {
    let mut cmd = sigmirror(dir);
    with_env(&mut cmd, env);
    cmd
}

fn sm_run(dir: &TestDir, env: &[(&str, String)], args: &[&str]) -> Run {
    run(sm(dir, env).args(args), None)
}

#[test]
fn awskms_key_is_created_signs_images_and_blobs_and_cosign_verifies() {
    let moto = Moto::start();
    let dir = TestDir::new();
    let env = moto.env();
    let key = "awskms:///alias/release";
    let out = sm_run(&dir, &env, &["generate-key-pair", "--kms", key]).ok();
    assert!(
        out.stderr.contains("Public key written to cosign.pub"),
        "{}",
        out.stderr
    );
    assert_eq!(dir.entries(), ["cosign.pub"], "no private key leaves KMS");

    // The key really is an ECC_NIST_P256 signing key in KMS, under the alias.
    let meta = moto.boto3(
        "m = kms.describe_key(KeyId='alias/release')['KeyMetadata']\n\
         print(m['KeySpec'], m['KeyUsage'])",
    );
    assert_eq!(meta.trim(), "ECC_NIST_P256 SIGN_VERIFY");

    sign_and_verify_everywhere(&|| sm(&dir, &env), &dir, key);

    // The same key by id and by ARN (what `describe-key` reports) signs too.
    let ids = moto.boto3(
        "m = kms.describe_key(KeyId='alias/release')['KeyMetadata']\nprint(m['KeyId'], m['Arn'])",
    );
    let (id, arn) = ids.trim().split_once(' ').unwrap();
    for reference in [format!("awskms:///{id}"), format!("awskms:///{arn}")] {
        let out = sm_run(&dir, &env, &["public-key", "--key", &reference]).ok();
        assert_eq!(out.stdout, dir.read("cosign.pub"), "{reference}");
    }

    // Creating an existing alias reuses its key, as cosign does.
    sm_run(
        &dir,
        &env,
        &[
            "generate-key-pair",
            "--kms",
            key,
            "--output-key-prefix",
            "again",
        ],
    )
    .ok();
    assert_eq!(dir.read("again.pub"), dir.read("cosign.pub"));
}

#[test]
fn awskms_failures_are_clear() {
    let mut moto = Moto::start();
    let dir = TestDir::new();
    let env = moto.env();
    dir.write("a.txt", b"x");
    let sign = |env: &[(&str, String)], key: &str| {
        sm_run(&dir, env, &["sign-blob", "--key", key, "a.txt"])
    };

    sign(&env, "awskms:///alias/missing").fails_with("key awskms:///alias/missing not found");
    sm_run(
        &dir,
        &env,
        &[
            "generate-key-pair",
            "--kms",
            "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
        ],
    )
    .fails_with("created by alias");
    sign(&env, "awskms:///not a key").fails_with("invalid key reference");
    sign(
        &env,
        "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
    )
    .fails_with("no Google credentials");
    sign(&env, "azurekms://vault.example/key").fails_with("no Azure credentials");
    let no_region: Vec<_> = env
        .iter()
        .filter(|(k, _)| !k.contains("REGION"))
        .cloned()
        .collect();
    sign(&no_region, "awskms:///alias/x").fails_with("no AWS region");
    let no_creds: Vec<_> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS"))
        .cloned()
        .collect();
    sign(&no_creds, "awskms:///alias/x").fails_with("no AWS credentials");

    // Wrong key type: a secp256k1 signing key (cosign has no verifier for it) made with boto3.
    moto.boto3(
        "k = kms.create_key(KeySpec='ECC_SECG_P256K1', KeyUsage='SIGN_VERIFY')\n\
         kms.create_alias(AliasName='alias/k1', TargetKeyId=k['KeyMetadata']['KeyId'])",
    );
    sign(&env, "awskms:///alias/k1").fails_with("unsupported key type ECC_SECG_P256K1");
    sm_run(
        &dir,
        &env,
        &["generate-key-pair", "--kms", "awskms:///alias/k1"],
    )
    .fails_with("unsupported key type ECC_SECG_P256K1");
    sm_run(&dir, &env, &["public-key", "--key", "awskms:///alias/k1"])
        .fails_with("unsupported key type");

    // Permission denied: moto checks SigV4 and IAM policies once told to. `reader` may read the
    // public key but not sign.
    sm_run(
        &dir,
        &env,
        &["generate-key-pair", "--kms", "awskms:///alias/guarded"],
    )
    .ok();
    let keys = moto.boto3(
        "iam.create_user(UserName='reader')\n\
         iam.put_user_policy(UserName='reader', PolicyName='read', PolicyDocument=json.dumps({\
           'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', \
           'Action': ['kms:GetPublicKey', 'kms:DescribeKey'], 'Resource': '*'}]}))\n\
         k = iam.create_access_key(UserName='reader')['AccessKey']\n\
         print(k['AccessKeyId'], k['SecretAccessKey'])",
    );
    let (id, secret) = keys.trim().split_once(' ').unwrap();
    moto.enforce_iam();
    let reader: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .cloned()
        .chain([
            ("AWS_ACCESS_KEY_ID", id.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
        ])
        .collect();
    let out = sm_run(
        &dir,
        &reader,
        &["public-key", "--key", "awskms:///alias/guarded"],
    )
    .ok();
    assert!(
        out.stdout_text().contains("BEGIN PUBLIC KEY"),
        "SigV4 accepted by moto"
    );
    sign(&reader, "awskms:///alias/guarded")
        .fails_with("permission denied")
        .fails_with("not authorized to perform: kms:Sign");
    let bad_secret: Vec<(&str, String)> = reader
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if *k == "AWS_SECRET_ACCESS_KEY" {
                    "wrong".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    sign(&bad_secret, "awskms:///alias/guarded").fails_with("rejected the credentials");
    // Unknown access key (moto's default "testing" is not an IAM user).
    sign(&env, "awskms:///alias/guarded").fails_with("rejected the credentials");

    // Server down.
    moto.server.stop();
    sign(&reader, "awskms:///alias/guarded").fails_with("cannot reach AWS KMS");
}

fn vault_env(bao: &OpenBao, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("VAULT_ADDR", bao.addr()),
        ("VAULT_TOKEN", token.to_owned()),
    ]
}

#[test]
fn vault_transit_key_signs_images_and_blobs_and_cosign_verifies() {
    let bao = OpenBao::start();
    let dir = TestDir::new();
    let env = vault_env(&bao, "root");
    sm_run(
        &dir,
        &env,
        &["generate-key-pair", "--kms", "hashivault://release"],
    )
    .ok();
    let (code, body) = bao.api("GET", "transit/keys/release", None);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""type":"ecdsa-p256""#), "{body}");
    sign_and_verify_everywhere(&|| sm(&dir, &env), &dir, "hashivault://release");

    // openbao:// names the same transit key, with OpenBao's own variables.
    let bao_env = vec![("BAO_ADDR", bao.addr()), ("BAO_TOKEN", "root".to_owned())];
    let out = sm_run(
        &dir,
        &bao_env,
        &["public-key", "--key", "openbao://release"],
    )
    .ok();
    assert_eq!(out.stdout, dir.read("cosign.pub"));
    let dir2 = TestDir::new();
    sm_run(
        &dir2,
        &bao_env,
        &["generate-key-pair", "--kms", "openbao://second"],
    )
    .ok();
    sign_and_verify_everywhere(&|| sm(&dir2, &bao_env), &dir2, "openbao://second");
}

#[test]
fn vault_failures_are_clear() {
    let mut bao = OpenBao::start();
    let dir = TestDir::new();
    let env = vault_env(&bao, "root");
    dir.write("a.txt", b"x");
    let sign = |env: &[(&str, String)], key: &str| {
        sm_run(&dir, env, &["sign-blob", "--key", key, "a.txt"])
    };

    sm_run(
        &dir,
        &env,
        &["generate-key-pair", "--kms", "hashivault://release"],
    )
    .ok();
    sign(&env, "hashivault://missing").fails_with("key hashivault://missing not found");
    sign(&vault_env(&bao, "not-a-token"), "hashivault://release").fails_with("permission denied");
    // A token that may read keys but not sign with them.
    let reader = bao.limited_token(r#"path "transit/keys/*" { capabilities = ["read"] }"#);
    let out = sm_run(
        &dir,
        &vault_env(&bao, &reader),
        &["public-key", "--key", "hashivault://release"],
    )
    .ok();
    assert_eq!(out.stdout, dir.read("cosign.pub"));
    sign(&vault_env(&bao, &reader), "hashivault://release")
        .fails_with("permission denied")
        .fails_with("sign with");
    // Wrong key type.
    let (code, body) = bao.api(
        "POST",
        "transit/keys/rsa",
        Some(r#"{"type":"aes256-gcm96"}"#),
    );
    assert!(code == 200 || code == 204, "{body}");
    sign(&env, "hashivault://rsa").fails_with("unsupported key type aes256-gcm96");
    sm_run(
        &dir,
        &env,
        &["generate-key-pair", "--kms", "hashivault://rsa", "-y"],
    )
    .fails_with("unsupported key type aes256-gcm96");
    sign(&env, "hashivault://bad/name").fails_with("invalid key reference");
    sign(&[("VAULT_ADDR", bao.addr())], "hashivault://release").fails_with("no Vault token");
    bao.server.stop();
    sign(&env, "hashivault://release").fails_with("cannot reach Vault");
}

#[test]
fn plugins_lists_the_signer_backends() {
    let dir = TestDir::new();
    let out = sm_run(&dir, &[], &["plugins"]).ok();
    let text = out.stdout_text();
    let version = env!("CARGO_PKG_VERSION");
    for (name, schemes) in [
        ("kms", "awskms,hashivault,openbao,gcpkms,azurekms"),
        ("pkcs11", "pkcs11"),
        ("k8s", "k8s"),
    ] {
        let line = format!("{name}\tversion {version}\tabi 1\tschemes {schemes}\t");
        assert!(text.contains(&line), "{line:?} missing from:\n{text}");
    }
    assert!(!text.contains("failed\t"), "{text}");
}

#[test]
fn awskms_keys_of_every_type_cosign_uses_sign_and_cosigns_own_kms_verifier_agrees() {
    let moto = Moto::start();
    let dir = TestDir::new();
    let env = moto.env();
    moto.boto3(
        "for spec in ['ECC_NIST_P384', 'ECC_NIST_P521', 'RSA_2048']: \
           kms.create_alias(AliasName='alias/' + spec.lower(), TargetKeyId=kms.create_key(\
           KeySpec=spec, KeyUsage='SIGN_VERIFY')['KeyMetadata']['KeyId'])",
    );
    let registry = sigmirror_tests::registry::TestRegistry::start();
    for spec in ["ecc_nist_p384", "ecc_nist_p521", "rsa_2048"] {
        let key = format!("awskms:///alias/{spec}");
        let image = format!("{}:v1", registry.image(&format!("kms/{spec}")));
        sigmirror_tests::oci::push_image(&image, spec);
        sm_run(&dir, &env, &["sign", "--key", &key, &image]).ok();
        dir.write("pred.json", r#"{"builder":"kms"}"#);
        sm_run(
            &dir,
            &env,
            &["attest", "--key", &key, "--predicate", "pred.json", &image],
        )
        .ok();
        dir.write("blob.txt", format!("signed in KMS by {spec}\n"));
        let sig = sm_run(&dir, &env, &["sign-blob", "--key", &key, "blob.txt"])
            .ok()
            .stdout_text();
        // The judge is cosign's own AWS KMS verifier, against the same moto: KMS signs P-384
        // keys over SHA-384 and P-521 over SHA-512 (cosign does the same), which cosign then
        // verifies only through KMS, not with the exported public key.
        let cosign = |args: &[&str]| {
            let mut cmd = sigmirror_tests::cosign(&dir);
            with_env(&mut cmd, &env);
            run(cmd.args(args), None)
        };
        cosign(&[
            "verify",
            "--key",
            &key,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &image,
        ])
        .ok();
        cosign(&[
            "verify-attestation",
            "--key",
            &key,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &image,
        ])
        .ok();
        cosign(&[
            "verify-blob",
            "--key",
            &key,
            "--insecure-ignore-tlog",
            "--signature",
            sig.trim(),
            "blob.txt",
        ])
        .ok();
        // sigmirror verifies through KMS and with the exported key, offline.
        let public = format!("{spec}.pub");
        sm_run(
            &dir,
            &env,
            &["public-key", "--key", &key, "--outfile", &public],
        )
        .ok();
        for verifier in [key.as_str(), public.as_str()] {
            sm_run(&dir, &env, &["verify", "--key", verifier, &image]).ok();
            sm_run(
                &dir,
                &env,
                &["verify-attestation", "--key", verifier, &image],
            )
            .ok();
            sm_run(
                &dir,
                &env,
                &[
                    "verify-blob",
                    "--key",
                    verifier,
                    "--signature",
                    sig.trim(),
                    "blob.txt",
                ],
            )
            .ok();
        }
        dir.write("other.txt", "something else\n");
        sm_run(
            &dir,
            &env,
            &[
                "verify-blob",
                "--key",
                &public,
                "--signature",
                sig.trim(),
                "other.txt",
            ],
        )
        .fails_with("signature");
    }
}

#[test]
fn vault_transit_keys_of_every_type_cosign_uses_sign_and_cosign_verifies() {
    let bao = OpenBao::start();
    let env = vault_env(&bao, "root");
    for key_type in ["rsa-2048", "ecdsa-p384", "ecdsa-p521", "ed25519"] {
        let name = key_type.replace('-', "_");
        let (code, body) = bao.api(
            "POST",
            &format!("transit/keys/{name}"),
            Some(&format!(r#"{{"type":"{key_type}"}}"#)),
        );
        assert!(code == 200 || code == 204, "{body}");
        let dir = TestDir::new();
        let key = format!("hashivault://{name}");
        export_public_key(&dir, &env, &key);
        // Transit signs SHA-256 digests (PKCS#1 v1.5 for RSA) and Ed25519 messages, as cosign's
        // Vault signer asks: cosign verifies with the exported public key.
        sign_and_verify_everywhere(&|| sm(&dir, &env), &dir, &key);
    }
}

#[test]
fn gcpkms_keys_are_created_and_sign_through_a_service_account_and_cosign_verifies() {
    // The stand-in is written from Cloud KMS's public REST reference: no emulator of Cloud KMS
    // exists and Google's service is out of reach here (docs/signers.md says so).
    let gcp = GcpKms::start();
    let env = gcp.env("signer");
    let dir = TestDir::new();
    let ring = "projects/acme/locations/global/keyRings/release";
    let key = format!("gcpkms://{ring}/cryptoKeys/cosign");
    // generate-key-pair creates the ring and an EC_SIGN_P256_SHA256 key, as cosign does.
    let out = sm_run(&dir, &env, &["generate-key-pair", "--kms", &key]).ok();
    assert!(
        out.stderr.contains("Public key written to cosign.pub"),
        "{}",
        out.stderr
    );
    assert_eq!(dir.entries(), ["cosign.pub"], "no private key leaves KMS");
    sign_and_verify_everywhere(&|| sm(&dir, &env), &dir, &key);
    // Keys of the other types cosign uses; a reference without a version takes the newest.
    for (id, algorithm, versions) in [
        ("p384", "EC_SIGN_P384_SHA384", 1),
        ("rsa", "RSA_SIGN_PKCS1_3072_SHA256", 2),
    ] {
        gcp.create_key(&format!("{ring}/cryptoKeys/{id}"), algorithm, versions);
        let other = TestDir::new();
        let reference = format!("gcpkms://{ring}/cryptoKeys/{id}");
        export_public_key(&other, &env, &reference);
        let pinned = format!("{reference}/cryptoKeyVersions/{versions}");
        let by_version = sm_run(&other, &env, &["public-key", "--key", &pinned]).ok();
        assert_eq!(
            by_version.stdout,
            other.read("cosign.pub"),
            "newest version"
        );
        if algorithm.starts_with("RSA") {
            sign_and_verify_everywhere(&|| sm(&other, &env), &other, &reference);
        } else {
            // Cloud KMS signs P-384 keys over SHA-384, which cosign checks only through KMS.
            p384_blob_verifies_with_the_exported_key(&other, &env, &reference);
        }
    }
    // A PSS key signs RSASSA-PSS, which cosign checks only through KMS: sigmirror verifies it
    // with the exported key, openssl with PSS padding, and not as PKCS#1 v1.5.
    gcp.create_key(
        &format!("{ring}/cryptoKeys/pss"),
        "RSA_SIGN_PSS_2048_SHA256",
        1,
    );
    let pss = TestDir::new();
    let pss_key = format!("gcpkms://{ring}/cryptoKeys/pss");
    export_public_key(&pss, &env, &pss_key);
    pss.write("blob.txt", "signed with PSS\n");
    sm_run(
        &pss,
        &env,
        &[
            "sign-blob",
            "--key",
            &pss_key,
            "--output-signature",
            "blob.sig",
            "blob.txt",
        ],
    )
    .ok();
    sm_run(
        &pss,
        &env,
        &[
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "blob.sig",
            "blob.txt",
        ],
    )
    .ok();
    pss.write(
        "blob.der",
        sigmirror_cosign::b64::decode_lenient(&pss.read("blob.sig")).unwrap(),
    );
    let openssl = |padding: &[&str]| {
        let mut args = vec![
            "dgst",
            "-sha256",
            "-verify",
            "cosign.pub",
            "-signature",
            "blob.der",
        ];
        args.extend_from_slice(padding);
        args.push("blob.txt");
        run(
            Command::new(sigmirror_tests::tool("openssl"))
                .current_dir(pss.path())
                .args(&args),
            None,
        )
    };
    openssl(&["-sigopt", "rsa_padding_mode:pss"]).ok();
    assert_ne!(openssl(&[]).code, 0, "not a PKCS#1 v1.5 signature");
    // Refused, each by name: a key type cosign does not sign with, a reader that may not sign,
    // credentials Cloud KMS does not know, a key that does not exist, a malformed reference.
    gcp.create_key(
        &format!("{ring}/cryptoKeys/k1"),
        "EC_SIGN_SECP256K1_SHA256",
        1,
    );
    let sign = |env: &[(&str, String)], reference: &str| {
        dir.write("a.txt", "x");
        sm_run(&dir, env, &["sign-blob", "--key", reference, "a.txt"])
    };
    sign(&env, &format!("gcpkms://{ring}/cryptoKeys/k1"))
        .fails_with("unsupported key type EC_SIGN_SECP256K1_SHA256");
    sign(&gcp.env("reader"), &key).fails_with("permission denied by Cloud KMS");
    sign(&env, &format!("gcpkms://{ring}/cryptoKeys/missing")).fails_with("not found");
    sign(&env, "gcpkms://projects/acme/keyRings/x").fails_with("invalid key reference");
    let forged = dir.write("forged.json", {
        let mut account: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&env[1].1).unwrap()).unwrap();
        let other_key = std::fs::read_to_string(gcp.env("reader")[1].1.clone()).unwrap();
        let other: serde_json::Value = serde_json::from_str(&other_key).unwrap();
        account["private_key"] = other["private_key"].clone();
        account.to_string()
    });
    let forged_env = vec![
        env[0].clone(),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            forged.to_string_lossy().into_owned(),
        ),
    ];
    sign(&forged_env, &key).fails_with("refused the service account");
    sign(&env[..1], &key).fails_with("no Google credentials");
}

#[test]
fn azurekms_keys_are_created_and_sign_with_client_credentials_and_cosign_verifies() {
    // The stand-in is written from Key Vault's and Entra ID's public REST references: nothing
    // emulates Key Vault's key operations here and Azure is out of reach (docs/signers.md).
    let azure = AzureKeyVault::start();
    let env = azure.env("signer", "signer-secret");
    let dir = TestDir::new();
    let key = format!("azurekms://{}/cosign", azure.host());
    // generate-key-pair creates an EC P-256 key, as cosign does.
    let out = sm_run(&dir, &env, &["generate-key-pair", "--kms", &key]).ok();
    assert!(
        out.stderr.contains("Public key written to cosign.pub"),
        "{}",
        out.stderr
    );
    assert_eq!(
        dir.entries(),
        ["cosign.pub"],
        "no private key leaves Key Vault"
    );
    sign_and_verify_everywhere(&|| sm(&dir, &env), &dir, &key);
    // The other key types cosign uses: RSA (RS256, which cosign verifies with the exported key)
    // and P-384 (ES384, over SHA-384: sigmirror and openssl check it).
    azure.create_key("rsa", "kty=RSA&size=3072");
    azure.create_key("p384", "kty=EC&crv=P-384");
    let rsa = TestDir::new();
    let rsa_key = format!("azurekms://{}/rsa", azure.host());
    export_public_key(&rsa, &env, &rsa_key);
    sign_and_verify_everywhere(&|| sm(&rsa, &env), &rsa, &rsa_key);
    let p384 = TestDir::new();
    let p384_key = format!("azurekms://{}/p384", azure.host());
    export_public_key(&p384, &env, &p384_key);
    p384_blob_verifies_with_the_exported_key(&p384, &env, &p384_key);
    // Refused, each by name.
    let sign = |env: &[(&str, String)], reference: &str| {
        dir.write("a.txt", "x");
        sm_run(&dir, env, &["sign-blob", "--key", reference, "a.txt"])
    };
    sign(&azure.env("reader", "reader-secret"), &key)
        .fails_with("permission denied by Azure Key Vault");
    sign(&azure.env("signer", "wrong"), &key).fails_with("refused the client signer");
    sign(&env, &format!("azurekms://{}/missing", azure.host())).fails_with("not found");
    sign(&env, "azurekms://only-a-vault").fails_with("invalid key reference");
    sign(&env[..2], &key).fails_with("no Azure credentials");
    // Without the test CA the stand-in's certificate is not trusted: TLS is really checked.
    let untrusted: Vec<_> = env
        .iter()
        .filter(|(k, _)| *k != "SSL_CERT_FILE")
        .cloned()
        .collect();
    sign(&untrusted, &key).fails_with("certificate");
}

/// Signs a blob with the P-384 key `key` of a cloud KMS, which signs over SHA-384 (cosign checks
/// that only through the service): sigmirror verifies it with the exported `cosign.pub` in `dir`,
/// and openssl checks it over SHA-384.
fn p384_blob_verifies_with_the_exported_key(dir: &TestDir, env: &[(&str, String)], key: &str) {
    dir.write("blob.txt", "signed in a cloud KMS\n");
    sm_run(
        dir,
        env,
        &[
            "sign-blob",
            "--key",
            key,
            "--output-signature",
            "blob.sig",
            "blob.txt",
        ],
    )
    .ok();
    sm_run(
        dir,
        env,
        &[
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "blob.sig",
            "blob.txt",
        ],
    )
    .ok();
    let der = sigmirror_cosign::b64::decode_lenient(&dir.read("blob.sig")).unwrap();
    dir.write("blob.der", &der);
    run(
        Command::new(sigmirror_tests::tool("openssl"))
            .current_dir(dir.path())
            .args([
                "dgst",
                "-sha384",
                "-verify",
                "cosign.pub",
                "-signature",
                "blob.der",
                "blob.txt",
            ]),
        None,
    )
    .ok();
    dir.write("other.txt", "not what was signed\n");
    sm_run(
        dir,
        env,
        &[
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "blob.sig",
            "other.txt",
        ],
    )
    .fails_with("signature");
}

/// Writes the public half of `key` to `cosign.pub` in `dir`, where the real cosign and the
/// other judges read it.
fn export_public_key(dir: &TestDir, env: &[(&str, String)], key: &str) {
    sm_run(
        dir,
        env,
        &["public-key", "--key", key, "--outfile", "cosign.pub"],
    )
    .ok();
}
