//! The store's trust material, parsed: its keys, its Sigstore trusted roots (trusted together)
//! and the certificate identities trusted under them, as named [`Verifier`]s. The mounted view
//! verifies against them; `--offline` verification reads the roots from here too. It lives in
//! this crate because it needs exactly what the view depends on (the store and cosign's checks).

use std::path::Path;

use sigmirror_cosign::keys::PublicKey;
use sigmirror_cosign::sigstore::{IdentitySpec, Options, Policy, TrustedRoot};
use sigmirror_cosign::verifier::{SigstoreVerifier, Verifier};
use sigmirror_store::{TrustKind, read_trusted};

/// The store's trusted roots, trusted together; `None` if it has none. A root that does not
/// parse is an error: verification must not quietly trust less (or more) than the user added.
pub fn trusted_root(store: &Path) -> Result<Option<TrustedRoot>, String> {
    let mut merged: Option<TrustedRoot> = None;
    for (name, json) in read_trusted(store, TrustKind::Root) {
        let root = TrustedRoot::from_json(&json)
            .map_err(|e| format!("the store's trusted root {name}: {e}"))?;
        match &mut merged {
            Some(m) => m.extend(root),
            None => merged = Some(root),
        }
    }
    Ok(merged)
}

/// The store's trusted keys and identities by name (keys first; a name used twice keeps its
/// first meaning). What cannot be used is skipped with a warning: a key that is not a P-256
/// PEM key, an identity that is not a valid policy, identities when no trusted root parses.
pub fn verifiers(store: &Path) -> Vec<(String, Verifier)> {
    let mut out: Vec<(String, Verifier)> = vec![];
    for (name, pem) in read_trusted(store, TrustKind::Key) {
        if !crate::is_safe_component(&name) {
            continue;
        }
        match PublicKey::from_pem(&pem) {
            Ok(key) => out.push((name, Verifier::Key(key))),
            Err(e) => tracing::warn!("ignoring trusted key {name}: {e}"),
        }
    }
    let identities = read_trusted(store, TrustKind::Identity);
    if identities.is_empty() {
        return out;
    }
    let root = match trusted_root(store) {
        Ok(Some(root)) => root,
        Ok(None) => {
            tracing::warn!("ignoring trusted identities: the store has no trusted root");
            return out;
        }
        Err(e) => {
            tracing::warn!("ignoring trusted identities: {e}");
            return out;
        }
    };
    for (name, json) in identities {
        if !crate::is_safe_component(&name) || out.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let policy = serde_json::from_slice::<IdentitySpec>(&json)
            .map_err(|e| e.to_string())
            .and_then(|spec| spec.policy().map_err(|e| e.to_string()));
        match policy {
            Ok(policy) => out.push((
                name,
                Verifier::Sigstore(Box::new(SigstoreVerifier {
                    trust: root.clone(),
                    policy: Policy::Identity(policy),
                    options: Options::default(),
                })),
            )),
            Err(e) => tracing::warn!("ignoring trusted identity {name}: {e}"),
        }
    }
    out
}
