//! A real OCI registry per test: the CNCF distribution binary (Debian `docker-registry`) on a
//! free loopback port, with its own storage folder, killed when dropped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TestDir, tool};

/// A running registry.
pub struct TestRegistry {
    child: Child,
    addr: String,
    dir: TestDir,
    logs_requests: bool,
    /// Access log lines already seen by [`TestRegistry::clear_requests`].
    seen_requests: std::sync::Mutex<usize>,
}

/// Login of a registry started with [`TestRegistry::start_with_login`].
pub const USER: &str = "tester";
/// Password of that login.
pub const PASSWORD: &str = "s3cret-registry";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl TestRegistry {
    /// Starts an anonymous registry that allows deletes.
    pub fn start() -> Self {
        Self::start_inner(false, None, "", false)
    }

    /// Starts an anonymous registry that writes an access log, read by [`Self::requests`]:
    /// for tests that count what a client asks.
    pub fn start_logging_requests() -> Self {
        Self::start_inner(false, None, "", true)
    }

    /// Starts a registry that requires HTTP basic auth ([`USER`]/[`PASSWORD`]).
    pub fn start_with_login() -> Self {
        Self::start_inner(true, None, "", false)
    }

    /// Starts a registry that keeps its content under `storage` and answers blob downloads
    /// with a redirect to `base_url` + the blob's path in `storage` (distribution's `redirect`
    /// storage middleware, as registries with S3 storage do).
    pub fn start_redirecting_blobs(storage: &Path, base_url: &str) -> Self {
        let middleware = format!(
            "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {base_url}\n"
        );
        Self::start_inner(false, Some(storage), &middleware, false)
    }

    fn start_inner(login: bool, storage: Option<&Path>, middleware: &str, log: bool) -> Self {
        let dir = TestDir::new();
        let storage = storage.map_or_else(|| dir.join("data"), Path::to_path_buf);
        let mut auth = String::new();
        if login {
            let out = Command::new(tool("htpasswd"))
                .args(["-Bbn", USER, PASSWORD])
                .output()
                .expect("run htpasswd");
            assert!(out.status.success(), "htpasswd failed");
            dir.write("htpasswd", &out.stdout);
            auth = format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.join("htpasswd").display()
            );
        }
        // Tests in one process start registries in parallel: hold a lock from choosing a port
        // until the registry listens on it, so two never pick the same one. (Another process can
        // still race; the child's early exit is detected below and the start retried.)
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..5 {
            let addr = format!("127.0.0.1:{}", free_port());
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: {}\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 {middleware}{auth}http:\n  addr: {addr}\n",
                !log,
                storage.display()
            );
            let config_path = dir.write("config.yml", config);
            // The access log goes to stdout, one line per request.
            let stdout = if log {
                Stdio::from(std::fs::File::create(dir.join("access.log")).expect("access log"))
            } else {
                Stdio::null()
            };
            let mut child = Command::new(tool("docker-registry"))
                .arg("serve")
                .arg(&config_path)
                .stdout(stdout)
                .stderr(Stdio::null())
                .spawn()
                .expect("start docker-registry");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: port clash, retry
                }
                if std::net::TcpStream::connect(&addr).is_ok() {
                    std::thread::sleep(Duration::from_millis(30));
                    if let Ok(None) = child.try_wait() {
                        return TestRegistry {
                            child,
                            addr,
                            dir,
                            logs_requests: log,
                            seen_requests: std::sync::Mutex::new(0),
                        };
                    }
                    break; // someone else listens there and our registry exited: retry
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `127.0.0.1:PORT/<repo>`.
    pub fn image(&self, repo: &str) -> String {
        format!("{}/{repo}", self.addr)
    }

    /// The requests answered so far, as `METHOD PATH` (`GET /v2/team/app/tags/list`), in
    /// order; the registry must have been started with [`Self::start_logging_requests`].
    pub fn requests(&self) -> Vec<String> {
        let seen = *self.seen_requests.lock().expect("seen requests");
        self.all_requests().into_iter().skip(seen).collect()
    }

    fn all_requests(&self) -> Vec<String> {
        assert!(self.logs_requests, "this registry keeps no access log");
        // The log is written as requests complete; a moment lets the last line land.
        std::thread::sleep(Duration::from_millis(100));
        let log = std::fs::read_to_string(self.dir.join("access.log")).expect("access log");
        log.lines()
            .filter_map(|line| {
                let request = line.split('"').nth(1)?;
                let mut words = request.split(' ');
                Some(format!("{} {}", words.next()?, words.next()?))
            })
            .collect()
    }

    /// Forgets the requests logged so far (the next [`Self::requests`] starts after them).
    pub fn clear_requests(&self) {
        let count = self.all_requests().len();
        *self.seen_requests.lock().expect("seen requests") = count;
    }

    /// Stops the registry now (for "registry down" tests).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}
