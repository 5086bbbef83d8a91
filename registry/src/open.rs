//! Reads from registries that need no authentication, over plain HTTP, without `oci-client`.
//!
//! Why this exists beside the `oci-client` path of [`crate::client`]: every `oci-client` client, whatever its
//! configuration, also builds a default reqwest client (its constructor fills the remaining
//! fields from `Client::default()`), and that loads the platform's whole trust store: with
//! `SSL_CERT_DIR` set, hundreds of certificate files, 4–5 ms, about half of a complete one-image
//! `verify`. A registry spoken to over plain HTTP that answers `GET /v2/` with 200 and no
//! authentication challenge (a loopback or private registry, or any with
//! `--allow-http-registry`) needs none of that, so its reads come here: GET and HEAD of manifests
//! and blobs and the referrers API, with the same checks as the `oci-client` path (manifest
//! digests against the reference and the registry's `Docker-Content-Digest`, the 4 MiB
//! manifest limit, errors told apart by status). Redirects are followed here, not by reqwest:
//! to plain HTTP with the same client, to HTTPS (registries with S3-like storage redirect blob
//! downloads there) with a client that has the platform's trust store, made on first need.
//! Writes, and every registry that wants credentials, go through `oci-client`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::{Method, Response, StatusCode, header};

use sigmirror_oci::manifest::{MAX_MANIFEST_SIZE, ManifestView};
use sigmirror_oci::source::BlobStream;
use sigmirror_oci::{Digest, ImageRef, media_types};

use crate::error::{Error, Result};
use crate::retry::{self, Attempts};
use crate::stall::{self, StallRule};

/// Why one attempt of a request failed: the transport (which may be retried) or anything else.
enum SendError {
    Transport(reqwest::Error),
    Other(Error),
}

impl From<Error> for SendError {
    fn from(e: Error) -> Self {
        SendError::Other(e)
    }
}

/// Redirects followed for one request at most (reqwest's default is 10 as well).
const MAX_REDIRECTS: usize = 10;

const USER_AGENT: &str = concat!("sigmirror/", env!("CARGO_PKG_VERSION"));

/// Reads from open plain-HTTP registries; one per command, shared by every such registry.
pub(crate) struct OpenRegistry {
    http: reqwest::Client,
    tls: OnceLock<std::result::Result<reqwest::Client, String>>,
    allow_insecure: bool,
    /// When a body counts as stalled.
    stall: StallRule,
    /// Registries that answered 404 to the referrers API: it is not asked again; the fallback
    /// tag is read directly.
    no_referrers_api: Mutex<HashSet<String>>,
    /// Registries whose referrers API answered.
    referrers_api: Mutex<HashSet<String>>,
    /// Held while a registry's referrers API is asked for the first time, so that images walked
    /// at once do not each find out that it is missing.
    referrers_probe: tokio::sync::Mutex<()>,
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
}

fn unreachable(what: &str, e: &reqwest::Error) -> Error {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    Error::Unreachable {
        reference: what.to_owned(),
        reason,
    }
}

/// Bytes of an error body kept for the message; the rest is not read.
const MAX_ERROR_BODY: usize = 4 << 10;

/// The body of `response`, at most `limit` bytes: `Ok(None)` if it is longer (then only what
/// fits was read), so a hostile registry cannot make this buffer without bound.
async fn read_limited(
    response: Response,
    limit: usize,
    what: &str,
    rule: StallRule,
) -> Result<Option<Vec<u8>>> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    let length = response.content_length();
    let reason_for = what.to_owned();
    let chunks = stall::guard(
        response.bytes_stream(),
        length,
        rule,
        what.to_owned(),
        move |e| unreachable(&reason_for, &e),
    );
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Whether `body` is an OCI error envelope (`{"errors":[…]}`).
fn is_error_envelope(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v.get("errors").is_some_and(|e| e.is_array()))
}

/// The error for a non-success status, with the registry's own error codes when it sent them.
async fn status_error(what: &str, response: Response) -> Error {
    let reference = what.to_owned();
    let status = response.status();
    let attempts = response.extensions().get::<Attempts>().map_or(1, |a| a.0);
    let wait_refused = retry::wait_refused(status, response.headers());
    match status {
        StatusCode::NOT_FOUND => return Error::NotFound { reference },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            return Error::Unauthorized {
                reference,
                sent: None,
            };
        }
        _ => {}
    }
    let body = read_limited(response, MAX_ERROR_BODY, what, StallRule::default())
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let codes = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("errors").and_then(|e| e.as_array()).cloned())
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let field = |k| e.get(k).and_then(|v| v.as_str()).unwrap_or_default();
                    format!("{}: {}", field("code"), field("message"))
                })
                .collect::<Vec<_>>()
                .join(", ")
        });
    let detail = codes.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body);
        text.trim().chars().take(200).collect()
    });
    Error::Registry {
        reference,
        reason: format!(
            "HTTP {}: {detail}{}{wait_refused}",
            status.as_u16(),
            retry::after(attempts)
        ),
    }
}

