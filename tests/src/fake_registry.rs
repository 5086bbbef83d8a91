//! An in-process registry that lies. No real registry sends these answers, which is why this
//! one is a fake: the transfer engine must refuse each lie with a clear error and store nothing
//! unverified.
//!
//! It serves one repository, `lie/app`, tags `v1` and `v2`: a one-layer image, changed by the
//! chosen [`Lie`]. Its `tags/list` has one tag per page. Plain HTTP/1.1 on a loopback port, one thread per connection, closed on drop.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};

/// What the fake gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Nothing: a valid image (to check the fake itself).
    None,
    /// The layer's bytes do not match its digest (same length).
    BlobMismatch,
    /// The layer is served shorter than its descriptor says.
    TruncatedBlob,
    /// The tag points at a manifest of more than 4 MiB.
    HugeManifest,
    /// The tag points at bytes that are not JSON.
    MalformedJson,
    /// The image's `.sbom` tag points at an SBOM image whose own `.sbom` tag points back at
    /// itself (SBOMs' attachments are followed, so this is a cycle a walk meets).
    SelfReference,
    /// Blob downloads fail with HTTP 500.
    ServerError,
    /// Manifests come back with other bytes than the digest the registry announces.
    ManifestMismatch,
    /// Not a lie, a busy registry: the first two requests for each path are answered
    /// `429 Too Many Requests` with `Retry-After: 1`, then it answers.
    Busy,
    /// The first two requests for each path are answered `503` without `Retry-After`.
    Unavailable,
    /// Every request is answered `429` with `Retry-After: 3600`.
    ComeBackInAnHour,
    /// Manifests are sent one byte every 100 ms (about 10 bytes/s): slow, never silent.
    Trickle,
    /// `tags/list` never ends: every page links to a next one.
    EndlessTagPages,
    /// `tags/list` links its next page on another host.
    ForeignTagLink,
}

/// How many of the first requests for one path a flaky registry refuses.
const FLAKY_REFUSALS: u32 = 2;

