//! Helpers for sigmirror's end-to-end tests: a scratch folder per test, the plugin folder built
//! by `cargo test`, and runners for `sigmirror` and the real third-party tools (cosign, openssl)
//! that prove interoperability.
//!
//! Tests that need a tool fail loudly when it is missing: `scripts/ci/setup-test-deps.sh` installs
//! every one of them. Nothing here skips silently.

pub mod fake_registry;
pub mod mounts;
pub mod oci;
pub mod peers;
pub use peers::curl_headers;
pub mod private_sigstore;
pub mod registry;
pub mod tls;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The folder that holds this test binary, where `cargo test` also puts the cdylib plugin
/// crates listed as dev-dependencies (`libsigmirror_signer_*.so`).
pub fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("test binary folder").to_path_buf()
}

/// The path of a plugin library built for the tests, e.g. `plugin_path("file")`.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!(
        "{}sigmirror_signer_{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        path.is_file(),
        "{} is missing: list the plugin crate as a dev-dependency of this test crate",
        path.display()
    );
    path
}

/// A scratch folder, removed when dropped.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A new empty folder.
    pub fn new() -> Self {
        TestDir {
            dir: tempfile::Builder::new()
                .prefix("sigmirror-test-")
                .tempdir()
                .expect("tempdir"),
        }
    }
    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// The path of `name` inside it.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Writes `name`, returning its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }
    /// Reads `name`.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }
    /// Names of the entries in the folder, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome of a command, with its output as text for assertions.
#[derive(Debug)]
pub struct Run {
    /// Exit status code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error, as text.
    pub stderr: String,
}

impl Run {
    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts success and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code,
            0,
            "command failed\nstderr: {}\nstdout: {}",
            self.stderr,
            self.stdout_text()
        );
        self
    }

    /// Asserts failure with a one-line `Error:` message containing `needle` (case-insensitive);
    /// returns self.
    #[track_caller]
    pub fn fails_with(self, needle: &str) -> Self {
        assert_ne!(
            self.code, 0,
            "command should have failed\nstderr: {}",
            self.stderr
        );
        let lower = self.stderr.to_lowercase();
        assert!(
            lower.contains(&needle.to_lowercase()),
            "stderr should mention {needle:?}, got:\n{}",
            self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `cmd` with `stdin` as its standard input (empty when `None`: never the terminal).
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Run {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let input = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for command");
    writer.join().expect("stdin writer");
    out.into()
}

/// Finds a third-party tool on `PATH` (or in the test venv), failing loudly if it is missing.
pub fn tool(name: &str) -> PathBuf {
    let venv = Path::new("/opt/sigmirror-test-venv/bin");
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain(std::iter::once(venv.to_path_buf()))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: run `sudo scripts/ci/setup-test-deps.sh` first")
        })
}

/// A `Command` for the real cosign binary, with no password in its environment.
pub fn cosign(dir: &TestDir) -> Command {
    let mut cmd = Command::new(tool("cosign"));
    cmd.current_dir(dir.path())
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SIGMIRROR_REGISTRY_PASSWORD")
        .env("HOME", dir.path());
    cmd
}

/// A `Command` for the `sigmirror` binary at `bin`, isolated in `dir`: its working folder, its
/// `HOME` (so no user data dir leaks in), plugins from [`plugin_dir`], no password set.
pub fn sigmirror(bin: impl AsRef<OsStr>, dir: &TestDir) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir.path())
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SIGMIRROR_REGISTRY_PASSWORD")
        .env_remove("XDG_DATA_HOME")
        .env("HOME", dir.path())
        .env("SIGMIRROR_PLUGIN_PATH", plugin_dir());
    cmd
}

/// GETs `url` with curl; panics on HTTP errors.
pub fn http_get(url: &str) -> Vec<u8> {
    run(
        Command::new(tool("curl")).args([
            "-fsS",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            url,
        ]),
        None,
    )
    .ok()
    .stdout
}

/// PUTs `body` to `url` with curl as `content_type`; panics on HTTP errors.
pub fn http_put(url: &str, content_type: &str, body: &[u8]) {
    run(
        Command::new(tool("curl")).args([
            "-fsS",
            "-X",
            "PUT",
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
            "@-",
            url,
        ]),
        Some(body),
    )
    .ok();
}

/// The Python of the test venv (moto, securesystemslib, in-toto), failing loudly if missing.
pub fn venv_python() -> PathBuf {
    let python = Path::new("/opt/sigmirror-test-venv/bin/python");
    assert!(
        python.is_file(),
        "the test venv is missing: run `sudo scripts/ci/setup-test-deps.sh` first"
    );
    python.to_path_buf()
}
