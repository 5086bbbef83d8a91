//! `serve`: the store as a read-only registry, judged by real clients (crane, skopeo, oras,
//! cosign) and compared endpoint by endpoint with the Debian registry holding the same content.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sigmirror_tests::oci::{push_image, push_index};
use sigmirror_tests::{curl_headers, run, tool};

use crate::{Setup, setup, sigmirror};

/// A running `sigmirror serve`, stopped (SIGTERM) when dropped.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    fn start(s: &Setup, store: &str) -> Served {
        Served::start_with(s, store, &[])
    }

    fn start_with(s: &Setup, store: &str, extra: &[&str]) -> Served {
        let mut child = sigmirror(&s.dir)
            .args(["serve", "--addr", "127.0.0.1:0", "--store", store])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start serve");
        let mut first = String::new();
        BufReader::new(child.stderr.as_mut().expect("stderr"))
            .read_line(&mut first)
            .expect("read serve's first line");
        let addr = first
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Served { child, addr }
    }

    /// The served name of `registry/repo` (the port separator written `-`).
    fn name(&self, store_repo: &str) -> String {
        format!("{}/{}", self.addr, store_repo.replacen(':', "-", 1))
    }

    /// SIGTERM, and the exit status and stderr after it.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        run(Command::new("kill").args(["-TERM", &pid]), None).ok();
        let mut rest = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            use std::io::Read;
            let _ = err.read_to_string(&mut rest);
        }
        let status = self.child.wait().expect("wait for serve");
        (status, rest)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str, extra: &[&str]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    curl_headers(url, extra)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every manifest and blob of a signed, attested two-platform image answers from `serve` as
