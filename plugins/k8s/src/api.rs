//! The two Secret calls sigmirror needs, on the core/v1 REST API: get and create.

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;

use crate::kubeconfig::{Auth, ClusterConfig};

/// How long one request may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A client for one API server.
pub struct Api {
    client: Client,
    config: ClusterConfig,
}

/// A failed call: the API's `Status` answer, or no answer.
pub enum ApiError {
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    Other(String),
}

fn chain(e: &dyn std::error::Error) -> String {
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

impl Api {
    /// Builds the HTTP client with the configuration's TLS settings.
    pub fn new(config: ClusterConfig) -> Result<Self, String> {
        let mut builder = Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("sigmirror-k8s-plugin/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                format!(
                    "invalid certificate authority in {}: {}",
                    config.source,
                    chain(&e)
                )
            })?;
            builder = builder.tls_certs_only(certs);
        }
        if config.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let Some(pem) = &config.client_identity {
            let identity = reqwest::Identity::from_pem(pem).map_err(|e| {
                format!(
                    "invalid client certificate or key in {}: {}",
                    config.source,
                    chain(&e)
                )
            })?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        Ok(Api { client, config })
    }

    /// Where the configuration came from.
    pub fn source(&self) -> &str {
        &self.config.source
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.config.server
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.config.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.as_str()),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password.as_str())),
        }
    }

    fn send(&self, request: RequestBuilder) -> Result<Value, ApiError> {
        let response = self
            .authed(request.header("Accept", "application/json"))
            .send()
            .map_err(|e| {
                ApiError::Other(format!(
                    "cannot reach the Kubernetes API at {} ({}): {}",
                    self.config.server,
                    self.config.source,
                    chain(&e)
                ))
            })?;
        let status = response.status();
        let bytes = response.bytes().map_err(|e| {
            ApiError::Other(format!("reading the Kubernetes answer: {}", chain(&e)))
        })?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        Err(ApiError::Status {
            code: status.as_u16(),
            reason: text("reason")
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned()),
            message: text("message")
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect()),
        })
    }

    fn secrets_url(&self, namespace: &str) -> String {
        format!(
            "{}/api/v1/namespaces/{namespace}/secrets",
            self.config.server
        )
    }

    /// `GET …/secrets/NAME`.
    pub fn get_secret(&self, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.send(
            self.client
                .get(format!("{}/{name}", self.secrets_url(namespace))),
        )
    }

    /// `POST …/secrets`.
    pub fn create_secret(&self, namespace: &str, secret: &Value) -> Result<Value, ApiError> {
        let body = serde_json::to_vec(secret).map_err(|e| ApiError::Other(e.to_string()))?;
        self.send(
            self.client
                .post(self.secrets_url(namespace))
                .header("Content-Type", "application/json")
                .body(body),
        )
    }
}
