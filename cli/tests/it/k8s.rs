//! The k8s plugin against `tests/peers/fake_kube_secrets.py`, a stand-in that speaks the
//! Kubernetes Secrets REST API (no real API server can run on these machines; kubectl and the
//! real cosign accept it). Secrets made by sigmirror are used by cosign and the reverse.

use std::process::Command;

use serde_json::Value;
use sigmirror_cosign::b64;
use sigmirror_tests::oci::push_image;
use sigmirror_tests::peers::{FakeKube, sign_and_verify_everywhere, with_env};
use sigmirror_tests::registry::TestRegistry;
use sigmirror_tests::{Run, TestDir, cosign, run};

use crate::sigmirror;

fn sm(dir: &TestDir) -> Command {
    let mut cmd = sigmirror(dir);
    with_env(
        &mut cmd,
        &[("KUBECONFIG", dir.join("kubeconfig").display().to_string())],
    );
    cmd
}

fn sm_run(dir: &TestDir, args: &[&str]) -> Run {
    run(sm(dir).args(args), None)
}

/// A scratch folder with a kubeconfig for `kube` (token auth).
fn setup(kube: &FakeKube) -> TestDir {
    let dir = TestDir::new();
    kube.write_kubeconfig(&dir.join("kubeconfig"), "", "");
    dir
}