/// The `Docker-Content-Digest` header, if the registry sent one.
fn digest_header(response: &Response) -> Option<String> {
    response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn manifest_url(image: &ImageRef) -> String {
    format!(
        "http://{}/v2/{}/manifests/{}",
        image.registry(),
        image.repository(),
        image.identifier()
    )
}

/// The most `tags/list` pages read for one repository (a thousand tags or more each, at the
/// registries seen).
const MAX_TAG_PAGES: usize = 1000;

/// One page of `tags/list`. `tags` is `null` for a repository without tags at some registries.
#[derive(serde::Deserialize)]
struct TagPage {
    tags: Option<Vec<String>>,
}

/// The target of a `Link: <…>; rel="next"` header, if the response has one.
fn next_link(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|link| link.split(';').skip(1).any(|p| p.trim() == "rel=\"next\""))
        .and_then(|link| {
            let target = link.split(';').next()?.trim();
            Some(target.strip_prefix('<')?.strip_suffix('>')?.to_owned())
        })
}

fn blob_url(repo: &ImageRef, digest: &Digest) -> String {
    format!(
        "http://{}/v2/{}/blobs/{digest}",
        repo.registry(),
        repo.repository()
    )
}

impl OpenRegistry {
    /// A reader; `allow_insecure` is cosign's `--allow-insecure-registry` (it only matters for
    /// redirects to HTTPS).
    pub(crate) fn new(allow_insecure: bool, stall: StallRule) -> Result<Self> {
        let http = builder()
            .tls_certs_only(std::iter::empty())
            .build()
            .map_err(|e| Error::Registry {
                reference: "HTTP client".into(),
                reason: e.to_string(),
            })?;
        Ok(OpenRegistry {
            http,
            tls: OnceLock::new(),
            allow_insecure,
            stall,
            no_referrers_api: Mutex::new(HashSet::new()),
            referrers_api: Mutex::new(HashSet::new()),
            referrers_probe: tokio::sync::Mutex::new(()),
        })
    }

