//! Access to OCI distribution registries through `oci-client`: manifests byte for byte, blobs
//! with their digests checked, and credentials resolved the way cosign (go-containerregistry)
//! does it.
//!
//! Transport: like go-containerregistry, plain HTTP is used for `localhost`, loopback and private
//! (RFC 1918) registries, and for every registry with `--allow-http-registry`; HTTPS otherwise.
//! Credentials: `--registry-username/--registry-password` if given, else `~/.docker/config.json`
//! (`auths` and credential helpers), else anonymous; bearer-token challenges are handled by
//! `oci-client`. Reads from open plain-HTTP registries skip `oci-client` (see `open.rs` for
//! why).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use zeroize::Zeroizing;

use sigmirror_oci::manifest::{MAX_MANIFEST_SIZE, Manifest, media_type_of};
use sigmirror_oci::source::BlobStream;
use sigmirror_oci::{Digest, ImageRef, media_types};

use crate::error::{Error, Result};
use crate::open::OpenRegistry;
use crate::retry;
use crate::stall::{self, StallRule};

/// How to reach registries.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// Use plain HTTP for every registry (cosign's `--allow-http-registry`).
    pub allow_http: bool,
    /// Accept invalid TLS certificates (cosign's `--allow-insecure-registry`).
    pub allow_insecure: bool,
    /// Username for every registry in this command.
    pub username: Option<String>,
    /// Password or token for every registry in this command.
    pub password: Option<Zeroizing<String>>,
    /// When a download counts as stalled (see [`crate::stall`]).
    pub stall: StallRule,
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("allow_http", &self.allow_http)
            .field("allow_insecure", &self.allow_insecure)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("stall", &self.stall)
            .finish()
    }
}

/// A client for the registries of one command. Cheap to share behind an `Arc`.
pub struct Registry {
    options: RegistryOptions,
    clients: Mutex<HashMap<String, Client>>,
    open: Mutex<HashMap<String, bool>>,
    /// Credentials per registry, looked up once (the docker config may run a helper).
    auths: Mutex<HashMap<String, RegistryAuth>>,
    /// Reads from open plain-HTTP registries, which bypass `oci-client` (see `open.rs`);
    /// `None` if its client could not be built. Boxed: a `Registry` is held by value in enums
    /// beside small variants, and most commands never make a reader.
    reader: OnceLock<Option<Box<OpenRegistry>>>,
    /// Held while a referrers fallback index is read, changed and written: referrers of one
    /// subject copied at once would otherwise each write the index without the others.
    pub(crate) referrer_index: tokio::sync::Mutex<()>,
}

/// `GET /v2/` over plain HTTP: true for `200` without `WWW-Authenticate`.
fn ping_open(registry: &str) -> bool {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let timeout = std::time::Duration::from_secs(2);
    let addr = if registry.contains(':') && !registry.ends_with(']') {
        registry.to_owned()
    } else {
        format!("{registry}:80")
    };
    let Some(sock) = addr.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return false;
    };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&sock, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET /v2/ HTTP/1.1\r\nHost: {registry}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    head.starts_with("http/1.1 200") && !head.contains("\r\nwww-authenticate:")
}

/// Whether go-containerregistry would talk plain HTTP to `registry` by default.
fn is_local_registry(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.split(':').next().unwrap_or_default()
    };
    if host == "localhost" || host == "::1" {
        return true;
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => ip.is_loopback() || ip.is_private(),
        Err(_) => false,
    }
}

fn oci_ref(image: &ImageRef) -> Reference {
    match image.digest() {
        Some(digest) => Reference::with_digest(
            image.registry().into(),
            image.repository().into(),
            digest.to_string(),
        ),
        None => Reference::with_tag(
            image.registry().into(),
            image.repository().into(),
            image.tag().unwrap_or("latest").into(),
        ),
    }
}