/// from the registry it was pulled from: same bytes, digest and media type; the listings and the
/// referrers API answer as the spec says; writes are refused; and crane, skopeo, oras and
/// cosign use it as they use any registry.
#[test]
fn the_served_store_answers_as_the_registry_it_mirrors() {
    let mut s = setup("serve/app");
    let multi = format!("{}:v2", s.reg.image("serve/multi"));
    let (index, children) = push_index(&multi, "serve-multi");
    s.sm(&["sign", "--key", "cosign.key", "--recursive", &multi])
        .ok();
    s.dir.write(
        "provenance.json",
        r#"{"builder":{"id":"https://ci.example/b"},"buildType":"https://ci.example/t"}"#,
    );
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--type",
        "slsaprovenance",
        "--predicate",
        "provenance.json",
        &multi,
    ])
    .ok();
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    let store = s.pull_into_store(&[&multi, &s.image]);
    let store = store.as_str();
    let served = Served::start(&s, store);
    let origin_repo = s.reg.image("serve/multi");
    let name = served.name(&origin_repo);
    let served_path = name.split_once('/').unwrap().1.to_owned();
    let origin_path = "serve/multi";

    // Manifests by tag and by digest: the index, its children, the .sig and .att images.
    let sig_tag = format!("{}.sig", index.replace(':', "-"));
    let att_tag = format!("{}.att", index.replace(':', "-"));
    let mut references = vec!["v2".to_owned(), index.clone(), sig_tag, att_tag];
    references.extend(children.iter().cloned());
    let accept = "Accept: application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json";
    let mut blobs = vec![];
    for reference in &references {
        let ours = get(
            &format!(
                "http://{}/v2/{served_path}/manifests/{reference}",
                served.addr
            ),
            &["-H", accept],
        );
        let theirs = get(
            &format!(
                "http://{}/v2/{origin_path}/manifests/{reference}",
                s.reg.addr()
            ),
            &["-H", accept],
        );
        assert_eq!(
            ours.0,
            200,
            "{reference}: {}",
            String::from_utf8_lossy(&ours.2)
        );
        assert_eq!(ours.2, theirs.2, "{reference}: manifest bytes");
        for h in ["Content-Type", "Docker-Content-Digest", "Content-Length"] {
            assert_eq!(header(&ours.1, h), header(&theirs.1, h), "{reference}: {h}");
        }
        let head = get(
            &format!(
                "http://{}/v2/{served_path}/manifests/{reference}",
                served.addr
            ),
            &["-I"],
        );
        assert_eq!(head.0, 200);
        assert_eq!(
            header(&head.1, "Docker-Content-Digest"),
            header(&ours.1, "Docker-Content-Digest")
        );
        let manifest: Value = serde_json::from_slice(&ours.2).unwrap();
        for d in manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(manifest.get("config"))
        {
            blobs.push(d["digest"].as_str().unwrap().to_owned());
        }
    }
    for blob in &blobs {
        let ours = get(
            &format!("http://{}/v2/{served_path}/blobs/{blob}", served.addr),
            &[],
        );
        let theirs = get(
            &format!("http://{}/v2/{origin_path}/blobs/{blob}", s.reg.addr()),
            &[],
        );
        assert_eq!((ours.0, &ours.2), (200, &theirs.2), "{blob}");
        assert_eq!(
            header(&ours.1, "Docker-Content-Digest"),
            Some(blob.as_str())
        );
    }
    // A range of a blob.
    let blob = &blobs[0];
    let whole = get(
        &format!("http://{}/v2/{served_path}/blobs/{blob}", served.addr),
        &[],
    )
    .2;
    let part = get(
        &format!("http://{}/v2/{served_path}/blobs/{blob}", served.addr),
        &["-H", "Range: bytes=2-5"],
    );
    assert_eq!(part.0, 206);
    assert_eq!(part.2, whole[2..6]);
    assert_eq!(
        header(&part.1, "Content-Range"),
        Some(format!("bytes 2-5/{}", whole.len()).as_str())
    );

    // Listings: the same tags as the origin; pages of one with a Link to the next.
    let tags = |url: String| -> Vec<String> {
        let body: Value = serde_json::from_slice(&get(&url, &[]).2).unwrap();
        body["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    };
    let mut origin_tags = tags(format!(
        "http://{}/v2/{origin_path}/tags/list",
        s.reg.addr()
    ));
    origin_tags.sort();
    assert_eq!(
        tags(format!("http://{}/v2/{served_path}/tags/list", served.addr)),
        origin_tags
    );
    let first = get(
        &format!("http://{}/v2/{served_path}/tags/list?n=1", served.addr),
        &[],
    );
    assert_eq!(
        header(&first.1, "Link"),
        Some(
            format!(
                "</v2/{served_path}/tags/list?n=1&last={}>; rel=\"next\"",
                origin_tags[0]
            )
            .as_str()
        )
    );
    let catalog: Value =
        serde_json::from_slice(&get(&format!("http://{}/v2/_catalog", served.addr), &[]).2)
            .unwrap();
    let repositories: Vec<&str> = catalog["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(repositories.contains(&served_path.as_str()), "{catalog}");
    // Unknown names and manifests, and writes, answer with the spec's error JSON.
    let missing = get(
        &format!("http://{}/v2/{served_path}/manifests/nope", served.addr),
        &[],
    );
    assert_eq!(missing.0, 404);
    let errors: Value = serde_json::from_slice(&missing.2).unwrap();
    assert_eq!(errors["errors"][0]["code"], "MANIFEST_UNKNOWN");
    let write = get(
        &format!("http://{}/v2/{served_path}/manifests/v9", served.addr),
        &["-X", "PUT", "--data", "{}"],
    );
    assert_eq!(write.0, 405);
    let upload = get(
        &format!("http://{}/v2/{served_path}/blobs/uploads/", served.addr),
        &["-X", "POST"],
    );
    assert_eq!(upload.0, 405);
    let errors: Value = serde_json::from_slice(&upload.2).unwrap();
    assert_eq!(errors["errors"][0]["code"], "UNSUPPORTED");

    // Real clients.
    let crane = |args: &[&str]| {
        run(
            Command::new(tool("crane")).args(args).arg("--insecure"),
            None,
        )
        .ok()
    };
    assert_eq!(
        crane(&["digest", &format!("{name}:v2")])
            .stdout_text()
            .trim(),
        index
    );
    assert!(crane(&["ls", &name]).stdout_text().contains("v2"));
    assert!(
        crane(&["catalog", &served.addr])
            .stdout_text()
            .contains(&served_path)
    );
    crane(&[
        "pull",
        "--format",
        "oci",
        &format!("{name}@{}", children[0]),
        s.dir.join("crane-oci").to_str().unwrap(),
    ]);
    let inspected = run(
        Command::new(tool("skopeo")).args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{name}:v2"),
        ]),
        None,
    )
    .ok();
    assert_eq!(
        sigmirror_oci::Digest::sha256_of(&inspected.stdout).as_str(),
        index
    );
    run(
        Command::new(tool("skopeo")).args([
            "copy",
            "--all",
            "--src-tls-verify=false",
            &format!("docker://{name}:v2"),
            &format!("oci:{}:v2", s.dir.join("skopeo-oci").display()),
        ]),
        None,
    )
    .ok();
    s.cosign_verify("verify", "cosign.pub", &format!("{name}:v2"), &[])
        .ok();
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &format!("{name}:v2"),
        &["--type", "slsaprovenance"],
    )
    .ok();
    // oras asks the referrers API (none here: cosign 2 stores by tag) and gets the empty index.
    let referrers = get(
        &format!("http://{}/v2/{served_path}/referrers/{index}", served.addr),
        &[],
    );
    assert_eq!(referrers.0, 200);
    assert_eq!(
        header(&referrers.1, "Content-Type"),
        Some("application/vnd.oci.image.index.v1+json")
    );
    run(
        Command::new(tool("oras")).args(["discover", "--plain-http", &format!("{name}:v2")]),
        None,
    )
    .ok();

    // containerd fetches the whole index, every platform, by its digest.
    let containerd = sigmirror_tests::peers::Containerd::start();
    containerd
        .ctr(&[
            "content",
            "fetch",
            "--plain-http",
            "--all-platforms",
            &format!("{name}:v2"),
        ])
        .ok();
    let held = containerd.ctr(&["content", "ls", "-q"]).ok().stdout_text();
    for digest in std::iter::once(&index).chain(&children) {
        assert!(
            held.contains(digest.as_str()),
            "{digest} not fetched: {held}"
        );
    }
    drop(containerd);
    // As a mirror of the origin registry (hosts.toml), with the origin stopped: containerd
    // asks `serve` for the origin's repository path with `?ns=ORIGIN`.
    let hosts = s.dir.join("hosts").join(s.reg.addr());
    std::fs::create_dir_all(&hosts).unwrap();
    std::fs::write(
        hosts.join("hosts.toml"),
        format!(
            "server = \"http://{}\"\n[host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            s.reg.addr(),
            served.addr
        ),
    )
    .unwrap();
    s.reg.stop();
    let containerd = sigmirror_tests::peers::Containerd::start();
    containerd
        .ctr(&[
            "content",
            "fetch",
            "--hosts-dir",
            s.dir.join("hosts").to_str().unwrap(),
            "--all-platforms",
            &multi,
        ])
        .ok();
    let held = containerd.ctr(&["content", "ls", "-q"]).ok().stdout_text();
    assert!(
        held.contains(index.as_str()),
        "not fetched through the mirror: {held}"
    );
    drop(containerd);

    // Graceful stop on SIGTERM.
    let (status, rest) = served.stop();
    assert!(status.success(), "{status:?} {rest}");
    assert!(rest.contains("stopped"), "{rest}");
}