fn secret_json(kube: &FakeKube, name: &str, token: Option<&str>) -> Value {
    let (code, body) = kube.get_secret("ci", name, token);
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn secret_created_by_sigmirror_signs_and_cosign_uses_it() {
    let kube = FakeKube::start();
    let dir = setup(&kube);
    let out = sm_run(&dir, &["generate-key-pair", "k8s://ci/release-key"]).ok();
    assert!(
        out.stderr.contains("Public key written to cosign.pub"),
        "{}",
        out.stderr
    );

    // cosign's layout, immutable, password decrypts the key.
    let secret = secret_json(&kube, "release-key", None);
    assert_eq!(secret["immutable"], true, "{secret}");
    let data = secret["data"].as_object().unwrap();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["cosign.key", "cosign.password", "cosign.pub"]);
    let field = |k: &str| b64::decode_lenient(data[k].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(field("cosign.pub"), dir.read("cosign.pub"));
    let key = sigmirror_cosign::keys::PrivateKey::from_encrypted_pem(
        &field("cosign.key"),
        &field("cosign.password"),
    )
    .unwrap();
    assert_eq!(
        key.public_key().to_pem().as_bytes(),
        &dir.read("cosign.pub")[..]
    );

    sign_and_verify_everywhere(&|| sm(&dir), &dir, "k8s://ci/release-key");

    // The real cosign signs with the same secret (it reads KUBECONFIG), and sigmirror verifies.
    let reg = TestRegistry::start();
    let image = format!("{}:v1", reg.image("k8s/app"));
    let digest = push_image(&image, "k8s-cosign");
    run(
        cosign(&dir)
            .env("KUBECONFIG", dir.join("kubeconfig"))
            .args([
                "sign",
                "--key",
                "k8s://ci/release-key",
                "--tlog-upload=false",
                "-y",
                &image,
            ]),
        None,
    )
    .ok();
    let out = sm_run(&dir, &["verify", "--key", "cosign.pub", &image]).ok();
    assert!(out.stdout_text().contains(&digest));
}

#[test]
fn secret_created_by_cosign_signs_with_sigmirror() {
    let kube = FakeKube::start();
    let dir = setup(&kube);
    let out = run(
        cosign(&dir)
            .env("KUBECONFIG", dir.join("kubeconfig"))
            .env("COSIGN_PASSWORD", "cosign-pw")
            .args(["generate-key-pair", "k8s://ci/cosign-made"]),
        None,
    )
    .ok();
    assert!(out.stderr.contains("cosign-made"), "{}", out.stderr);

    let reg = TestRegistry::start();
    let image = format!("{}:v1", reg.image("k8s/app"));
    let digest = push_image(&image, "k8s-reverse");
    sm_run(&dir, &["sign", "--key", "k8s://ci/cosign-made", &image]).ok();
    // cosign verifies with the public key from the secret, and with the file it wrote.
    for key in ["k8s://ci/cosign-made", "cosign.pub"] {
        let out = run(
            cosign(&dir)
                .env("KUBECONFIG", dir.join("kubeconfig"))
                .args([
                    "verify",
                    "--key",
                    key,
                    "--insecure-ignore-tlog",
                    "--allow-http-registry",
                    &image,
                ]),
            None,
        )
        .ok();
        assert!(out.stdout_text().contains(&digest), "{key}");
    }
    let out = sm_run(&dir, &["verify", "--key", "k8s://ci/cosign-made", &image]).ok();
    assert!(out.stdout_text().contains(&digest));
}

#[test]
fn tls_client_certificates_tokens_and_permissions() {
    let certs = TestDir::new();
    sigmirror_tests::tls::make_certs(certs.path());
    let path = |name: &str| certs.join(name).display().to_string();
    let kube = FakeKube::start_with(
        &[
            "--token",
            "admin-token",
            "--readonly-token",
            "reader-token",
            "--tls-cert",
            &path("server.crt"),
            "--tls-key",
            &path("server.key"),
            "--client-ca",
            &path("ca.crt"),
        ],
        true,
    );
    let dir = TestDir::new();
    let config = dir.join("kubeconfig");
    let data = |name: &str| b64::encode(&certs.read(name));
    let ca = format!("certificate-authority-data: {}", data("ca.crt"));

    // Client certificate (inline data) + CA data: creates the secret.
    kube.write_kubeconfig(
        &config,
        &format!(
            "client-certificate-data: {}\nclient-key-data: {}",
            data("client.crt"),
            data("client.key")
        ),
        &ca,
    );
    sm_run(&dir, &["generate-key-pair", "k8s://ci/tls-key"]).ok();
    assert_eq!(
        secret_json(&kube, "tls-key", Some("reader-token"))["immutable"],
        true
    );

    // Client certificate from files relative to the kubeconfig.
    std::fs::copy(certs.join("client.crt"), dir.join("client.crt")).unwrap();
    std::fs::copy(certs.join("client.key"), dir.join("client.key")).unwrap();
    kube.write_kubeconfig(
        &config,
        "client-certificate: client.crt\nclient-key: client.key",
        &ca,
    );
    sm_run(&dir, &["public-key", "--key", "k8s://ci/tls-key"]).ok();

    // A read-only token signs and verifies, but may not create.
    kube.write_kubeconfig(&config, "token: reader-token", &ca);
    sign_and_verify_everywhere(&|| sm(&dir), &dir, "k8s://ci/tls-key");
    sm_run(&dir, &["generate-key-pair", "k8s://ci/other", "-y"])
        .fails_with("permission denied to create secret ci/other")
        .fails_with("cannot create resource \"secrets\"");

    // A token file, and insecure-skip-tls-verify instead of the CA.
    dir.write("token", "reader-token\n");
    kube.write_kubeconfig(
        &config,
        "tokenFile: token",
        "insecure-skip-tls-verify: true",
    );
    sm_run(&dir, &["public-key", "--key", "k8s://ci/tls-key"]).ok();

    // A wrong token, and a server certificate nobody vouches for.
    kube.write_kubeconfig(&config, "token: wrong", &ca);
    sm_run(&dir, &["public-key", "--key", "k8s://ci/tls-key"])
        .fails_with("rejected the credentials")
        .fails_with("401");
    kube.write_kubeconfig(&config, "token: reader-token", "");
    sm_run(&dir, &["public-key", "--key", "k8s://ci/tls-key"])
        .fails_with("cannot reach the Kubernetes API")
        .fails_with("certificate");
}

#[test]
fn exec_credential_plugin_supplies_the_token() {
    let kube = FakeKube::start_with(&["--token", "exec-token"], false);
    let dir = TestDir::new();
    let script = dir.write(
        "get-token.sh",
        "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\
         \"status\":{\"token\":\"exec-token\"}}'\n",
    );
    run(Command::new("chmod").arg("+x").arg(&script), None).ok();
    kube.write_kubeconfig(
        &dir.join("kubeconfig"),
        &format!(
            "exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: {}\n",
            script.display()
        ),
        "",
    );
    sm_run(&dir, &["generate-key-pair", "k8s://ci/exec-key"]).ok();
    dir.write("a.txt", b"x");
    sm_run(&dir, &["sign-blob", "--key", "k8s://ci/exec-key", "a.txt"]).ok();
}

#[test]
fn k8s_failures_are_clear() {
    let mut kube = FakeKube::start();
    let dir = setup(&kube);
    dir.write("a.txt", b"x");
    let sign = |key: &str| sm_run(&dir, &["sign-blob", "--key", key, "a.txt"]);

    sm_run(&dir, &["generate-key-pair", "k8s://ci/release-key"]).ok();
    sign("k8s://ci/missing").fails_with("key not found: secret ci/missing does not exist");
    sm_run(&dir, &["generate-key-pair", "k8s://ci/release-key", "-y"])
        .fails_with("already exists; sigmirror never replaces a key");
    sign("k8s://ci").fails_with("expected k8s://NAMESPACE/NAME");
    sign("k8s://ci/a/b").fails_with("expected k8s://NAMESPACE/NAME");

    // A secret that is not a cosign key.
    let (code, body) = sigmirror_tests::peers::curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"metadata":{"name":"plain"},"data":{"x":"eA=="}}"#,
        &format!("{}/api/v1/namespaces/ci/secrets", kube.url()),
    ]);
    assert_eq!(code, 201, "{body}");
    sign("k8s://ci/plain").fails_with("not a cosign key secret");

    // No configuration at all.
    let bare = TestDir::new();
    bare.write("a.txt", b"x");
    run(
        sigmirror(&bare)
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .args(["sign-blob", "--key", "k8s://ci/release-key", "a.txt"]),
        None,
    )
    .fails_with("no Kubernetes configuration");
    let missing = bare.join("nope.yaml").display().to_string();
    run(
        sigmirror(&bare).env("KUBECONFIG", &missing).args([
            "sign-blob",
            "--key",
            "k8s://ci/release-key",
            "a.txt",
        ]),
        None,
    )
    .fails_with("no kubeconfig file found");

    // Server down.
    kube.server.stop();
    sign("k8s://ci/release-key").fails_with("cannot reach the Kubernetes API");
}

/// With `COSIGN_PASSWORD` set, the secret's key is encrypted with it and it is stored as the
/// secret's password, as cosign does (issue: "A true drop-in for cosign", item 8); without it,
/// the password is random.
#[test]
fn generate_key_pair_stores_cosign_password_when_set() {
    let kube = FakeKube::start();
    let dir = setup(&kube);
    run(
        sm(&dir)
            .env("COSIGN_PASSWORD", "chosen password")
            .args(["generate-key-pair", "k8s://ci/chosen"]),
        None,
    )
    .ok();
    let secret = secret_json(&kube, "chosen", None);
    let field =
        |k: &str| b64::decode_lenient(secret["data"][k].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(field("cosign.password"), b"chosen password");
    sigmirror_cosign::keys::PrivateKey::from_encrypted_pem(
        &field("cosign.key"),
        b"chosen password",
    )
    .unwrap();
    sm_run(&dir, &["generate-key-pair", "k8s://ci/random", "-y"]).ok();
    let secret = secret_json(&kube, "random", None);
    let password = b64::decode_lenient(
        secret["data"]["cosign.password"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(password.len(), 32);
    assert_ne!(password, b"chosen password");
}