/// `request`, given up on after two stall windows (never, with the check off).
async fn within_two_windows<T>(
    rule: StallRule,
    reference: &Reference,
    request: impl std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
) -> std::result::Result<T, OciDistributionError> {
    if rule.window.is_zero() {
        return request.await;
    }
    let deadline = rule.window * 2;
    tokio::time::timeout(deadline, request)
        .await
        .unwrap_or_else(|_| {
            Err(OciDistributionError::GenericError(Some(format!(
                "{TIMED_OUT}{} sent no complete answer in {} s (two --stall-timeout windows)",
                reference.registry(),
                deadline.as_secs()
            ))))
        })
}

/// How [`within_two_windows`] marks its error, which `oci-client` carries as a generic one,
/// for [`map_error`] to recognise.
const TIMED_OUT: &str = "timed out: ";

/// An `oci-client` request that failed, after how many attempts.
struct Failed {
    error: OciDistributionError,
    attempts: u32,
}

impl Failed {
    /// Our error for it (see [`map_error`]), saying how many attempts were made.
    fn into_error(self, reference: &str, auth: &RegistryAuth) -> Error {
        let mut error = map_error(reference, self.error);
        if let Error::Unauthorized { sent, .. } = &mut error {
            *sent = credentials_sent(auth);
        }
        if let Error::Registry { reason, .. } | Error::Unreachable { reason, .. } = &mut error {
            reason.push_str(&retry::after(self.attempts));
        }
        error
    }
}

/// Runs an `oci-client` request for `what`, retrying as [`crate::retry`] says. `oci-client` does not pass
/// a response's headers on with its errors, so `Retry-After` cannot be honoured on this path:
/// the backoff applies.
async fn retrying<T, F, Fut>(what: &str, mut request: F) -> std::result::Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
{
    let _waiting = crate::waiting::track(what);
    let mut attempt = 1;
    loop {
        let error = match request().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let transient = match &error {
            OciDistributionError::ServerError { code, .. } => retry::retryable_status(*code),
            OciDistributionError::RegistryError { envelope, .. } => envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, OciErrorCode::Toomanyrequests)),
            OciDistributionError::RequestError(e) => retry::retryable_transport(e),
            _ => false,
        };
        match retry::delay(attempt, None).filter(|_| transient) {
            Some(wait) => {
                tracing::debug!(attempt, ?wait, "retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            None => {
                return Err(Failed {
                    error,
                    attempts: attempt,
                });
            }
        }
    }
}

/// What credentials `auth` sends, for an error saying they were refused.
fn credentials_sent(auth: &RegistryAuth) -> Option<String> {
    match auth {
        RegistryAuth::Basic(user, _) => Some(format!("user {user:?}")),
        RegistryAuth::Bearer(token) if !token.is_empty() => Some("a bearer token".into()),
        _ => None,
    }
}

/// Maps an `oci-client` error to one of ours, keeping "not found" and "unauthorized" apart
/// because callers act on them.
fn map_error(reference: &str, e: OciDistributionError) -> Error {
    let reference = reference.to_owned();
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                Error::NotFound { reference }
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                Error::Unauthorized {
                    reference,
                    sent: None,
                }
            } else {
                let reason = envelope
                    .errors
                    .iter()
                    .map(|e| format!("{:?}: {}", e.code, e.message))
                    .collect::<Vec<_>>()
                    .join(", ");
                Error::Registry { reference, reason }
            }
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Error::Unauthorized {
            reference,
            sent: None,
        },
        OciDistributionError::ImageManifestNotFoundError(_) => Error::NotFound { reference },
        OciDistributionError::ServerError { code: 404, .. } => Error::NotFound { reference },
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => Error::Unauthorized {
            reference,
            sent: None,
        },
        OciDistributionError::ServerError { code, message, .. } => Error::Registry {
            reference,
            reason: format!("HTTP {code}: {}", message.trim()),
        },
        OciDistributionError::RequestError(err) if err.is_connect() || err.is_timeout() => {
            let mut reason = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            Error::Unreachable { reference, reason }
        }
        OciDistributionError::DigestError(d) => Error::Registry {
            reference,
            reason: format!("content does not match its digest: {d}"),
        },
        OciDistributionError::GenericError(Some(message)) if message.starts_with(TIMED_OUT) => {
            Error::TimedOut {
                reference,
                reason: message[TIMED_OUT.len()..].to_owned(),
            }
        }
        other => Error::Registry {
            reference,
            reason: other.to_string(),
        },
    }
}