/// A pull that completes while `serve` runs is served without a restart, and `serve` holds no
/// lock that would stop the pull.
#[test]
fn a_pull_shows_in_a_running_serve() {
    let s = setup("serve/live");
    let store = s.pull_into_store(&[&s.image]);
    let store = store.as_str();
    let served = Served::start(&s, store);
    let later = format!("{}:v1", s.reg.image("serve/later"));
    push_image(&later, "serve-later");
    s.sm(&["pull", "--store", store, &later]).ok();
    let name = served.name(&s.reg.image("serve/later"));
    let path = name.split_once('/').unwrap().1.to_owned();
    let started = Instant::now();
    loop {
        let (status, _, _) = get(
            &format!("http://{}/v2/{path}/manifests/v1", served.addr),
            &[],
        );
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the pulled image did not show in 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Over TLS with a login file: a request without the login, or with a wrong password, gets 401
/// and a Basic challenge (writes too); with it, curl, skopeo and cosign read as before. A login
/// file with other hash kinds than bcrypt is refused at start.
#[test]
fn tls_and_logins_guard_the_served_store() {
    let s = setup("serve/guarded");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    let store = s.pull_into_store(&[&s.image]);
    let store = store.as_str();
    sigmirror_tests::tls::make_certs(s.dir.path());
    let htpasswd = run(
        Command::new(tool("htpasswd")).args(["-Bbn", "reader", "open sesame"]),
        None,
    )
    .ok();
    s.dir.write("htpasswd", &htpasswd.stdout);
    let served = Served::start_with(
        &s,
        store,
        &[
            "--tls-cert",
            "server.crt",
            "--tls-key",
            "server.key",
            "--htpasswd",
            "htpasswd",
        ],
    );
    let ca = s.dir.join("ca.crt");
    let ca = ca.to_str().unwrap();
    let name = served.name(&s.reg.image("serve/guarded"));
    let path = name.split_once('/').unwrap().1.to_owned();
    let url = format!("https://{}/v2/{path}/manifests/v1", served.addr);
    let anonymous = get(&url, &["--cacert", ca]);
    assert_eq!(anonymous.0, 401);
    assert_eq!(
        header(&anonymous.1, "WWW-Authenticate"),
        Some("Basic realm=\"sigmirror\"")
    );
    let errors: Value = serde_json::from_slice(&anonymous.2).unwrap();
    assert_eq!(errors["errors"][0]["code"], "UNAUTHORIZED");
    assert_eq!(get(&url, &["--cacert", ca, "-u", "reader:wrong"]).0, 401);
    assert_eq!(get(&url, &["--cacert", ca, "-X", "DELETE"]).0, 401);
    let good = get(&url, &["--cacert", ca, "-u", "reader:open sesame"]);
    assert_eq!(good.0, 200);
    assert_eq!(
        header(&good.1, "Docker-Content-Digest"),
        Some(s.digest.as_str())
    );
    assert_eq!(
        get(
            &url,
            &["--cacert", ca, "-u", "reader:open sesame", "-X", "DELETE"]
        )
        .0,
        405
    );
    // Plain HTTP to the TLS port is not served.
    let plain = run(
        Command::new(tool("curl")).args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{}/v2/", served.addr),
        ]),
        None,
    );
    assert!(plain.code != 0 || plain.stdout_text() != "200", "{plain:?}");
    // skopeo verifies the certificate against the CA (a folder holding only `ca.crt`).
    std::fs::create_dir(s.dir.join("certs")).unwrap();
    std::fs::copy(ca, s.dir.join("certs/ca.crt")).unwrap();
    let inspected = run(
        Command::new(tool("skopeo")).args([
            "inspect",
            "--raw",
            "--cert-dir",
            s.dir.join("certs").to_str().unwrap(),
            "--creds",
            "reader:open sesame",
            &format!("docker://{name}:v1"),
        ]),
        None,
    )
    .ok();
    assert_eq!(
        sigmirror_oci::Digest::sha256_of(&inspected.stdout).as_str(),
        s.digest
    );
    s.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--registry-cacert",
        ca,
        "--registry-username",
        "reader",
        "--registry-password",
        "open sesame",
        &format!("{name}:v1"),
    ])
    .ok();
    drop(served);

    // Only bcrypt entries.
    s.dir
        .write("md5", "reader:$apr1$abcdefgh$0123456789abcdefghijk1\n");
    let out = s.sm(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--store",
        store,
        "--htpasswd",
        "md5",
    ]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("md5:1: not a bcrypt entry"),
        "{}",
        out.stderr
    );
}

