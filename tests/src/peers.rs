//! Real servers for the signer-plugin tests, each on a free loopback port and killed when
//! dropped: moto (the AWS KMS API, through `tests/peers/moto_server_digestfix.py`), an OpenBao dev
//! server (Vault transit), a SoftHSM2 token in a scratch folder, and the Kubernetes Secrets
//! stand-in `tests/peers/fake_kube_secrets.py` (no real API server can run on these machines).
//!
//! A missing tool fails the test loudly with the setup hint; nothing is skipped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Run, TestDir, run, tool};

/// The test virtualenv with moto, boto3 and `bao`.
const VENV_BIN: &str = "/opt/sigmirror-test-venv/bin";
/// The SoftHSM2 PKCS#11 module (Debian `softhsm2`).
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// `tests/peers/NAME`: the stand-in servers beside the helpers that start them.
pub fn script(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn venv_tool(name: &str) -> PathBuf {
    let path = Path::new(VENV_BIN).join(name);
    assert!(
        path.is_file(),
        "{} is not installed: run `sudo scripts/ci/setup-test-deps.sh` first",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A child process that serves on a port; killed when dropped.
pub struct Server {
    child: Child,
    port: u16,
    /// Scratch folder of the server (its HOME, logs); removed after the kill.
    pub dir: TestDir,
}

impl Server {
    /// Starts `make(port, dir)` on a free port and waits until `ready(port)`; retries on a
    /// port clash. `what` names the server in failures (its log is shown).
    fn start(
        what: &str,
        make: impl Fn(u16, &TestDir) -> Command,
        ready: impl Fn(u16) -> bool,
    ) -> Server {
        // Tests in one process start servers in parallel: hold a lock from choosing a port until
        // the server listens on it.
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let dir = TestDir::new();
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.join("server.log")).expect("server log");
            let mut child = make(port, &dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut exited = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() && ready(port) {
                    return Server { child, port, dir };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            if !exited {
                break;
            }
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        panic!("{what} did not start; its log:\n{log}");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it now ("server down" tests).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Server {
    /// Python's static file server on `dir` (loopback only), for a TUF repository.
    pub fn static_files(dir: &Path) -> Server {
        let dir = dir.to_path_buf();
        Server::start(
            "a static file server",
            move |port, _| {
                let mut cmd = Command::new("python3");
                cmd.args(["-m", "http.server", "--bind", "127.0.0.1"])
                    .arg(port.to_string())
                    .arg("--directory")
                    .arg(&dir);
                cmd
            },
            |_| true,
        )
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `curl` with `args`; returns (HTTP status, body). Used to set servers up.
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = run(
        Command::new(tool("curl"))
            .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
            .args(args),
        None,
    );
    let text = out.stdout_text();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// A header line, `(name, value)`.
pub type Header = (String, String);

/// `curl URL` with `extra` options; returns the HTTP status, the response headers (of the
/// last response, names as sent) and the body bytes. For comparing servers.
pub fn curl_headers(url: &str, extra: &[&str]) -> (u16, Vec<Header>, Vec<u8>) {
    let dir = crate::TestDir::new();
    let headers_file = dir.join("headers");
    let body_file = dir.join("body");
    let out = run(
        Command::new(tool("curl"))
            .arg("-s")
            .arg("-D")
            .arg(&headers_file)
            .arg("-o")
            .arg(&body_file)
            .args(extra)
            .arg(url),
        None,
    );
    assert!(
        out.code == 0 || out.code == 18,
        "curl {url}: exit {} {}",
        out.code,
        out.stderr
    );
    let text = std::fs::read_to_string(&headers_file).unwrap_or_default();
    // After redirects or `100 Continue`, the last block is the answer.
    let block = text
        .trim_end()
        .rsplit("\r\n\r\n")
        .next()
        .unwrap_or_default();
    let mut lines = block.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (
        status,
        headers,
        std::fs::read(&body_file).unwrap_or_default(),
    )
}

/// The stand-in for Google Cloud KMS (`tests/peers/gcp_kms_standin.py`, written from the public
/// REST reference: no emulator exists), with two service-account key files: one that may sign
/// and create, one that may only read.
pub struct GcpKms {
    /// The server process.
    pub server: Server,
}

impl GcpKms {
    /// Starts the stand-in on a free port.
    pub fn start() -> GcpKms {
        let python = venv_tool("python");
        let script = script("gcp_kms_standin.py");
        let server = Server::start(
            "gcp_kms_standin.py",
            |port, dir| {
                let mut cmd = Command::new(&python);
                cmd.arg(&script)
                    .arg(port.to_string())
                    .arg(dir.join("signer.json"))
                    .arg(dir.join("reader.json"));
                cmd
            },
            // Any HTTP answer (401 without a token) means it listens.
            |port| curl(&[&format!("http://127.0.0.1:{port}/v1/")]).0 != 0,
        );
        GcpKms { server }
    }

    /// The environment Google's tools read: the API endpoint (gcloud's override) and the
    /// service-account key file of `account` (`signer` or `reader`).
    pub fn env(&self, account: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS",
                format!("http://127.0.0.1:{}/", self.server.port()),
            ),
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                self.server
                    .dir
                    .join(format!("{account}.json"))
                    .to_string_lossy()
                    .into_owned(),
            ),
        ]
    }

    /// Creates a key `name` (a full `projects/…/cryptoKeys/K` name) with Cloud KMS algorithm
    /// `algorithm`, through the stand-in's test door; with `versions` > 1, adds versions.
    pub fn create_key(&self, name: &str, algorithm: &str, versions: usize) {
        let base = format!("http://127.0.0.1:{}", self.server.port());
        let (code, body) = curl(&[
            "-X",
            "POST",
            &format!("{base}/admin/keys?name={name}&algorithm={algorithm}"),
        ]);
        assert_eq!(code, 200, "{body}");
        for _ in 1..versions {
            curl(&["-X", "POST", &format!("{base}/admin/versions?key={name}")]);
        }
    }
}

/// The stand-in for Azure Key Vault and Entra ID's token endpoint
/// (`tests/peers/azure_kv_standin.py`, written from the public REST references), over HTTPS with
/// a test CA; clients `signer` (may sign and create) and `reader` (may read keys).
pub struct AzureKeyVault {
    /// The server process.
    pub server: Server,
}

impl AzureKeyVault {
    /// Starts the stand-in on a free port, with certificates made in its folder.
    pub fn start() -> AzureKeyVault {
        let python = venv_tool("python");
        let script = script("azure_kv_standin.py");
        let server = Server::start(
            "azure_kv_standin.py",
            |port, dir| {
                crate::tls::make_certs(dir.path());
                let mut cmd = Command::new(&python);
                cmd.arg(&script)
                    .arg(port.to_string())
                    .arg(dir.join("server.crt"))
                    .arg(dir.join("server.key"));
                cmd
            },
            |port| curl(&["-k", &format!("https://127.0.0.1:{port}/keys/x")]).0 != 0,
        );
        AzureKeyVault { server }
    }

    /// `127.0.0.1:PORT`, the vault's host in `azurekms://HOST/KEY`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// The environment Azure's tools read for `client` (`signer` or `reader`) and `secret`,
    /// with the authority host set to the stand-in and `SSL_CERT_FILE` trusting its CA.
    pub fn env(&self, client: &str, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_TENANT_ID", "tenant".into()),
            ("AZURE_CLIENT_ID", client.into()),
            ("AZURE_CLIENT_SECRET", secret.into()),
            ("AZURE_AUTHORITY_HOST", format!("https://{}/", self.host())),
            (
                "SSL_CERT_FILE",
                self.server
                    .dir
                    .join("ca.crt")
                    .to_string_lossy()
                    .into_owned(),
            ),
        ]
    }

    /// Creates key `name` through the stand-in's test door: `kty=EC&crv=P-384`, `kty=RSA&size=3072`.
    pub fn create_key(&self, name: &str, spec: &str) {
        let (code, body) = curl(&[
            "-k",
            "-X",
            "POST",
            &format!("https://{}/admin/keys?name={name}&{spec}", self.host()),
        ]);
        assert_eq!(code, 200, "{body}");
    }
}

/// The AWS KMS API served by moto, with the MessageType=DIGEST fix.
pub struct Moto {
    /// The server process.
    pub server: Server,
}

impl Moto {
    /// Starts `tests/peers/moto_server_digestfix.py` on a free port.
    pub fn start() -> Moto {
        let python = venv_tool("python");
        let script = script("moto_server_digestfix.py");
        let server = Server::start(
            "moto",
            |port, dir| {
                let mut cmd = Command::new(&python);
                cmd.arg(&script)
                    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .env("HOME", dir.path());
                cmd
            },
            |port| curl(&[&format!("http://127.0.0.1:{port}/moto-api/")]).0 == 200,
        );
        Moto { server }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// The environment the AWS tools read: endpoint, region, (moto's default) credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
    }

    /// Runs a Python snippet with boto3 against this server (`kms = boto3.client("kms")` and
    /// `iam = boto3.client("iam")` are predefined); returns its output, failing on error.
    pub fn boto3(&self, code: &str) -> String {
        let program = format!(
            "import boto3, json\nkms = boto3.client('kms')\niam = boto3.client('iam')\n{code}\n"
        );
        let mut cmd = Command::new(venv_tool("python"));
        cmd.arg("-c")
            .arg(program)
            .env("HOME", self.server.dir.path());
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        run(&mut cmd, None).ok().stdout_text()
    }

    /// From now on moto checks SigV4 signatures against its IAM users and their policies
    /// (moto's `reset-auth` switch; it applies to the whole server).
    pub fn enforce_iam(&self) {
        let (code, body) = curl(&[
            "-X",
            "POST",
            // moto reads the raw body; a form content type would hide it.
            "-H",
            "Content-Type: text/plain",
            "--data",
            "0",
            &format!("{}/moto-api/reset-auth", self.endpoint()),
        ]);
        assert_eq!(code, 200, "moto reset-auth: {body}");
    }
}

/// An OpenBao dev server (Vault's API) with the transit engine mounted at `transit/`.
pub struct OpenBao {
    /// The server process.
    pub server: Server,
}

/// The root token of the dev server.
pub const BAO_ROOT_TOKEN: &str = "root";

impl OpenBao {
    /// Starts `bao server -dev` on a free port and enables transit.
    pub fn start() -> OpenBao {
        let bao = venv_tool("bao");
        let server = Server::start(
            "bao server -dev",
            |port, dir| {
                let mut cmd = Command::new(&bao);
                cmd.args([
                    "server",
                    "-dev",
                    &format!("-dev-root-token-id={BAO_ROOT_TOKEN}"),
                    &format!("-dev-listen-address=127.0.0.1:{port}"),
                ])
                // The dev server writes ~/.vault-token: keep it in the scratch folder.
                .env("HOME", dir.path())
                .env_remove("VAULT_ADDR")
                .env_remove("BAO_ADDR");
                cmd
            },
            |port| curl(&[&format!("http://127.0.0.1:{port}/v1/sys/health")]).0 == 200,
        );
        let bao = OpenBao { server };
        let (code, body) = bao.api("POST", "sys/mounts/transit", Some(r#"{"type":"transit"}"#));
        assert!(code == 204 || code == 200, "enable transit: {code} {body}");
        bao
    }

    /// `http://127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// Calls `/v1/PATH` with the root token; returns (status, body).
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let url = format!("{}/v1/{path}", self.addr());
        let token = format!("X-Vault-Token: {BAO_ROOT_TOKEN}");
        let mut args = vec!["-X", method, "-H", &token];
        if let Some(body) = body {
            args.extend(["-H", "Content-Type: application/json", "--data", body]);
        }
        args.push(&url);
        curl(&args)
    }

    /// Creates a token limited to `policy` (HCL, stored under the name `limited`).
    pub fn limited_token(&self, policy: &str) -> String {
        let body = serde_json_string(policy);
        let (code, text) = self.api(
            "PUT",
            "sys/policies/acl/limited",
            Some(&format!(r#"{{"policy":{body}}}"#)),
        );
        assert!(code == 204 || code == 200, "policy: {code} {text}");
        let (code, text) = self.api(
            "POST",
            "auth/token/create",
            Some(r#"{"policies":["limited"],"no_default_policy":true}"#),
        );
        assert_eq!(code, 200, "token: {text}");
        let start = text.find("\"client_token\":\"").expect("client_token") + 16;
        text[start..start + text[start..].find('"').expect("end")].to_owned()
    }
}

/// `s` as a JSON string literal (quotes and escapes), without a JSON crate here.
fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A SoftHSM2 token in its own scratch folder (`SOFTHSM2_CONF` points at it).
pub struct SoftHsm {
    dir: TestDir,
    /// Slot id the initialized token was assigned to.
    pub slot_id: u64,
}

/// Label, user PIN and SO PIN of the token [`SoftHsm::new`] initializes.
pub const TOKEN_LABEL: &str = "ci";
/// The user PIN.
pub const TOKEN_PIN: &str = "1234";

impl SoftHsm {
    /// Initializes token `ci` with PIN 1234 in a fresh token folder.
    pub fn new() -> SoftHsm {
        assert!(
            Path::new(SOFTHSM_MODULE).is_file(),
            "{SOFTHSM_MODULE} is missing: run `sudo scripts/ci/setup-test-deps.sh` first"
        );
        let dir = TestDir::new();
        std::fs::create_dir(dir.join("tokens")).expect("token folder");
        dir.write(
            "softhsm2.conf",
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
                 slots.removable = false\n",
                dir.join("tokens").display()
            ),
        );
        let hsm = SoftHsm { dir, slot_id: 0 };
        let out = run(
            hsm.command(tool("softhsm2-util")).args([
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--pin",
                TOKEN_PIN,
                "--so-pin",
                "5678",
            ]),
            None,
        )
        .ok();
        let text = out.stdout_text();
        let slot_id = text
            .rsplit("to slot ")
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no slot in softhsm2-util output: {text}"));
        SoftHsm { slot_id, ..hsm }
    }

    /// The `softhsm2.conf` path.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// `program` with `SOFTHSM2_CONF` set to this token's configuration.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SOFTHSM2_CONF", self.conf());
        cmd
    }

    /// `pkcs11-tool` on this token, logged in with the PIN.
    pub fn pkcs11_tool(&self, args: &[&str]) -> Run {
        run(
            self.command(tool("pkcs11-tool"))
                .args(["--module", SOFTHSM_MODULE, "--token-label", TOKEN_LABEL])
                .args(["--login", "--pin", TOKEN_PIN])
                .args(args),
            None,
        )
    }
}

impl Default for SoftHsm {
    fn default() -> Self {
        Self::new()
    }
}

/// The Kubernetes Secrets stand-in (`tests/peers/fake_kube_secrets.py`).
pub struct FakeKube {
    /// The server process.
    pub server: Server,
    scheme: &'static str,
}

impl FakeKube {
    /// Starts it over plain HTTP without authentication.
    pub fn start() -> FakeKube {
        Self::start_with(&[], false)
    }

    /// Starts it with extra arguments (`--token`, `--tls-cert` …); `tls` says whether it
    /// serves HTTPS.
    pub fn start_with(args: &[&str], tls: bool) -> FakeKube {
        let script = script("fake_kube_secrets.py");
        let python = tool("python3");
        let scheme = if tls { "https" } else { "http" };
        let server = Server::start(
            "fake_kube_secrets.py",
            |port, _| {
                let mut cmd = Command::new(&python);
                cmd.arg(&script).arg(port.to_string()).args(args);
                cmd
            },
            |port| {
                let url = format!("{scheme}://127.0.0.1:{port}/version");
                // Any HTTP answer (even 401) means it listens.
                curl(&["-k", &url]).0 != 0
            },
        );
        FakeKube { server, scheme }
    }

    /// `http(s)://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.server.port())
    }

    /// Writes a kubeconfig for it to `path`; `user` is the YAML body of the user entry
    /// (e.g. `token: abc`) and `cluster_extra` extra cluster fields (e.g. CA data).
    pub fn write_kubeconfig(&self, path: &Path, user: &str, cluster_extra: &str) {
        let indent = |text: &str| {
            text.lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        };
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n{}\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    \
             namespace: default\ncurrent-context: fake\nusers:\n- name: fake\n  user:\n{}",
            self.url(),
            indent(cluster_extra),
            if user.is_empty() {
                "    token: fake-token\n".to_owned()
            } else {
                indent(user)
            }
        );
        std::fs::write(path, config).expect("write kubeconfig");
    }

    /// GETs a secret (with `token` if the server wants one); returns (status, body).
    pub fn get_secret(&self, namespace: &str, name: &str, token: Option<&str>) -> (u16, String) {
        let url = format!(
            "{}/api/v1/namespaces/{namespace}/secrets/{name}",
            self.url()
        );
        let auth = token.map(|t| format!("Authorization: Bearer {t}"));
        let mut args = vec!["-k"];
        if let Some(auth) = &auth {
            args.extend(["-H", auth.as_str()]);
        }
        args.push(&url);
        curl(&args)
    }
}

/// Environment variables the signer plugins read; cleared before a test sets its own, so the
/// developer's cloud or cluster settings never leak into a test.
pub const PLUGIN_ENV: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "VAULT_CACERT",
    "VAULT_SKIP_VERIFY",
    "BAO_ADDR",
    "BAO_TOKEN",
    "TRANSIT_SECRET_ENGINE_PATH",
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "COSIGN_PKCS11_MODULE_PATH",
    "COSIGN_PKCS11_PIN",
    "SOFTHSM2_CONF",
];

/// `cmd` with [`PLUGIN_ENV`] cleared and `env` set.
pub fn with_env<'a>(cmd: &'a mut Command, env: &[(&str, String)]) -> &'a mut Command {
    for name in PLUGIN_ENV {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The end-to-end check every signer backend must pass. `sm` makes a `sigmirror` command
/// (working folder `dir`, backend environment set) and `cosign_env` is the environment the real
/// cosign needs for the same key (or none). With `key_ref`'s public key already exported to
/// `dir/cosign.pub`:
/// 1. `sigmirror sign --key KEY_REF` an image in a fresh registry;
/// 2. the real `cosign verify --key cosign.pub --insecure-ignore-tlog` accepts it, and so does
///    `sigmirror verify --key KEY_REF` (public half fetched through the plugin); the same for
///    an attestation (`attest`, `cosign verify-attestation`, `sigmirror verify-attestation`);
/// 3. `sigmirror sign-blob --key KEY_REF` is accepted by `cosign verify-blob --key cosign.pub`;
/// 4. `sigmirror public-key --key KEY_REF` prints exactly cosign.pub.
pub fn sign_and_verify_everywhere(sm: &dyn Fn() -> Command, dir: &TestDir, key_ref: &str) {
    let registry = crate::registry::TestRegistry::start();
    let image = format!("{}:v1", registry.image("signers/app"));
    let digest = crate::oci::push_image(&image, key_ref);
    run(
        sm().args(["sign", "--key", key_ref, "-a", "backend=test", &image]),
        None,
    )
    .ok();
    let out = run(
        crate::cosign(dir).args([
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "-a",
            "backend=test",
            &image,
        ]),
        None,
    )
    .ok();
    assert!(out.stdout_text().contains(&digest), "{}", out.stdout_text());
    let out = run(sm().args(["verify", "--key", key_ref, &image]), None).ok();
    assert!(out.stdout_text().contains(&digest), "{}", out.stdout_text());

    // Attestations go through the same signer.
    dir.write("predicate.json", br#"{"builder":"plugin-test"}"#);
    run(
        sm().args([
            "attest",
            "--key",
            key_ref,
            "--predicate",
            "predicate.json",
            "--type",
            "custom",
            &image,
        ]),
        None,
    )
    .ok();
    run(
        crate::cosign(dir).args([
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "custom",
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &image,
        ]),
        None,
    )
    .ok();
    run(
        sm().args([
            "verify-attestation",
            "--key",
            key_ref,
            "--type",
            "custom",
            &image,
        ]),
        None,
    )
    .ok();

    dir.write("artifact.txt", b"signed by a plugin backend\n");
    let out = run(
        sm().args([
            "sign-blob",
            "--key",
            key_ref,
            "--output-signature",
            "artifact.sig",
            "artifact.txt",
        ]),
        None,
    )
    .ok();
    assert!(out.stdout.is_empty());
    run(
        crate::cosign(dir).args([
            "verify-blob",
            "--key",
            "cosign.pub",
            "--signature",
            "artifact.sig",
            "--insecure-ignore-tlog",
            "artifact.txt",
        ]),
        None,
    )
    .ok();
    let out = run(sm().args(["public-key", "--key", key_ref]), None).ok();
    assert_eq!(
        out.stdout,
        dir.read("cosign.pub"),
        "public-key prints cosign.pub"
    );
}

/// A static HTTPS file server (Python's `http.server` behind TLS), standing in for the object
/// storage a registry redirects blob downloads to. It logs every request to its log.
pub struct HttpsFiles {
    /// The server process.
    pub server: Server,
}

const HTTPS_FILES: &str = r#"
import functools, http.server, ssl, sys
port, root, cert, key = sys.argv[1:5]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

impl HttpsFiles {
    /// Serves the files under `root` over HTTPS with `cert`/`key` (for 127.0.0.1).
    pub fn start(root: &Path, cert: &Path, key: &Path) -> HttpsFiles {
        let python = tool("python3");
        let server = Server::start(
            "HTTPS file server",
            |port, _| {
                let mut cmd = Command::new(&python);
                cmd.args(["-c", HTTPS_FILES, &port.to_string()])
                    .arg(root)
                    .arg(cert)
                    .arg(key);
                cmd
            },
            |port| curl(&["-k", &format!("https://127.0.0.1:{port}/")]).0 != 0,
        );
        HttpsFiles { server }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.port())
    }

    /// What it logged so far (one line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.server.dir.join("server.log")).unwrap_or_default()
    }
}

/// A registry with the OCI 1.1 referrers API: `peers/referrers_registry.py` in front of a real
/// registry (no registry that has the API installs here; the Debian one has none).
pub struct ReferrersRegistry {
    server: Server,
    /// The real registry behind it.
    pub upstream: crate::registry::TestRegistry,
}

impl ReferrersRegistry {
    /// Starts the real registry and the proxy in front of it.
    pub fn start() -> Self {
        let upstream = crate::registry::TestRegistry::start();
        let target = upstream.addr().to_owned();
        let server = Server::start(
            "the referrers registry",
            move |port, _| {
                let mut cmd = Command::new("python3");
                cmd.arg(script("referrers_registry.py"))
                    .arg(port.to_string())
                    .arg(&target);
                cmd
            },
            |port| curl(&[&format!("http://127.0.0.1:{port}/v2/")]).0 == 200,
        );
        ReferrersRegistry { server, upstream }
    }

    /// `127.0.0.1:PORT/<repo>` through the proxy.
    pub fn image(&self, repo: &str) -> String {
        format!("127.0.0.1:{}/{repo}", self.server.port())
    }
}

/// A containerd daemon of its own (root, state and socket in a scratch folder; the CRI plugin
/// off), for `ctr` to pull with. Killed when dropped.
pub struct Containerd {
    child: std::process::Child,
    dir: crate::TestDir,
}

impl Containerd {
    /// Starts it and waits for its socket.
    pub fn start() -> Containerd {
        let dir = crate::TestDir::new();
        let config = format!(
            "version = 2\nroot = \"{root}/root\"\nstate = \"{root}/state\"\n\
             [grpc]\n  address = \"{root}/containerd.sock\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n  disable = true\n",
            root = dir.path().display()
        );
        let config_path = dir.write("config.toml", config);
        let log = std::fs::File::create(dir.join("log")).expect("containerd log");
        let child = Command::new(tool("containerd"))
            .arg("--config")
            .arg(&config_path)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let c = Containerd { child, dir };
        let started = std::time::Instant::now();
        while !c.socket().exists() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "containerd did not start: {}",
                std::fs::read_to_string(c.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        c
    }

    /// Its socket.
    pub fn socket(&self) -> std::path::PathBuf {
        self.dir.join("containerd.sock")
    }

    /// `ctr` against it, with `args`.
    pub fn ctr(&self, args: &[&str]) -> crate::Run {
        run(
            Command::new(tool("ctr"))
                .arg("--address")
                .arg(self.socket())
                .args(args),
            None,
        )
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
