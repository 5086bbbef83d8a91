//! The blocking HTTP client the backends share, and error text that says what failed.
//!
//! reqwest's blocking client runs its own small runtime on a thread it owns; the host calls
//! plugins from plain or `spawn_blocking` threads, and this library's copy of tokio never sees
//! the host's runtime, so nothing async crosses the ABI.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::blocking::{Client, ClientBuilder};
use serde_json::Value;
use zeroize::Zeroizing;

/// How long one request may take before the user gets an error instead of a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for a TCP/TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A builder with the plugin's timeouts; backends add TLS settings.
pub fn builder() -> ClientBuilder {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("sigmirror-kms-plugin/", env!("CARGO_PKG_VERSION")))
}

/// Builds the client, with a readable error.
pub fn build(builder: ClientBuilder) -> Result<Client, String> {
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
}

/// `e` and its sources on one line ("error sending request …: tcp connect error: Connection
/// refused"), because the top-level message alone hides the cause.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The message for a request that got no HTTP answer at all (server down, DNS, TLS).
pub fn unreachable(service: &str, url: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    format!(
        "cannot reach {service} at {url} (request {what}): {}",
        chain(e)
    )
}

/// An OAuth 2.0 access token, kept until a minute before it expires.
#[derive(Default)]
pub struct TokenCache(Mutex<Option<(Zeroizing<String>, SystemTime)>>);

impl TokenCache {
    /// The kept token, or a new one from `fetch` (the token and its lifetime in seconds).
    pub fn get(
        &self,
        fetch: impl FnOnce() -> Result<(Zeroizing<String>, u64), String>,
    ) -> Result<Zeroizing<String>, String> {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((token, _)) = kept
            .as_ref()
            .filter(|(_, until)| SystemTime::now() < *until)
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch()?;
        let until = SystemTime::now() + Duration::from_secs(lifetime.saturating_sub(60));
        *kept = Some((token.clone(), until));
        Ok(token)
    }
}

/// An access token with its lifetime in seconds, or the token endpoint's refusal: its HTTP
/// status and its own words.
pub type TokenAnswer = Result<(Zeroizing<String>, u64), (u16, String)>;

/// Asks the OAuth 2.0 token endpoint `url` of `service` for an access token with the form
/// `body` (already encoded; it may hold a secret). `Ok(Err((status, why)))` is the endpoint's
/// refusal, in its own words.
pub fn oauth_token(
    client: &Client,
    service: &str,
    url: &str,
    body: &Zeroizing<String>,
) -> Result<TokenAnswer, String> {
    let response = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.as_bytes().to_vec())
        .send()
        .map_err(|e| unreachable(service, url, &e))?;
    let status = response.status();
    let answer: Value = response
        .bytes()
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("{service} answered invalid JSON: {e}"))?;
    Ok(match answer.get("access_token").and_then(Value::as_str) {
        Some(token) if status.is_success() => Ok((
            Zeroizing::new(token.to_owned()),
            answer
                .get("expires_in")
                .and_then(Value::as_u64)
                .unwrap_or(3600),
        )),
        _ => Err((
            status.as_u16(),
            answer
                .get("error_description")
                .or_else(|| answer.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("(no description)")
                .to_owned(),
        )),
    })
}

/// A JSON API call with a bearer token: the status and the answer's JSON (`Null` when it has
/// none). Only a call that got no answer at all is an error here.
pub fn bearer_json(
    client: &Client,
    service: &str,
    method: Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().map_err(|e| unreachable(service, url, &e))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .map_err(|e| format!("reading the {service} answer: {}", chain(&e)))?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// What a call to a key service can end in, besides its answer.
pub enum CallError {
    /// The service answered with an error: its HTTP status, error code and message.
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// No usable answer: network, TLS, malformed response.
    Other(String),
}

/// A JSON API call with a bearer token (see [`bearer_json`]); an error status becomes
/// [`CallError::Api`] with the code at `/error/<code_field>` and the message at
/// `/error/message` of the answer, as Google's and Azure's APIs put them.
pub fn api_call(
    client: &Client,
    service: &str,
    method: Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
    code_field: &str,
) -> Result<Value, CallError> {
    let (status, json) =
        bearer_json(client, service, method, url, token, body).map_err(CallError::Other)?;
    if (200..300).contains(&status) {
        return Ok(json);
    }
    let field = |name: &str| {
        json.pointer(&format!("/error/{name}"))
            .and_then(Value::as_str)
    };
    Err(CallError::Api {
        status,
        code: field(code_field).unwrap_or("UNKNOWN").to_owned(),
        message: field("message").unwrap_or("(no message)").to_owned(),
    })
}

/// A value asked of a service once per instance (a key's public half and how it signs).
pub struct Cached<T>(Mutex<Option<T>>);

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Cached(Mutex::new(None))
    }
}

impl<T: Clone> Cached<T> {
    /// The kept value, or the one `fetch` gives, then kept (an error is not).
    pub fn get<E>(&self, fetch: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        // A cache: a panic while it was held leaves at worst nothing in it.
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(value) = kept.as_ref() {
            return Ok(value.clone());
        }
        let value = fetch()?;
        *kept = Some(value.clone());
        Ok(value)
    }

    /// Keeps `value` (what creating the key answered).
    pub fn set(&self, value: T) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
    }
}