/// Reads `docker-config`-style credentials for `registry`.
fn docker_config_auth(registry: &str) -> RegistryAuth {
    let mut keys = vec![registry.to_owned()];
    if registry == sigmirror_oci::reference::DOCKER_HUB {
        keys.extend(["docker.io".into(), "https://index.docker.io/v1/".into()]);
    }
    for key in keys {
        match docker_credential::get_credential(&key) {
            Ok(docker_credential::DockerCredential::UsernamePassword(user, pass)) => {
                return RegistryAuth::Basic(user, pass);
            }
            Ok(docker_credential::DockerCredential::IdentityToken(_)) => {
                tracing::warn!(
                    "{registry}: identity tokens in the docker config are not supported; \
                     trying anonymous access"
                );
                return RegistryAuth::Anonymous;
            }
            Err(_) => continue,
        }
    }
    RegistryAuth::Anonymous
}

impl Registry {
    /// A client with `options`.
    pub fn new(options: RegistryOptions) -> Self {
        Registry {
            options,
            clients: Mutex::new(HashMap::new()),
            open: Mutex::new(HashMap::new()),
            auths: Mutex::new(HashMap::new()),
            reader: OnceLock::new(),
            referrer_index: tokio::sync::Mutex::new(()),
        }
    }

    /// The reader for `registry` if it is an open plain-HTTP registry that this command
    /// reaches anonymously.
    fn open_reader(&self, registry: &str) -> Option<&OpenRegistry> {
        match self.auth(registry) {
            RegistryAuth::Bearer(token) if token.is_empty() => self
                .reader
                .get_or_init(|| {
                    OpenRegistry::new(self.options.allow_insecure, self.options.stall)
                        .ok()
                        .map(Box::new)
                })
                .as_deref(),
            _ => None,
        }
    }

    /// The `oci-client` client for `registry`, made on first use (protocol is per registry).
    fn client(&self, registry: &str) -> Client {
        let mut clients = self.clients.lock().expect("registry client map poisoned");
        clients
            .entry(registry.to_owned())
            .or_insert_with(|| {
                let plain = self.options.allow_http || is_local_registry(registry);
                Client::new(ClientConfig {
                    protocol: if plain {
                        ClientProtocol::Http
                    } else {
                        ClientProtocol::Https
                    },
                    accept_invalid_certificates: self.options.allow_insecure,
                    read_timeout: Some(std::time::Duration::from_secs(120)),
                    connect_timeout: Some(std::time::Duration::from_secs(10)),
                    ..ClientConfig::default()
                })
            })
            .clone()
    }

    /// The credentials for `registry`, resolved on first use.
    fn auth(&self, registry: &str) -> RegistryAuth {
        if let Some(auth) = self
            .auths
            .lock()
            .expect("registry auth map poisoned")
            .get(registry)
        {
            return auth.clone();
        }
        let auth = self.resolve_auth(registry);
        self.auths
            .lock()
            .expect("registry auth map poisoned")
            .insert(registry.to_owned(), auth.clone());
        auth
    }

