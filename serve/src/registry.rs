//! The read side of the OCI distribution spec over a [`Current`] picture of the store. Every
//! request is answered: content with its digest and media type, or the spec's error JSON.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use sigmirror_oci::Digest;

use crate::access::Logins;
use crate::picture::{Current, Picture};

/// A response body: small JSON, or a blob streamed from its file.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// Largest manifest served (the limit the store stores manifests under).
const MAX_MANIFEST: u64 = 4 << 20;

/// Blob files are read in chunks of this size.
const CHUNK: usize = 512 << 10;

/// The registry over one store.
pub struct Registry {
    current: Current,
    /// With a login file, every request must carry one of its logins.
    logins: Option<Logins>,
    /// Blobs whose whole file was hashed and matched its digest in this process.
    verified: Arc<Mutex<HashSet<Digest>>>,
}

/// One parsed request path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'p> {
    Base,
    Catalog,
    Tags(&'p str),
    Manifest(&'p str, &'p str),
    Blob(&'p str, &'p str),
    Upload,
    Referrers(&'p str, &'p str),
    Unknown,
}

fn route(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix("/v2") else {
        return Route::Unknown;
    };
    if rest.is_empty() || rest == "/" {
        return Route::Base;
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Route::Unknown;
    };
    if rest == "_catalog" {
        return Route::Catalog;
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Route::Tags(name);
    }
    if rest.contains("/blobs/uploads") {
        return Route::Upload;
    }
    if let Some(i) = rest.rfind("/manifests/") {
        return Route::Manifest(&rest[..i], &rest[i + "/manifests/".len()..]);
    }
    if let Some(i) = rest.rfind("/blobs/") {
        return Route::Blob(&rest[..i], &rest[i + "/blobs/".len()..]);
    }
    if let Some(i) = rest.rfind("/referrers/") {
        return Route::Referrers(&rest[..i], &rest[i + "/referrers/".len()..]);
    }
    Route::Unknown
}

/// The spec's error response.
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]});
    json(status, &body)
}

fn name_unknown() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        "repository name not known to registry",
    )
}

fn digest_invalid() -> Response<Body> {
    error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "invalid digest")
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let bytes = Bytes::from(serde_json::to_vec(value).expect("JSON serialises"));
    with_header(
        full(status, bytes),
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )
}

/// `response` with the header `name` set to `value`.
fn with_header(
    mut response: Response<Body>,
    name: impl header::IntoHeaderName,
    value: HeaderValue,
) -> Response<Body> {
    response.headers_mut().insert(name, value);
    response
}

fn full(status: StatusCode, bytes: Bytes) -> Response<Body> {
    let length = bytes.len();
    let mut response = Response::new(Full::new(bytes).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `n` and `last` of a paginated listing; `None` if `n` is not a number.
fn pagination(query: Option<&str>) -> Option<(Option<usize>, Option<String>)> {
    let mut n = None;
    let mut last = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "n" => n = Some(value.parse::<usize>().ok()?),
            "last" => last = Some(percent_decode(value)),
            _ => {}
        }
    }
    Some((n, last))
}

fn invalid_page_size() -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        "PAGINATION_NUMBER_INVALID",
        "invalid number of results requested",
    )
}

/// `%XX` escapes decoded (what a `last` value or `artifactType` may carry).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One page of `items` after `last`, at most `n`, and the `Link` to the next page.
fn page<'a>(
    items: impl Iterator<Item = &'a String>,
    n: Option<usize>,
    last: Option<&str>,
    path: &str,
) -> (Vec<String>, Option<String>) {
    let mut after: Vec<String> = items
        .filter(|i| last.is_none_or(|l| i.as_str() > l))
        .cloned()
        .collect();
    let Some(n) = n else {
        return (after, None);
    };
    if after.len() <= n {
        return (after, None);
    }
    after.truncate(n);
    let link = after
        .last()
        .map(|l| format!("<{path}?n={n}&last={l}>; rel=\"next\""));
    (after, link)
}

impl Registry {
    /// The registry over the store `current` pictures.
    pub fn new(current: Current, logins: Option<Logins>) -> Registry {
        Registry {
            current,
            logins,
            verified: Arc::default(),
        }
    }

    fn blob_path(&self, digest: &Digest) -> Option<PathBuf> {
        let hex = digest.as_str().strip_prefix("sha256:")?;
        Some(self.current.root().join("blobs/sha256").join(hex))
    }