    /// The client for HTTPS redirect targets, with the platform's trust store.
    fn tls(&self, what: &str) -> Result<&reqwest::Client> {
        self.tls
            .get_or_init(|| {
                builder()
                    .danger_accept_invalid_certs(self.allow_insecure)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|reason| Error::Registry {
                reference: what.to_owned(),
                reason: format!("cannot set up TLS: {reason}"),
            })
    }

    /// Sends a request, following redirects and retrying what the registry says may work later
    /// (see [`crate::retry`]); returns the final response whatever its status, with the number
    /// of attempts in its extensions.
    async fn send(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Response> {
        let _waiting = crate::waiting::track(what);
        let mut attempt = 1;
        loop {
            let wait = match self.send_once(method.clone(), url, accept, what).await {
                Ok(mut response) => {
                    match retry::retry_wait(response.status(), attempt, response.headers()) {
                        Some(wait) => wait,
                        None => {
                            response.extensions_mut().insert(Attempts(attempt));
                            return Ok(response);
                        }
                    }
                }
                Err(SendError::Transport(e)) => {
                    let wait =
                        retry::delay(attempt, None).filter(|_| retry::retryable_transport(&e));
                    match wait {
                        Some(wait) => wait,
                        None => {
                            let mut error = unreachable(what, &e);
                            if let Error::Unreachable { reason, .. } = &mut error {
                                reason.push_str(&retry::after(attempt));
                            }
                            return Err(error);
                        }
                    }
                }
                Err(SendError::Other(e)) => return Err(e),
            };
            tracing::debug!(what, attempt, ?wait, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt of [`OpenRegistry::send`].
    async fn send_once(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> std::result::Result<Response, SendError> {
        let mut url = reqwest::Url::parse(url).map_err(|e| Error::Registry {
            reference: what.to_owned(),
            reason: format!("invalid URL {url}: {e}"),
        })?;
        for _ in 0..=MAX_REDIRECTS {
            let client = match url.scheme() {
                "http" => &self.http,
                "https" => self.tls(what)?,
                other => {
                    return Err(Error::Registry {
                        reference: what.to_owned(),
                        reason: format!("redirected to an unsupported scheme {other:?}"),
                    }
                    .into());
                }
            };
            let mut request = client.request(method.clone(), url.clone());
            if let Some(accept) = accept {
                request = request.header(header::ACCEPT, accept);
            }
            let response = request.send().await.map_err(SendError::Transport)?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Registry {
                    reference: what.to_owned(),
                    reason: format!("HTTP {} without a Location", response.status().as_u16()),
                })?;
            url = url.join(location).map_err(|e| Error::Registry {
                reference: what.to_owned(),
                reason: format!("invalid redirect {location:?}: {e}"),
            })?;
        }
        Err(Error::Registry {
            reference: what.to_owned(),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        }
        .into())
    }

    /// Sends a request that expects success: `None` for 404, an error for any other failure.
    async fn fetch(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Option<Response>> {
        let response = self.send(method, url, accept, what).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(response)),
            _ => Err(status_error(what, response).await),
        }
    }

    /// A manifest by tag or digest: its exact bytes and their digest; `None` if absent.
    /// Refused if it exceeds 4 MiB, or if its bytes do not match the reference's digest or
    /// the digest the registry announces.
    pub(crate) async fn get_manifest(&self, image: &ImageRef) -> Result<Option<(Bytes, Digest)>> {
        let what = image.to_string();
        let accept = media_types::ALL_MANIFESTS.join(", ");
        let Some(response) = self
            .fetch(Method::GET, &manifest_url(image), Some(&accept), &what)
            .await?
        else {
            return Ok(None);
        };
        let announced = digest_header(&response);
        let body = read_limited(response, MAX_MANIFEST_SIZE as usize, &what, self.stall)
            .await?
            .ok_or_else(|| Error::Registry {
                reference: what.clone(),
                reason: format!("manifest exceeds the {MAX_MANIFEST_SIZE}-byte (4 MiB) limit"),
            })?;
        let digest = Digest::sha256_of(&body);
        // The reference's digest must match exactly (whatever its algorithm: anything else
        // would let unverified bytes through); the announced one wherever it is SHA-256.
        let wrong = |expected: &str| Error::Registry {
            reference: what.clone(),
            reason: format!("content does not match its digest: expected {expected}, got {digest}"),
        };
        if let Some(expected) = image.digest()
            && !expected.matches(&body)
        {
            return Err(wrong(expected.as_str()));
        }
        if let Some(announced) = announced
            && announced.starts_with("sha256:")
            && announced != digest.as_str()
        {
            return Err(wrong(&announced));
        }
        // A manifest pinned by another algorithm is named by that digest.
        let digest = image.digest().cloned().unwrap_or(digest);
        Ok(Some((Bytes::from(body), digest)))
    }

    /// The digest a tag or digest resolves to, from a HEAD request (a GET if the registry
    /// does not announce digests); `None` if absent.
    pub(crate) async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Digest>> {
        let what = image.to_string();
        let accept = media_types::ALL_MANIFESTS.join(", ");
        let Some(response) = self
            .fetch(Method::HEAD, &manifest_url(image), Some(&accept), &what)
            .await?
        else {
            return Ok(None);
        };
        // An announced digest is used only in the one spelling every digest here must have.
        let announced = digest_header(&response)
            .filter(|d| d.starts_with("sha256:"))
            .and_then(|d| Digest::parse(&d).ok());
        match announced {
            Some(announced) => match image.digest() {
                Some(expected) if *expected != announced => Err(Error::Registry {
                    reference: what,
                    reason: format!("the registry announces {announced} for {expected}"),
                }),
                _ => Ok(Some(announced)),
            },
            None => Ok(self.get_manifest(image).await?.map(|(_, digest)| digest)),
        }
    }

    /// Whether the repository has the blob (a HEAD request).
    pub(crate) async fn has_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<bool> {
        let what = format!("{}@{digest}", repo.repo_name());
        Ok(self
            .fetch(Method::HEAD, &blob_url(repo, digest), None, &what)
            .await?
            .is_some())
    }

    /// A blob as its announced length and a stream of chunks; the consumer checks the digest.
    pub(crate) async fn open_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> Result<(Option<u64>, BlobStream)> {
        let what = format!("{}@{digest}", repo.repo_name());
        let response = self
            .fetch(Method::GET, &blob_url(repo, digest), None, &what)
            .await?
            .ok_or_else(|| Error::NotFound {
                reference: what.clone(),
            })?;
        let length = response.content_length();
        let reason_for = what.clone();
        let stream = stall::guard(
            response.bytes_stream(),
            length,
            self.stall,
            what,
            move |e| Error::Registry {
                reference: reason_for.clone(),
                reason: format!("reading blob: {e}"),
            },
        )
        .map(|chunk| chunk.map_err(sigmirror_oci::Error::from));
        Ok((length, Box::pin(stream)))
    }

    /// Digests of the OCI 1.1 referrers of `image` (a digest reference): the referrers API,
    /// or the `sha256-<hex>` fallback tag where the registry has no API (asked once per
    /// registry); none if neither exists.
    /// Every tag of `repo`'s repository (`tags/list`, following the `Link` header from page
    /// to page); `None` if the repository does not exist. At most [`MAX_TAG_PAGES`] pages of
    /// at most 4 MiB each: a registry whose links never end is refused, not followed forever.
    pub(crate) async fn list_tags(&self, repo: &ImageRef) -> Result<Option<Vec<String>>> {
        let what = format!("{}/{} (tags/list)", repo.registry(), repo.repository());
        let base = format!("http://{}", repo.registry());
        let mut url = format!("{base}/v2/{}/tags/list", repo.repository());
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let Some(response) = self.fetch(Method::GET, &url, None, &what).await? else {
                return Ok(None);
            };
            let next = next_link(&response);
            let body = read_limited(response, MAX_MANIFEST_SIZE as usize, &what, self.stall)
                .await?
                .ok_or_else(|| Error::Registry {
                    reference: what.clone(),
                    reason: "a tags/list page exceeds 4 MiB".into(),
                })?;
            let page: TagPage = serde_json::from_slice(&body).map_err(|e| Error::Registry {
                reference: what.clone(),
                reason: format!("tags/list is not a tag list: {e}"),
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                // The spec's links are paths on the same registry; anything else is refused
                // rather than followed to another host.
                Some(path) if path.starts_with("/v2/") => url = format!("{base}{path}"),
                Some(other) => {
                    return Err(Error::Registry {
                        reference: what,
                        reason: format!(
                            "tags/list links to {other:?}, not a path of this registry"
                        ),
                    });
                }
                None => return Ok(Some(tags)),
            }
        }
        Err(Error::Registry {
            reference: what,
            reason: format!("tags/list has more than {MAX_TAG_PAGES} pages"),
        })
    }

    /// The referrers of `image`'s digest: the referrers API, else the fallback tag. With
    /// `listed`, every tag of the repository: a fallback tag not among them is not asked for.
    pub(crate) async fn referrers(
        &self,
        image: &ImageRef,
        listed: Option<&HashSet<String>>,
    ) -> Result<Vec<Digest>> {
        let Some(digest) = image.digest() else {
            return Ok(vec![]);
        };
        let what = image.to_string();
        let registry = image.registry().to_owned();
        let known = |set: &Mutex<HashSet<String>>| {
            set.lock()
                .expect("referrers sets poisoned")
                .contains(&registry)
        };
        // Until the first answer says whether the API exists, one request at a time asks.
        let _probe = if known(&self.no_referrers_api) || known(&self.referrers_api) {
            None
        } else {
            Some(self.referrers_probe.lock().await)
        };
        let api_known_missing = known(&self.no_referrers_api);
        let index = if api_known_missing {
            None
        } else {
            let url = format!(
                "http://{registry}/v2/{}/referrers/{digest}",
                image.repository()
            );
            let response = self
                .send(Method::GET, &url, Some(media_types::OCI_INDEX), &what)
                .await?;
            if response.status() == StatusCode::NOT_FOUND {
                // A registry without the API has no such route and answers a plain 404; one
                // with it answers an OCI error (an unknown repository, say): only the former
                // means "not supported" for the whole registry.
                let body = read_limited(response, MAX_ERROR_BODY, &what, self.stall).await?;
                if !body.as_deref().is_some_and(is_error_envelope) {
                    self.no_referrers_api
                        .lock()
                        .expect("referrers set poisoned")
                        .insert(registry);
                }
                None
            } else if !response.status().is_success() {
                return Err(status_error(&what, response).await);
            } else {
                self.referrers_api
                    .lock()
                    .expect("referrers sets poisoned")
                    .insert(registry.clone());
                let body = read_limited(response, MAX_MANIFEST_SIZE as usize, &what, self.stall)
                    .await?
                    .ok_or_else(|| Error::Registry {
                        reference: what.clone(),
                        reason: "referrers index exceeds the 4 MiB limit".into(),
                    })?;
                Some(Bytes::from(body))
            }
        };
        let index = match index {
            Some(body) => body,
            None if listed.is_some_and(|tags| !tags.contains(&digest.tag_form())) => {
                return Ok(vec![]);
            }
            None => {
                match self
                    .get_manifest(&image.with_tag(&digest.tag_form()))
                    .await?
                {
                    Some((bytes, _)) => bytes,
                    None => return Ok(vec![]),
                }
            }
        };
        // Like `oci-client`, an answer that is not an index counts as no referrers.
        let digests = ManifestView::parse(&index, Some(media_types::OCI_INDEX), &what)
            .map(|view| view.children().cloned().collect())
            .unwrap_or_default();
        Ok(digests)
    }
}

#[cfg(test)]
mod tests {
    use super::is_error_envelope;

    #[test]
    fn only_oci_error_bodies_are_envelopes() {
        assert!(is_error_envelope(
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#
        ));
        // What a registry without the referrers API sends: no such route.
        assert!(!is_error_envelope(b"404 page not found\n"));
        assert!(!is_error_envelope(br#"{"errors":"no"}"#));
        assert!(!is_error_envelope(b""));
    }
}
