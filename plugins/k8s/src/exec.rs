//! kubeconfig `exec` credential plugins (`aws eks get-token`, `gke-gcloud-auth-plugin`,
//! `kubelogin` …): run the command and use the token or client certificate from the
//! `ExecCredential` it prints. Non-interactive: its stdin is empty, its stderr is passed on.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::kubeconfig::{Auth, ClusterConfig, identity};

/// Runs the plugin `exec` describes and stores its credential in `config`.
pub fn apply(config: &mut ClusterConfig, exec: &Value, user: &str) -> Result<(), String> {
    let command = exec
        .get("command")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("kubeconfig user {user:?}: exec has no command"))?;
    let api_version = exec
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("client.authentication.k8s.io/v1");
    let args: Vec<&str> = exec
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut cmd = Command::new(command);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env(
            "KUBERNETES_EXEC_INFO",
            json!({
                "apiVersion": api_version,
                "kind": "ExecCredential",
                "spec": { "interactive": false },
            })
            .to_string(),
        );
    for var in exec
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(name), Some(value)) = (
            var.get("name").and_then(Value::as_str),
            var.get("value").and_then(Value::as_str),
        ) {
            cmd.env(name, value);
        }
    }
    let output = cmd.output().map_err(|e| {
        format!("cannot run the credential plugin {command:?} of user {user:?}: {e}")
    })?;
    if !output.status.success() {
        return Err(format!(
            "the credential plugin {command:?} of user {user:?} failed ({})",
            output.status
        ));
    }
    let stdout = Zeroizing::new(output.stdout);
    let credential: Value = serde_json::from_slice(&stdout).map_err(|e| {
        format!("the credential plugin {command:?} printed no ExecCredential JSON: {e}")
    })?;
    let status = credential.get("status").cloned().unwrap_or(Value::Null);
    let field = |k: &str| status.get(k).and_then(Value::as_str);
    if let Some(token) = field("token") {
        config.auth = Auth::Bearer(Zeroizing::new(token.to_owned()));
    }
    if let (Some(cert), Some(key)) = (field("clientCertificateData"), field("clientKeyData")) {
        config.client_identity = Some(identity(cert.as_bytes(), key.as_bytes()));
    }
    if matches!(config.auth, Auth::None) && config.client_identity.is_none() {
        return Err(format!(
            "the credential plugin {command:?} returned neither a token nor a client certificate"
        ));
    }
    Ok(())
}