    /// Answers one request.
    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Response<Body> {
        let allowed = self.logins.as_ref().is_none_or(|logins| {
            logins.allows(
                headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok()),
            )
        });
        let response = if allowed {
            self.answer(method, path, query, headers).await
        } else {
            with_header(
                error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "authentication required",
                ),
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"sigmirror\""),
            )
        };
        with_header(
            response,
            "Docker-Distribution-API-Version",
            HeaderValue::from_static("registry/2.0"),
        )
    }

    async fn answer(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Response<Body> {
        let route = route(path);
        if route == Route::Unknown {
            return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint");
        }
        if method != Method::GET && method != Method::HEAD {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "this registry is read-only (sigmirror serve)",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let head = method == Method::HEAD;
        let picture = self.current.get();
        let named = |name: &str| resolve_name(&picture, name, query);
        let response = match route {
            Route::Base => json(StatusCode::OK, &serde_json::json!({})),
            Route::Catalog => Self::catalog(&picture, query),
            Route::Tags(name) => Self::tags(&picture, &named(name), query),
            Route::Manifest(name, reference) => self.manifest(&picture, &named(name), reference),
            Route::Blob(name, digest) => {
                self.blob(&picture, &named(name), digest, headers, head)
                    .await
            }
            Route::Referrers(name, digest) => self.referrers(&picture, &named(name), digest, query),
            Route::Upload => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "this registry is read-only (sigmirror serve)",
            ),
            Route::Unknown => unreachable!("answered above"),
        };
        if head {
            let (parts, _) = response.into_parts();
            return Response::from_parts(
                parts,
                Full::new(Bytes::new()).map_err(|n| match n {}).boxed(),
            );
        }
        response
    }

    fn catalog(picture: &Picture, query: Option<&str>) -> Response<Body> {
        let Some((n, last)) = pagination(query) else {
            return invalid_page_size();
        };
        let (names, link) = page(picture.repos.keys(), n, last.as_deref(), "/v2/_catalog");
        let mut response = json(StatusCode::OK, &serde_json::json!({"repositories": names}));
        if let Some(link) = link {
            response
                .headers_mut()
                .insert(header::LINK, header_value(&link));
        }
        response
    }

    fn tags(picture: &Picture, name: &str, query: Option<&str>) -> Response<Body> {
        let Some(repo) = picture.repos.get(name) else {
            return name_unknown();
        };
        let Some((n, last)) = pagination(query) else {
            return invalid_page_size();
        };
        let path = format!("/v2/{name}/tags/list");
        let (tags, link) = page(repo.tags.keys(), n, last.as_deref(), &path);
        let mut response = json(
            StatusCode::OK,
            &serde_json::json!({"name": name, "tags": tags}),
        );
        if let Some(link) = link {
            response
                .headers_mut()
                .insert(header::LINK, header_value(&link));
        }
        response
    }

    /// The manifest `reference` (tag or digest) of repository `name`: its stored bytes, checked
    /// against its digest, with its stored media type.
    fn manifest(&self, picture: &Picture, name: &str, reference: &str) -> Response<Body> {
        let unknown = || {
            error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                "manifest unknown",
            )
        };
        let Some(repo) = picture.repos.get(name) else {
            return name_unknown();
        };
        let digest = if reference.contains(':') {
            match Digest::parse(reference) {
                Ok(d) if repo.manifests.contains(&d) => d,
                Ok(_) => return unknown(),
                Err(_) => {
                    return digest_invalid();
                }
            }
        } else {
            match repo.tags.get(reference) {
                Some(d) => d.clone(),
                None => return unknown(),
            }
        };
        let Some(stored) = picture.manifests.get(&digest) else {
            return unknown();
        };
        let Some(bytes) = self.read_manifest(&digest) else {
            return unknown();
        };
        let mut response = full(StatusCode::OK, bytes);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header_value(&stored.media_type));
        headers.insert("Docker-Content-Digest", header_value(digest.as_str()));
        headers.insert(header::ETAG, header_value(&format!("\"{digest}\"")));
        response
    }

    /// A manifest's bytes from its file, if present, small enough and matching its digest.
    fn read_manifest(&self, digest: &Digest) -> Option<Bytes> {
        let file = std::fs::File::open(self.blob_path(digest)?).ok()?;
        let mut bytes = vec![];
        file.take(MAX_MANIFEST + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() as u64 <= MAX_MANIFEST && digest.matches(&bytes)).then(|| Bytes::from(bytes))
    }

    /// A blob from its file, whole or the `Range` asked for. A whole blob is hashed as it
    /// streams the first time it is served; if it does not match, the transfer is cut before its
    /// end (the client sees an incomplete body) and the blob is never served again.
    async fn blob(
        &self,
        picture: &Picture,
        name: &str,
        digest: &str,
        headers: &HeaderMap,
        head: bool,
    ) -> Response<Body> {
        let unknown = || {
            error(
                StatusCode::NOT_FOUND,
                "BLOB_UNKNOWN",
                "blob unknown to registry",
            )
        };
        if !picture.repos.contains_key(name) {
            return name_unknown();
        }
        let Ok(digest) = Digest::parse(digest) else {
            return digest_invalid();
        };
        let Some(path) = self.blob_path(&digest) else {
            return unknown();
        };
        let Ok(file) = tokio::fs::File::open(&path).await else {
            return unknown();
        };
        let Ok(size) = file.metadata().await.map(|m| m.len()) else {
            return unknown();
        };
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|r| parse_range(r, size));
        let (status, start, end) = match range {
            None => (StatusCode::OK, 0, size),
            Some(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
            Some(None) => {
                return with_header(
                    error(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "BLOB_UNKNOWN",
                        "requested range not satisfiable",
                    ),
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes */{size}")),
                );
            }
        };
        let whole = status == StatusCode::OK;
        let check = whole && !self.is_verified(&digest);
        let body = if head {
            Full::new(Bytes::new()).map_err(|n| match n {}).boxed()
        } else {
            self.stream(file, digest.clone(), start, end, check).await
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert("Docker-Content-Digest", header_value(digest.as_str()));
        h.insert(header::ETAG, header_value(&format!("\"{digest}\"")));
        if !whole {
            h.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {start}-{}/{size}", end - 1)),
            );
        }
        response
    }

    fn is_verified(&self, digest: &Digest) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(digest)
    }

    /// Bytes `start..end` of `file`; with `check`, hashed, and cut short on a mismatch.
    async fn stream(
        &self,
        mut file: tokio::fs::File,
        digest: Digest,
        start: u64,
        end: u64,
        check: bool,
    ) -> Body {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
            return Full::new(Bytes::new()).map_err(|n| match n {}).boxed();
        }
        struct State {
            file: tokio::fs::File,
            left: u64,
            hasher: Option<sigmirror_oci::digest::Hasher>,
            digest: Digest,
            verified: Arc<Mutex<HashSet<Digest>>>,
        }
        let state = State {
            file,
            left: end - start,
            hasher: check.then(|| digest.hasher()),
            digest,
            verified: self.verified.clone(),
        };
        let chunks = futures_util::stream::unfold(Some(state), |state| async move {
            let mut st = state?;
            if st.left == 0 {
                return None;
            }
            let want = st.left.min(CHUNK as u64) as usize;
            // Not zeroed first: `read_buf` fills what it reads and nothing is read past it.
            let mut buf = bytes::BytesMut::with_capacity(want);
            match st.file.read_buf(&mut buf).await {
                Ok(0) => Some((
                    Err(std::io::Error::other("blob file shorter than it was")),
                    None,
                )),
                Ok(n) => {
                    st.left -= n as u64;
                    if let Some(hasher) = st.hasher.as_mut() {
                        hasher.update(&buf);
                    }
                    // The last chunk goes out only once the digest is checked: a damaged blob
                    // never reaches the client whole.
                    if st.left == 0
                        && let Some(hasher) = st.hasher.take()
                    {
                        if hasher.finish() != st.digest {
                            let e = std::io::Error::other(format!(
                                "blob {} is damaged in the store (run `sigmirror store fsck`)",
                                st.digest
                            ));
                            return Some((Err(e), None));
                        }
                        st.verified
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(st.digest.clone());
                    }
                    Some((Ok(buf.freeze()), Some(st)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        BodyExt::boxed(StreamBody::new(chunks.map(|chunk| chunk.map(Frame::data))))
    }

    /// The OCI 1.1 referrers of `digest` in repository `name`, as an image index of
    /// descriptors, filtered by `artifactType` if asked.
    fn referrers(
        &self,
        picture: &Picture,
        name: &str,
        digest: &str,
        query: Option<&str>,
    ) -> Response<Body> {
        if !picture.repos.contains_key(name) {
            return name_unknown();
        }
        let Ok(subject) = Digest::parse(digest) else {
            return digest_invalid();
        };
        let wanted = query
            .unwrap_or_default()
            .split('&')
            .find_map(|p| p.strip_prefix("artifactType="))
            .map(percent_decode);
        let mut descriptors = vec![];
        for referrer in picture
            .referrers
            .get(&(name.to_owned(), subject))
            .into_iter()
            .flatten()
        {
            let (Some(stored), Some(bytes)) = (
                picture.manifests.get(referrer),
                self.read_manifest(referrer),
            ) else {
                continue;
            };
            let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            // The spec: `artifactType`, else the config's media type.
            let artifact_type = manifest["artifactType"]
                .as_str()
                .or_else(|| manifest["config"]["mediaType"].as_str())
                .map(str::to_owned);
            if wanted.is_some() && wanted != artifact_type {
                continue;
            }
            let mut descriptor = serde_json::json!({
                "mediaType": stored.media_type,
                "digest": referrer,
                "size": stored.size,
            });
            if let Some(t) = artifact_type {
                descriptor["artifactType"] = t.into();
            }
            if let Some(a) = manifest.get("annotations").filter(|a| a.is_object()) {
                descriptor["annotations"] = a.clone();
            }
            descriptors.push(descriptor);
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": sigmirror_oci::media_types::OCI_INDEX,
            "manifests": descriptors,
        });
        let mut response = with_header(
            json(StatusCode::OK, &index),
            header::CONTENT_TYPE,
            HeaderValue::from_static(sigmirror_oci::media_types::OCI_INDEX),
        );
        if wanted.is_some() {
            response.headers_mut().insert(
                "OCI-Filters-Applied",
                HeaderValue::from_static("artifactType"),
            );
        }
        response
    }
}

/// The served repository a request names. containerd, configured to use `serve` as a mirror
/// of a registry (`hosts.toml`), asks for the repository path without the registry and says
/// which registry in the `ns` query parameter (`/v2/team/app/manifests/v1?ns=registry:5000`):
/// then the name is the one that registry's repository is served under.
fn resolve_name(picture: &Picture, name: &str, query: Option<&str>) -> String {
    if picture.repos.contains_key(name) {
        return name.to_owned();
    }
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("ns="))
        .map(percent_decode)
        .and_then(|ns| crate::names::served_name(&format!("{ns}/{name}")))
        .filter(|served| picture.repos.contains_key(served))
        .unwrap_or_else(|| name.to_owned())
}

/// A single `bytes=` range of a blob of `size` bytes as `start..end`; `None` if it cannot be
/// satisfied (several ranges are not supported: the first is served).
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header
        .trim()
        .strip_prefix("bytes=")?
        .split(',')
        .next()?
        .trim();
    let (from, to) = spec.split_once('-')?;
    let (start, end) = match (from.trim(), to.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (from, "") => (from.parse().ok()?, size),
        (from, to) => (
            from.parse().ok()?,
            to.parse::<u64>().ok()?.saturating_add(1).min(size),
        ),
    };
    (start < end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_the_endpoints_of_the_spec() {
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(route("/v2"), Route::Base);
        assert_eq!(route("/v2/_catalog"), Route::Catalog);
        assert_eq!(route("/v2/a-1/b/tags/list"), Route::Tags("a-1/b"));
        assert_eq!(route("/v2/a/b/manifests/v1"), Route::Manifest("a/b", "v1"));
        assert_eq!(
            route("/v2/a/manifests/x/manifests/sha256:ab"),
            Route::Manifest("a/manifests/x", "sha256:ab")
        );
        assert_eq!(
            route("/v2/a/blobs/sha256:ab"),
            Route::Blob("a", "sha256:ab")
        );
        assert_eq!(route("/v2/a/blobs/uploads/"), Route::Upload);
        assert_eq!(
            route("/v2/a/referrers/sha256:ab"),
            Route::Referrers("a", "sha256:ab")
        );
        assert_eq!(route("/v3/"), Route::Unknown);
        assert_eq!(route("/v2/a/b"), Route::Unknown);
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 100)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=9-2", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn pages_follow_last_and_link_to_the_next() {
        let items: Vec<String> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let (got, link) = page(items.iter(), Some(2), None, "/v2/_catalog");
        assert_eq!(got, ["a", "b"]);
        assert_eq!(
            link.as_deref(),
            Some("</v2/_catalog?n=2&last=b>; rel=\"next\"")
        );
        let (got, link) = page(items.iter(), Some(2), Some("b"), "/v2/_catalog");
        assert_eq!(got, ["c", "d"]);
        assert_eq!(link, None);
        assert_eq!(page(items.iter(), None, Some("c"), "").0, ["d"]);
    }
}