/// cosign 3's bundles in OCI 1.1 referrers: stored by `pull` (from the fallback tag of a
/// registry without the referrers API), served through the referrers API, where cosign 3 finds
/// and verifies them, and oras lists them; `artifactType` filters.
#[test]
fn referrer_bundles_are_served_through_the_referrers_api() {
    let s = setup("serve/bundles");
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        &s.image,
    ])
    .ok();
    let store = s.pull_into_store(&[&s.image]);
    let store = store.as_str();
    let served = Served::start(&s, store);
    let name = served.name(&s.reg.image("serve/bundles"));
    let path = name.split_once('/').unwrap().1.to_owned();
    let url = format!("http://{}/v2/{path}/referrers/{}", served.addr, s.digest);
    let listed: Value = serde_json::from_slice(&get(&url, &[]).2).unwrap();
    let manifests = listed["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{listed}");
    let artifact_type = manifests[0]["artifactType"].as_str().unwrap().to_owned();
    assert!(
        artifact_type.starts_with("application/vnd.dev.sigstore.bundle"),
        "{listed}"
    );
    let filtered = get(&format!("{url}?artifactType=application/x-other"), &[]);
    assert_eq!(
        header(&filtered.1, "OCI-Filters-Applied"),
        Some("artifactType")
    );
    let none: Value = serde_json::from_slice(&filtered.2).unwrap();
    assert_eq!(none["manifests"], serde_json::json!([]));
    crate::cosign3::cosign3_verify(&s, "verify", &format!("{name}:v1"), &[]).ok();
    let discovered = run(
        Command::new(tool("oras")).args(["discover", "--plain-http", &format!("{name}:v1")]),
        None,
    )
    .ok();
    assert!(
        discovered.stdout_text().contains(&artifact_type),
        "{}",
        discovered.stdout_text()
    );
}