    fn resolve_auth(&self, registry: &str) -> RegistryAuth {
        match (&self.options.username, &self.options.password) {
            (Some(user), Some(pass)) => RegistryAuth::Basic(user.clone(), pass.to_string()),
            (Some(user), None) => RegistryAuth::Basic(user.clone(), String::new()),
            _ => match docker_config_auth(registry) {
                RegistryAuth::Anonymous if self.is_open(registry) => {
                    // oci-client pings `/v2/` before every request of an anonymous client,
                    // because "no challenge" is never cached; an empty bearer token makes it
                    // skip the ping. Only for registries that answered `/v2/` without a
                    // challenge, which ignore the header.
                    RegistryAuth::Bearer(String::new())
                }
                other => other,
            },
        }
    }

    /// Whether a plain-HTTP registry answers `GET /v2/` with 200 and no authentication
    /// challenge (asked once per registry, over a raw connection: no TLS, no client setup).
    fn is_open(&self, registry: &str) -> bool {
        if !(self.options.allow_http || is_local_registry(registry)) {
            return false;
        }
        let mut open = self.open.lock().expect("registry open map poisoned");
        *open
            .entry(registry.to_owned())
            .or_insert_with(|| ping_open(registry))
    }

    /// Authenticates for `op` on the image's repository (no-op for anonymous registries).
    async fn login(&self, client: &Client, image: &ImageRef, op: RegistryOperation) -> Result<()> {
        let auth = self.auth(image.registry());
        let reference = oci_ref(image);
        retrying(&image.to_string(), || client.auth(&reference, &auth, op))
            .await
            .map(|_| ())
            .map_err(|e| e.into_error(&image.to_string(), &self.auth(image.registry())))
    }