fn digest(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

struct Content {
    manifests: HashMap<String, (Vec<u8>, &'static str)>,
    tags: HashMap<String, String>,
    blobs: HashMap<String, Vec<u8>>,
    lie: Lie,
    /// Requests per path (`/v2/` not counted).
    hits: Mutex<HashMap<String, u32>>,
}

/// A running fake registry.
pub struct FakeRegistry {
    addr: String,
    stop: Arc<AtomicBool>,
    content: Arc<Content>,
    /// Digest of the image manifest at `lie/app:v1` (as its descriptor claims).
    pub image_digest: String,
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn manifest_json(config: &[u8], layers: &[(&str, &[u8])]) -> Vec<u8> {
    let layers: Vec<String> = layers
        .iter()
        .map(|(mt, b)| {
            format!(
                r#"{{"mediaType":"{mt}","size":{},"digest":"{}"}}"#,
                b.len(),
                digest(b)
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":{},"digest":"{}"}},"layers":[{}]}}"#,
        config.len(),
        digest(config),
        layers.join(",")
    )
    .into_bytes()
}

impl FakeRegistry {
    /// Starts the fake with `lie`.
    pub fn start(lie: Lie) -> Self {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#.to_vec();
        let layer = b"layer bytes that the fake registry serves".repeat(50);
        let manifest = manifest_json(
            &config,
            &[("application/vnd.oci.image.layer.v1.tar", &layer)],
        );
        let image_digest = digest(&manifest);
        let mut content = Content {
            manifests: HashMap::new(),
            tags: HashMap::new(),
            blobs: HashMap::new(),
            lie,
            hits: Mutex::default(),
        };
        content.blobs.insert(digest(&config), config.clone());
        let mut served_layer = layer.clone();
        match lie {
            Lie::BlobMismatch => served_layer[0] ^= 0xff,
            Lie::TruncatedBlob => served_layer.truncate(layer.len() - 10),
            _ => {}
        }
        content.blobs.insert(digest(&layer), served_layer);
        content
            .manifests
            .insert(image_digest.clone(), (manifest.clone(), OCI_MANIFEST));
        let mut tag_target = image_digest.clone();
        match lie {
            Lie::HugeManifest => {
                let pad = "x".repeat(5 << 20);
                let huge = format!(
                    r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"a","size":1,"digest":"{}"}},"layers":[],"annotations":{{"pad":"{pad}"}}}}"#,
                    digest(&config)
                )
                .into_bytes();
                tag_target = digest(&huge);
                content
                    .manifests
                    .insert(tag_target.clone(), (huge, OCI_MANIFEST));
            }
            Lie::MalformedJson => {
                let junk = b"{this is not json".to_vec();
                tag_target = digest(&junk);
                content
                    .manifests
                    .insert(tag_target.clone(), (junk, OCI_MANIFEST));
            }
            Lie::SelfReference => {
                let payload = b"{}".to_vec();
                content.blobs.insert(digest(&payload), payload.clone());
                let sbom = manifest_json(&config, &[("text/spdx+json", &payload)]);
                let sbom_digest = digest(&sbom);
                content
                    .manifests
                    .insert(sbom_digest.clone(), (sbom, OCI_MANIFEST));
                content.tags.insert(
                    format!("{}.sbom", image_digest.replace(':', "-")),
                    sbom_digest.clone(),
                );
                content.tags.insert(
                    format!("{}.sbom", sbom_digest.replace(':', "-")),
                    sbom_digest,
                );
            }
            _ => {}
        }
        content.tags.insert("v1".into(), tag_target.clone());
        // A second tag of the same image, so that a listing of the tags has two pages.
        content.tags.insert("v2".into(), tag_target);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake registry");
        let addr = listener.local_addr().expect("addr").to_string();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let content = Arc::new(content);
        let served = content.clone();
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let content = content.clone();
                        std::thread::spawn(move || serve(stream, &content));
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        FakeRegistry {
            addr,
            stop,
            content: served,
            image_digest,
        }
    }

    /// `127.0.0.1:PORT/lie/app:v1`.
    pub fn image(&self) -> String {
        format!("{}/lie/app:v1", self.addr)
    }

    /// The most requests received for one path that starts with `prefix`.
    pub fn most_hits(&self, prefix: &str) -> u32 {
        let hits = self.content.hits.lock().expect("hits");
        hits.iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }

    /// Requests received for `path` (such as `/v2/lie/app/manifests/v1`).
    pub fn hits(&self, path: &str) -> u32 {
        let hits = self.content.hits.lock().expect("hits");
        hits.get(path).copied().unwrap_or(0)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    head: bool,
) {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = stream.write_all(out.as_bytes());
    if !head {
        let _ = stream.write_all(body);
    }
}

fn serve(stream: TcpStream, content: &Content) {
    let _ = stream.set_nonblocking(false);
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; content_length];
        let _ = reader.read_exact(&mut body);
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let head = method == "HEAD";
        let not_found = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        let hit = if path == "/v2/" {
            0
        } else {
            let mut hits = content.hits.lock().expect("hits");
            let n = hits.entry(path.to_owned()).or_default();
            *n += 1;
            *n
        };
        let busy = br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#;
        if path == "/v2/" {
            respond(&mut stream, "200 OK", &[], b"{}", head);
        } else if content.lie == Lie::Busy && hit <= FLAKY_REFUSALS {
            let headers = [("Retry-After", "1".to_owned())];
            respond(&mut stream, "429 Too Many Requests", &headers, busy, head);
        } else if content.lie == Lie::Unavailable && hit <= FLAKY_REFUSALS {
            respond(
                &mut stream,
                "503 Service Unavailable",
                &[],
                b"try later",
                head,
            );
        } else if content.lie == Lie::ComeBackInAnHour {
            let headers = [("Retry-After", "3600".to_owned())];
            respond(&mut stream, "429 Too Many Requests", &headers, busy, head);
        } else if let Some(query) = path.strip_prefix("/v2/lie/app/tags/list") {
            // One tag per page, in order, each page linking to the next (`Link`, as the
            // distribution spec paginates), so clients must follow the links.
            let last = query
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("last="))
                .unwrap_or("");
            let mut tags: Vec<&String> = content.tags.keys().collect();
            tags.sort();
            let page: Vec<&String> = match content.lie {
                Lie::EndlessTagPages => tags.into_iter().take(1).collect(),
                _ => tags
                    .into_iter()
                    .filter(|t| t.as_str() > last)
                    .take(1)
                    .collect(),
            };
            let more = match content.lie {
                Lie::EndlessTagPages | Lie::ForeignTagLink => true,
                _ => page
                    .first()
                    .is_some_and(|first| content.tags.keys().any(|t| t.as_str() > first.as_str())),
            };
            let mut headers = vec![];
            if let Some(first) = page.first().filter(|_| more) {
                let host = if content.lie == Lie::ForeignTagLink {
                    "http://elsewhere.example"
                } else {
                    ""
                };
                headers.push((
                    "Link",
                    format!("<{host}/v2/lie/app/tags/list?n=1&last={first}>; rel=\"next\""),
                ));
            }
            let body = format!(
                r#"{{"name":"lie/app","tags":[{}]}}"#,
                page.iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            respond(&mut stream, "200 OK", &headers, body.as_bytes(), head);
        } else if let Some(reference) = after(path, "/manifests/") {
            let digest = content
                .tags
                .get(reference)
                .cloned()
                .unwrap_or_else(|| reference.to_owned());
            match content.manifests.get(&digest) {
                Some((bytes, _)) if content.lie == Lie::Trickle && !head => {
                    let header = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nDocker-Content-Digest: \
                         {digest}\r\n\r\n",
                        bytes.len()
                    );
                    let _ = stream.write_all(header.as_bytes());
                    for byte in bytes {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        if stream.write_all(&[*byte]).is_err() {
                            return;
                        }
                    }
                }
                Some((bytes, media_type)) => {
                    let mut bytes = bytes.clone();
                    if content.lie == Lie::ManifestMismatch {
                        bytes.push(b' ');
                    }
                    respond(
                        &mut stream,
                        "200 OK",
                        &[
                            ("Content-Type", (*media_type).into()),
                            ("Docker-Content-Digest", digest),
                        ],
                        &bytes,
                        head,
                    );
                }
                None => respond(
                    &mut stream,
                    "404 Not Found",
                    &[("Content-Type", "application/json".into())],
                    not_found,
                    head,
                ),
            }
        } else if let Some(d) = after(path, "/blobs/") {
            if content.lie == Lie::ServerError {
                respond(&mut stream, "500 Internal Server Error", &[], b"boom", head);
            } else {
                match content.blobs.get(d) {
                    Some(bytes) => respond(
                        &mut stream,
                        "200 OK",
                        &[("Docker-Content-Digest", d.to_owned())],
                        bytes,
                        head,
                    ),
                    None => respond(
                        &mut stream,
                        "404 Not Found",
                        &[("Content-Type", "application/json".into())],
                        br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#,
                        head,
                    ),
                }
            }
        } else {
            respond(
                &mut stream,
                "404 Not Found",
                &[("Content-Type", "application/json".into())],
                not_found,
                head,
            );
        }
    }
}

/// What follows `/v2/<any repository><marker>` in `path`: the fake serves one image under
/// every repository name.
fn after<'p>(path: &'p str, marker: &str) -> Option<&'p str> {
    let rest = path.strip_prefix("/v2/")?;
    rest.rfind(marker).map(|i| &rest[i + marker.len()..])
}