/// A blob damaged on disk (same size, one byte flipped) never reaches a client whole: its last
/// bytes are held back when the digest does not match, and the transfer is cut.
#[test]
fn a_damaged_blob_is_never_served_whole() {
    let s = setup("serve/damaged");
    let store_str = s.pull_into_store(&[&s.image]);
    let store_str = store_str.as_str();
    let store = std::path::PathBuf::from(store_str);
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(store.join("blobs/sha256").join(&s.digest[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let size = manifest["layers"][0]["size"].as_u64().unwrap() as usize;
    let file = store.join("blobs/sha256").join(&layer[7..]);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[size / 2] ^= 0xff;
    let mut perms = std::fs::metadata(&file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&file, perms).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let served = Served::start(&s, store_str);
    let path = served
        .name(&s.reg.image("serve/damaged"))
        .split_once('/')
        .unwrap()
        .1
        .to_owned();
    for attempt in 0..2 {
        // The transfer is cut: curl sees a short body, or no answer at all when the blob is one
        // chunk (then nothing was sent).
        let body = s.dir.join(format!("body-{attempt}"));
        run(
            Command::new(tool("curl")).args([
                "-s",
                "-o",
                body.to_str().unwrap(),
                &format!("http://{}/v2/{path}/blobs/{layer}", served.addr),
            ]),
            None,
        );
        let got = std::fs::read(&body).map(|b| b.len()).unwrap_or(0);
        assert!(got < size, "{got} of {size} bytes served");
    }
}

/// Readers never wait for a writer: while a pull of 241 images (one with a 64 MiB layer)
/// writes the store, eight processes verify offline in a loop and `serve` answers; none fails
/// and none waits for the store's lock (the "waiting" notice never appears). Afterwards `serve`
/// shows the pulled images, gc removes only what nothing references, and fsck finds the store
/// clean. The longest reader run is printed.
#[test]
fn readers_keep_working_while_a_long_pull_writes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = setup("busy/first");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    let store_str = s.pull_into_store(&[&s.image]);
    let store = std::path::PathBuf::from(&store_str);
    // 240 tags of one image, and a large one.
    let many = s.reg.image("busy/many");
    push_image(&format!("{many}:t0"), "busy-many");
    let manifest = sigmirror_tests::http_get(&format!(
        "http://{}/v2/busy/many/manifests/t0",
        s.reg.addr()
    ));
    for i in 1..240 {
        sigmirror_tests::http_put(
            &format!("http://{}/v2/busy/many/manifests/t{i}", s.reg.addr()),
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        );
    }
    let big = format!("{}:v1", s.reg.image("busy/big"));
    sigmirror_tests::oci::push_big_image(&big, "busy-big", 1, 64 << 20);
    let served = Served::start(&s, &store_str);
    let first_path = served
        .name(&s.reg.image("busy/first"))
        .split_once('/')
        .unwrap()
        .1
        .to_owned();

    let writing = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (writing, dir, image, store) = (
                writing.clone(),
                s.dir.path().to_path_buf(),
                s.image.clone(),
                store_str.clone(),
            );
            std::thread::spawn(move || {
                let mut runs = vec![];
                while writing.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let out = Command::new(env!("CARGO_BIN_EXE_sigmirror"))
                        .current_dir(&dir)
                        .env("HOME", &dir)
                        .env("SIGMIRROR_PLUGIN_PATH", sigmirror_tests::plugin_dir())
                        .args([
                            "verify",
                            "--offline",
                            "--store",
                            &store,
                            "--key",
                            "cosign.pub",
                            &image,
                        ])
                        .output()
                        .expect("run verify");
                    runs.push((started.elapsed(), out));
                }
                runs
            })
        })
        .collect();
    let asker = {
        let (writing, url) = (
            writing.clone(),
            format!("http://{}/v2/{first_path}/manifests/v1", served.addr),
        );
        std::thread::spawn(move || {
            let mut answers = vec![];
            while writing.load(Ordering::Relaxed) {
                answers.push(get(&url, &[]).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            answers
        })
    };
    let mut args = vec!["pull", "--store", &store_str, "--concurrency", "4"];
    let tags: Vec<String> = (0..240).map(|i| format!("{many}:t{i}")).collect();
    args.extend(tags.iter().map(String::as_str));
    args.push(&big);
    let pulled = s.sm(&args);
    writing.store(false, Ordering::Relaxed);
    pulled.ok();
    let runs: Vec<_> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    let answers = asker.join().unwrap();
    assert!(runs.len() >= 8, "the readers ran {} times", runs.len());
    for (_, out) in &runs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a reader failed: {stderr}");
        assert!(
            !stderr.contains("waiting up to"),
            "a reader waited: {stderr}"
        );
    }
    assert!(answers.iter().all(|&a| a == 200), "{answers:?}");
    let longest = runs.iter().map(|(d, _)| *d).max().unwrap();
    eprintln!(
        "{} offline verifications and {} served answers during the pull; the longest verification took {longest:?}",
        runs.len(),
        answers.len()
    );

    // The pull shows in serve without a restart.
    let many_path = served.name(&many).split_once('/').unwrap().1.to_owned();
    let started = Instant::now();
    while get(
        &format!("http://{}/v2/{many_path}/manifests/t239", served.addr),
        &[],
    )
    .0 != 200
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "t239 not served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(served);

    // gc removes an orphan and nothing else; fsck is clean.
    let orphan = b"nothing references this blob";
    let hex = sigmirror_oci::Digest::sha256_of(orphan).as_str()[7..].to_owned();
    std::fs::write(store.join("blobs/sha256").join(&hex), orphan).unwrap();
    s.sm(&["store", "gc", "--store", &store_str]).ok();
    assert!(!store.join("blobs/sha256").join(&hex).exists());
    s.sm(&["store", "fsck", "--store", &store_str]).ok();
    for image in [&s.image, &big, &tags[0], &tags[239]] {
        s.sm(&["store", "info", "--store", &store_str, image]).ok();
    }
    s.verify_offline(&store_str, "cosign.pub", &s.image).ok();
}