    /// Fetches a manifest by tag or digest; `Ok(None)` if the registry does not have it.
    pub async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        let (bytes, digest): (Bytes, Digest) = if let Some(reader) =
            self.open_reader(image.registry())
        {
            match reader.get_manifest(image).await? {
                Some(found) => found,
                None => return Ok(None),
            }
        } else {
            let client = self.client(image.registry());
            let auth = self.auth(image.registry());
            let reference = oci_ref(image);
            let result = retrying(&image.to_string(), || {
                // oci-client reads the body whole: one deadline of two stall windows.
                let pull = client.pull_manifest_raw(&reference, &auth, media_types::ALL_MANIFESTS);
                within_two_windows(self.options.stall, &reference, pull)
            })
            .await;
            match result {
                Ok((bytes, digest)) => {
                    let digest = Digest::parse(&digest).map_err(|_| Error::Registry {
                        reference: image.to_string(),
                        reason: format!(
                            "the manifest's digest {digest:?} is not one sigmirror accepts"
                        ),
                    })?;
                    (bytes, digest)
                }
                Err(e) => {
                    return match e.into_error(&image.to_string(), &self.auth(image.registry())) {
                        Error::NotFound { .. } => Ok(None),
                        other => Err(other),
                    };
                }
            }
        };
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(Error::Registry {
                reference: image.to_string(),
                reason: format!("manifest of {} bytes exceeds the 4 MiB limit", bytes.len()),
            });
        }
        let media_type = media_type_of(&bytes);
        Ok(Some(Manifest {
            bytes,
            digest,
            media_type,
        }))
    }

    /// Fetches a manifest that must exist.
    pub async fn resolve(&self, image: &ImageRef) -> Result<Manifest> {
        self.get_manifest(image)
            .await?
            .ok_or_else(|| Error::NotFound {
                reference: image.to_string(),
            })
    }

    /// Uploads a blob unless the repository already has it.
    pub async fn put_blob(&self, repo: &ImageRef, data: Bytes) -> Result<Digest> {
        let digest = Digest::sha256_of(&data);
        let client = self.client(repo.registry());
        self.login(&client, repo, RegistryOperation::Push).await?;
        let reference = oci_ref(repo);
        let exists = retrying(&format!("{}@{digest}", repo.repo_name()), || {
            client.blob_exists(&reference, digest.as_str())
        })
        .await
        .map_err(|e| e.into_error(&repo.to_string(), &self.auth(repo.registry())))?;
        if !exists {
            retrying(&format!("{}@{digest}", repo.repo_name()), || {
                client.push_blob(&reference, data.clone(), digest.as_str())
            })
            .await
            .map_err(|e| e.into_error(&repo.to_string(), &self.auth(repo.registry())))?;
        }
        Ok(digest)
    }

    /// Stores a manifest at the image's tag (or digest), byte for byte.
    pub async fn put_manifest(
        &self,
        image: &ImageRef,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<()> {
        let client = self.client(image.registry());
        self.login(&client, image, RegistryOperation::Push).await?;
        let content_type =
            http::HeaderValue::from_str(media_type).map_err(|_| Error::Registry {
                reference: image.to_string(),
                reason: format!("invalid media type {media_type:?}"),
            })?;
        let reference = oci_ref(image);
        retrying(&image.to_string(), || {
            client.push_manifest_raw(&reference, bytes.clone(), content_type.clone())
        })
        .await
        .map(|_| ())
        .map_err(|e| e.into_error(&image.to_string(), &self.auth(image.registry())))
    }

    /// Fetches a blob into memory, refusing more than `max_size` bytes and checking the digest.
    pub async fn get_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        max_size: u64,
    ) -> Result<Vec<u8>> {
        let what = format!("{}@{digest}", repo.repo_name());
        let (length, mut stream) = self.blob_stream(repo, digest).await?;
        if length.is_some_and(|n| n > max_size) {
            return Err(Error::Registry {
                reference: what,
                reason: format!("blob larger than the {max_size}-byte limit"),
            });
        }
        let mut data = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if (data.len() + chunk.len()) as u64 > max_size {
                return Err(Error::Registry {
                    reference: what,
                    reason: format!("blob larger than the {max_size}-byte limit"),
                });
            }
            data.extend_from_slice(&chunk);
        }
        if !digest.matches(&data) {
            let actual = Digest::sha256_of(&data);
            return Err(Error::Registry {
                reference: what,
                reason: format!("blob content has digest {actual}"),
            });
        }
        Ok(data)
    }

    /// Every tag of `repo`'s repository; `None` if the registry does not know the repository.
    /// Through `oci-client` (registries that want a login) pages are asked for with `n` and
    /// `last` until one comes back empty, because that client does not show the `Link` header
    /// that would say which page is the last.
    pub async fn list_tags(&self, repo: &ImageRef) -> Result<Option<Vec<String>>> {
        if let Some(reader) = self.open_reader(repo.registry()) {
            return reader.list_tags(repo).await;
        }
        const PAGE: usize = 1000;
        const MAX_PAGES: usize = 1000;
        let client = self.client(repo.registry());
        let auth = self.auth(repo.registry());
        let reference = oci_ref(repo);
        let what = format!("{}/{} (tags/list)", repo.registry(), repo.repository());
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..MAX_PAGES {
            let last = tags.last().cloned();
            let page = match retrying(&what, || {
                client.list_tags(&reference, &auth, Some(PAGE), last.as_deref())
            })
            .await
            {
                Ok(page) => page.tags,
                Err(e) => match e.into_error(&what, &auth) {
                    Error::NotFound { .. } if tags.is_empty() => return Ok(None),
                    other => return Err(other),
                },
            };
            // A page that repeats the last tag, or is empty, ends the list.
            let fresh: Vec<String> = page
                .into_iter()
                .filter(|t| last.as_ref().is_none_or(|l| t > l))
                .collect();
            if fresh.is_empty() {
                return Ok(Some(tags));
            }
            tags.extend(fresh);
        }
        Err(Error::Registry {
            reference: what,
            reason: format!("tags/list has more than {MAX_PAGES} pages"),
        })
    }

    /// The tags of `repo`'s repository where listing them is one request or a few (the plain
    /// HTTP reader, which follows the `Link` header); `None` where it would take pages of
    /// guesses (see [`Self::list_tags`]), or where the repository is unknown.
    pub async fn quick_tags(&self, repo: &ImageRef) -> Result<Option<Vec<String>>> {
        match self.open_reader(repo.registry()) {
            Some(reader) => reader.list_tags(repo).await,
            None => Ok(None),
        }
    }

    /// Digests of the OCI 1.1 referrers of `image` (a digest reference): the referrers API, or
    /// the `sha256-<hex>` fallback tag where the registry has no API; none if neither exists.
    pub async fn referrers(&self, image: &ImageRef) -> Result<Vec<Digest>> {
        self.referrers_among(image, None).await
    }

    /// [`Self::referrers`], knowing (with `listed`) every tag of the repository: where the
    /// referrers are only at the fallback tag, a tag not listed is not asked for.
    pub async fn referrers_among(
        &self,
        image: &ImageRef,
        listed: Option<&HashSet<String>>,
    ) -> Result<Vec<Digest>> {
        if let Some(reader) = self.open_reader(image.registry()) {
            return reader.referrers(image, listed).await;
        }
        let client = self.client(image.registry());
        let auth = self.auth(image.registry());
        client.store_auth_if_needed(image.registry(), &auth).await;
        let reference = oci_ref(image);
        match retrying(&image.to_string(), || {
            client.pull_referrers(&reference, None)
        })
        .await
        {
            Ok(index) => Ok(index
                .manifests
                .into_iter()
                .filter_map(|m| Digest::parse(&m.digest).ok())
                .collect()),
            Err(e) => match e.into_error(&image.to_string(), &self.auth(image.registry())) {
                Error::NotFound { .. } => Ok(vec![]),
                other => Err(other),
            },
        }
    }

    /// Whether the repository has the manifest `digest` (a HEAD request).
    pub async fn has_manifest(&self, repo: &ImageRef, digest: &Digest) -> Result<bool> {
        Ok(self
            .head_manifest(&repo.with_digest(digest))
            .await?
            .is_some())
    }

    /// The digest a tag or digest resolves to, from a HEAD request; `Ok(None)` if absent.
    pub async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Digest>> {
        if let Some(reader) = self.open_reader(image.registry()) {
            return reader.head_manifest(image).await;
        }
        let client = self.client(image.registry());
        let auth = self.auth(image.registry());
        let reference = oci_ref(image);
        match retrying(&image.to_string(), || {
            client.fetch_manifest_digest(&reference, &auth)
        })
        .await
        {
            Ok(digest) if digest.starts_with("sha256:") && Digest::parse(&digest).is_ok() => {
                Ok(Digest::parse(&digest).ok())
            }
            // A digest in another spelling is never used to build a reference: the manifest
            // itself says what it hashes to.
            Ok(_) => Ok(self.get_manifest(image).await?.map(|m| m.digest)),
            Err(e) => match e.into_error(&image.to_string(), &self.auth(image.registry())) {
                Error::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Whether the repository has the blob `digest` (a HEAD request).
    pub async fn has_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<bool> {
        if let Some(reader) = self.open_reader(repo.registry()) {
            return reader.has_blob(repo, digest).await;
        }
        let client = self.client(repo.registry());
        let auth = self.auth(repo.registry());
        client.store_auth_if_needed(repo.registry(), &auth).await;
        let reference = oci_ref(repo);
        retrying(&format!("{}@{digest}", repo.repo_name()), || {
            client.blob_exists(&reference, digest.as_str())
        })
        .await
        .map_err(|e| {
            e.into_error(
                &format!("{}@{digest}", repo.repo_name()),
                &self.auth(repo.registry()),
            )
        })
    }

    /// A blob as a stream of chunks; the consumer checks the digest.
    pub async fn open_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        Ok(self.blob_stream(repo, digest).await?.1)
    }

    /// A blob as its announced length and a stream of chunks; the consumer checks the digest.
    async fn blob_stream(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> Result<(Option<u64>, BlobStream)> {
        if let Some(reader) = self.open_reader(repo.registry()) {
            return reader.open_blob(repo, digest).await;
        }
        let what = format!("{}@{digest}", repo.repo_name());
        let client = self.client(repo.registry());
        let auth = self.auth(repo.registry());
        client.store_auth_if_needed(repo.registry(), &auth).await;
        let reference = oci_ref(repo);
        let stream = retrying(&format!("{}@{digest}", repo.repo_name()), || {
            client.pull_blob_stream(&reference, digest.as_str())
        })
        .await
        .map_err(|e| e.into_error(&what, &self.auth(repo.registry())))?;
        let length = stream.content_length;
        let reason_for = what.clone();
        let chunks = stall::guard(stream, length, self.options.stall, what, move |e| {
            Error::Registry {
                reference: reason_for.clone(),
                reason: format!("reading blob: {e}"),
            }
        })
        .map(|chunk| chunk.map_err(sigmirror_oci::Error::from));
        Ok((length, Box::pin(chunks)))
    }

    /// Uploads a blob from a stream (chunked upload, so memory stays flat). The stream is
    /// hashed on the way and the upload is refused if it does not match `digest`/`size`:
    /// the registry then never commits it.
    pub async fn put_blob_stream(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        size: u64,
        stream: BlobStream,
    ) -> Result<()> {
        let what = format!("{}@{digest}", repo.repo_name());
        let client = self.client(repo.registry());
        self.login(&client, repo, RegistryOperation::Push).await?;
        let checked = sigmirror_oci::stream::check_stream(stream, digest, size, what.clone());
        let oci_stream = checked.map(|chunk| {
            chunk.map_err(|e| OciDistributionError::GenericError(Some(e.to_string())))
        });
        client
            .push_blob_stream(&oci_ref(repo), oci_stream, digest.as_str(), Some(size))
            .await
            .map(|_| ())
            .map_err(|e| match e {
                OciDistributionError::GenericError(Some(reason)) => Error::Registry {
                    reference: what.clone(),
                    reason,
                },
                other => map_error(&what, other),
            })
    }

    /// Deletes the manifest `digest` from the repository (registries must allow deletion).
    pub async fn delete_manifest(&self, repo: &ImageRef, digest: &Digest) -> Result<()> {
        let what = format!("{}@{digest}", repo.repo_name());
        let scheme = if self.options.allow_http || is_local_registry(repo.registry()) {
            "http"
        } else {
            "https"
        };
        let url = format!(
            "{scheme}://{}/v2/{}/manifests/{digest}",
            repo.registry(),
            repo.repository()
        );
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(self.options.allow_insecure)
            .build()
            .map_err(|e| Error::Registry {
                reference: what.clone(),
                reason: e.to_string(),
            })?;
        let mut request = http.delete(&url);
        if let RegistryAuth::Basic(user, pass) = self.auth(repo.registry()) {
            request = request.basic_auth(user, Some(pass));
        }
        let response = request.send().await.map_err(|e| Error::Unreachable {
            reference: what.clone(),
            reason: e.to_string(),
        })?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            404 => Err(Error::NotFound { reference: what }),
            401 | 403 => Err(Error::Unauthorized {
                reference: what,
                sent: credentials_sent(&self.auth(repo.registry())),
            }),
            405 => Err(Error::Registry {
                reference: what,
                reason: "the registry does not allow deleting manifests".into(),
            }),
            code => Err(Error::Registry {
                reference: what,
                reason: format!("HTTP {code}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_local_registry;

    #[test]
    fn local_registries_use_http_like_ggcr() {
        for local in [
            "localhost:5000",
            "127.0.0.1:5000",
            "10.1.2.3",
            "192.168.0.1:443",
            "[::1]:5000",
        ] {
            assert!(is_local_registry(local), "{local}");
        }
        for remote in [
            "ghcr.io",
            "index.docker.io",
            "8.8.8.8:5000",
            "registry.internal:5000",
        ] {
            assert!(!is_local_registry(remote), "{remote}");
        }
    }
}
