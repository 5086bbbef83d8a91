//! Where the Kubernetes API is and how to authenticate, in the order cosign (through
//! controller-runtime) looks: the files in `KUBECONFIG`, then the in-cluster service account
//! (`KUBERNETES_SERVICE_HOST`/`_PORT` and `/var/run/secrets/kubernetes.io/serviceaccount`),
//! then `~/.kube/config`.
//!
//! From a kubeconfig the current context's cluster (`server`, `certificate-authority[-data]`,
//! `insecure-skip-tls-verify`) and user (`token`, `tokenFile`, `client-certificate[-data]` +
//! `client-key[-data]`, `username`/`password`, or an `exec` credential plugin) are used.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sigmirror_cosign::b64;
use zeroize::Zeroizing;

/// The service-account folder of a pod.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// How requests authenticate.
pub enum Auth {
    None,
    Bearer(Zeroizing<String>),
    Basic(String, Zeroizing<String>),
}

/// Everything needed to talk to one API server.
pub struct ClusterConfig {
    /// `https://host:port` (or `http://` for a plain server), no trailing slash.
    pub server: String,
    /// PEM CA certificates to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip server certificate checks (`insecure-skip-tls-verify: true`).
    pub insecure: bool,
    /// Client certificate followed by its key, PEM.
    pub client_identity: Option<Zeroizing<Vec<u8>>>,
    pub auth: Auth,
    /// Where the configuration came from, for messages.
    pub source: String,
}

impl std::fmt::Debug for ClusterConfig {
    // Never print tokens, passwords or keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("server", &self.server)
            .field("insecure", &self.insecure)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Loads the configuration as described in the module documentation.
pub fn load() -> Result<ClusterConfig, String> {
    if let Some(list) = env("KUBECONFIG") {
        let paths: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        return from_kubeconfig_files(&paths);
    }
    if let (Some(host), Some(port)) = (
        env("KUBERNETES_SERVICE_HOST"),
        env("KUBERNETES_SERVICE_PORT"),
    ) {
        return in_cluster(&host, &port, Path::new(SERVICE_ACCOUNT_DIR));
    }
    let home_config = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".kube/config"));
    match home_config {
        Some(path) if path.is_file() => from_kubeconfig_files(&[path]),
        _ => Err(
            "no Kubernetes configuration: set KUBECONFIG, create ~/.kube/config, or run in \
                  a pod with a service account"
                .into(),
        ),
    }
}

/// The in-cluster configuration from a service-account folder.
pub fn in_cluster(host: &str, port: &str, dir: &Path) -> Result<ClusterConfig, String> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| {
            format!(
                "in-cluster configuration: cannot read {}: {e}",
                dir.join(name).display()
            )
        })
    };
    let token = Zeroizing::new(
        String::from_utf8(read("token")?)
            .map_err(|_| "in-cluster configuration: the token is not UTF-8".to_owned())?
            .trim()
            .to_owned(),
    );
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    Ok(ClusterConfig {
        server: format!("https://{host}:{port}"),
        ca_pem: Some(read("ca.crt")?),
        insecure: false,
        client_identity: None,
        auth: Auth::Bearer(token),
        source: format!("in-cluster service account ({})", dir.display()),
    })
}

/// One kubeconfig file, parsed, with its folder for relative paths.
struct File {
    path: PathBuf,
    doc: Value,
}

impl File {
    /// The entry `name` of the list `list` (`clusters`, `users`, `contexts`), its inner object.
    fn named(&self, list: &str, inner: &str, name: &str) -> Option<&Value> {
        self.doc
            .get(list)?
            .as_array()?
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(name))?
            .get(inner)
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }
}

/// The kubeconfig files merged as kubectl does: the first file to set `current-context` wins,
/// and so does the first definition of each cluster, user and context name.
pub fn from_kubeconfig_files(paths: &[PathBuf]) -> Result<ClusterConfig, String> {
    let mut files = vec![];
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read kubeconfig {}: {e}", path.display())),
        };
        let doc = sigmirror_oci::yaml::parse(&text)
            .map_err(|e| format!("invalid kubeconfig {}: {e}", path.display()))?;
        files.push(File {
            path: path.clone(),
            doc,
        });
    }
    let shown = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    if files.is_empty() {
        return Err(format!("no kubeconfig file found at {shown}"));
    }
    let context_name = files
        .iter()
        .find_map(|f| {
            f.doc
                .get("current-context")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
        })
        .ok_or_else(|| format!("kubeconfig {shown} has no current-context"))?;
    let find = |list: &str, inner: &str, name: &str| {
        files
            .iter()
            .find_map(|f| f.named(list, inner, name).map(|v| (f, v)))
    };
    let (_, context) = find("contexts", "context", context_name)
        .ok_or_else(|| format!("kubeconfig {shown}: context {context_name:?} is not defined"))?;
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let cluster_name = str_of(context, "cluster")
        .ok_or_else(|| format!("kubeconfig {shown}: context {context_name:?} names no cluster"))?;
    let (cluster_file, cluster) = find("clusters", "cluster", &cluster_name)
        .ok_or_else(|| format!("kubeconfig {shown}: cluster {cluster_name:?} is not defined"))?;
    let server = str_of(cluster, "server")
        .ok_or_else(|| format!("kubeconfig {shown}: cluster {cluster_name:?} has no server"))?
        .trim_end_matches('/')
        .to_owned();
    let ca_pem = data_or_file(
        cluster_file,
        cluster,
        "certificate-authority-data",
        "certificate-authority",
    )?
    .map(|pem| pem.to_vec());
    let insecure = match cluster.get("insecure-skip-tls-verify") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let mut config = ClusterConfig {
        server,
        ca_pem,
        insecure,
        client_identity: None,
        auth: Auth::None,
        source: format!("kubeconfig {shown}, context {context_name:?}"),
    };
    if let Some(user_name) = str_of(context, "user") {
        let (user_file, user) = find("users", "user", &user_name)
            .ok_or_else(|| format!("kubeconfig {shown}: user {user_name:?} is not defined"))?;
        apply_user(&mut config, user_file, user, &user_name)?;
    }
    Ok(config)
}

/// Base64 `data_key` or the file `file_key` names (relative to the kubeconfig).
fn data_or_file(
    file: &File,
    entry: &Value,
    data_key: &str,
    file_key: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    if let Some(data) = entry.get(data_key).and_then(Value::as_str) {
        return b64::decode_lenient(data.as_bytes())
            .map(|d| Some(Zeroizing::new(d)))
            .map_err(|e| {
                format!(
                    "kubeconfig {}: {data_key} is not base64: {e}",
                    file.path.display()
                )
            });
    }
    if let Some(path) = entry.get(file_key).and_then(Value::as_str) {
        let path = file.resolve(path);
        return std::fs::read(&path)
            .map(|d| Some(Zeroizing::new(d)))
            .map_err(|e| {
                format!(
                    "kubeconfig {}: cannot read {file_key} {}: {e}",
                    file.path.display(),
                    path.display()
                )
            });
    }
    Ok(None)
}

fn apply_user(
    config: &mut ClusterConfig,
    file: &File,
    user: &Value,
    name: &str,
) -> Result<(), String> {
    let cert = data_or_file(file, user, "client-certificate-data", "client-certificate")?;
    let key = data_or_file(file, user, "client-key-data", "client-key")?;
    match (cert, key) {
        (Some(cert), Some(key)) => config.client_identity = Some(identity(&cert, &key)),
        (None, None) => {}
        _ => {
            return Err(format!(
                "kubeconfig user {name:?} has a client certificate or key but not both"
            ));
        }
    }
    if let Some(token) = user.get("token").and_then(Value::as_str) {
        config.auth = Auth::Bearer(Zeroizing::new(token.to_owned()));
    } else if let Some(path) = user.get("tokenFile").and_then(Value::as_str) {
        let path = file.resolve(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read tokenFile {} of user {name:?}: {e}",
                path.display()
            )
        })?;
        config.auth = Auth::Bearer(Zeroizing::new(text.trim().to_owned()));
    } else if let (Some(u), Some(p)) = (
        user.get("username").and_then(Value::as_str),
        user.get("password").and_then(Value::as_str),
    ) {
        config.auth = Auth::Basic(u.to_owned(), Zeroizing::new(p.to_owned()));
    } else if let Some(exec) = user.get("exec") {
        crate::exec::apply(config, exec, name)?;
    } else if user.get("auth-provider").is_some() {
        return Err(format!(
            "kubeconfig user {name:?} uses an auth-provider, which sigmirror does not support; \
             use a token, a client certificate or an exec plugin"
        ));
    }
    Ok(())
}

/// Certificate then key, the PEM bundle reqwest's identity takes.
pub fn identity(cert: &[u8], key: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut pem = Zeroizing::new(Vec::with_capacity(cert.len() + key.len() + 1));
    pem.extend_from_slice(cert);
    if !cert.ends_with(b"\n") {
        pem.push(b'\n');
    }
    pem.extend_from_slice(key);
    pem
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sigmirror-k8s-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn merges_files_and_resolves_relative_paths() {
        let dir = temp("merge");
        std::fs::write(dir.join("ca.pem"), "CA").unwrap();
        std::fs::write(dir.join("token"), "file-token\n").unwrap();
        let first = dir.join("first.yaml");
        std::fs::write(
            &first,
            "current-context: b\ncontexts:\n- name: b\n  context: {cluster: c, user: u}\n",
        )
        .unwrap();
        let second = dir.join("second.yaml");
        std::fs::write(
            &second,
            "current-context: ignored\nclusters:\n- name: c\n  cluster:\n    server: https://k:6443/\n    \
             certificate-authority: ca.pem\nusers:\n- name: u\n  user:\n    tokenFile: token\n",
        )
        .unwrap();
        let c = from_kubeconfig_files(&[first, dir.join("missing.yaml"), second]).unwrap();
        assert_eq!(c.server, "https://k:6443");
        assert_eq!(c.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert!(matches!(&c.auth, Auth::Bearer(t) if t.as_str() == "file-token"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn in_cluster_reads_the_service_account() {
        let dir = temp("sa");
        std::fs::write(dir.join("token"), "sa-token\n").unwrap();
        std::fs::write(dir.join("ca.crt"), "CA").unwrap();
        let c = in_cluster("10.0.0.1", "443", &dir).unwrap();
        assert_eq!(c.server, "https://10.0.0.1:443");
        assert!(matches!(&c.auth, Auth::Bearer(t) if t.as_str() == "sa-token"));
        assert_eq!(
            in_cluster("fd00::1", "443", &dir).unwrap().server,
            "https://[fd00::1]:443"
        );
        std::fs::remove_file(dir.join("token")).unwrap();
        assert!(
            in_cluster("10.0.0.1", "443", &dir)
                .unwrap_err()
                .contains("token")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_pieces_are_named() {
        let dir = temp("errors");
        let f = dir.join("c.yaml");
        std::fs::write(&f, "current-context: x\n").unwrap();
        assert!(
            from_kubeconfig_files(std::slice::from_ref(&f))
                .unwrap_err()
                .contains("\"x\" is not defined")
        );
        std::fs::write(&f, "clusters: []\n").unwrap();
        assert!(
            from_kubeconfig_files(&[f])
                .unwrap_err()
                .contains("no current-context")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
