//! Who must have signed: a managed public key, or a certificate identity (the SAN) issued for an
//! OIDC issuer, optionally with GitHub workflow claims, as cosign's `--certificate-identity`,
//! `--certificate-oidc-issuer` (and their `-regexp` forms) and `--certificate-github-workflow-*`
//! flags say.

use regex::Regex;

use super::certificate::{Certificate, oid};
use super::error::{Error, Result};
use super::keys::PublicKey;

/// An exact value or a regular expression (unanchored search, as Go's `MatchString`).
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal to this.
    Exact(String),
    /// Matched by this.
    Regexp(Regex),
}

impl Matcher {
    /// A regular expression matcher; the error names the invalid pattern.
    pub fn regexp(pattern: &str) -> Result<Self> {
        Regex::new(pattern)
            .map(Matcher::Regexp)
            .map_err(|e| Error::Policy {
                reason: format!("invalid regular expression {pattern:?}: {e}"),
            })
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(want) => want == value,
            Matcher::Regexp(re) => re.is_match(value),
        }
    }

    fn describe(&self) -> String {
        match self {
            Matcher::Exact(want) => want.clone(),
            Matcher::Regexp(re) => format!("/{}/", re.as_str()),
        }
    }
}

/// The GitHub workflow claims cosign can require (Fulcio's v1 extensions `.2` to `.6`).
#[derive(Debug, Clone, Default)]
pub struct WorkflowClaims {
    /// `--certificate-github-workflow-trigger`.
    pub trigger: Option<String>,
    /// `--certificate-github-workflow-sha`.
    pub sha: Option<String>,
    /// `--certificate-github-workflow-name`.
    pub name: Option<String>,
    /// `--certificate-github-workflow-repository`.
    pub repository: Option<String>,
    /// `--certificate-github-workflow-ref`.
    pub reference: Option<String>,
}

/// A required certificate identity.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// The SAN: every matcher given must match.
    pub identity: Vec<Matcher>,
    /// The OIDC issuer: every matcher given must match.
    pub issuer: Vec<Matcher>,
    /// Required workflow claims.
    pub claims: WorkflowClaims,
}

impl IdentityPolicy {
    /// An exact identity and issuer.
    pub fn exact(identity: &str, issuer: &str) -> Self {
        IdentityPolicy {
            identity: vec![Matcher::Exact(identity.to_owned())],
            issuer: vec![Matcher::Exact(issuer.to_owned())],
            claims: WorkflowClaims::default(),
        }
    }

    /// Checks `cert` as sigstore-go does: the single SAN identity and the issuer (the later of
    /// Fulcio's two issuer extensions) against every matcher, then the workflow claims.
    pub fn check(&self, cert: &Certificate) -> Result<()> {
        let identity = cert.identity().ok_or_else(|| Error::Certificate {
            reason: "no subject alternative name".into(),
        })?;
        for m in &self.identity {
            if !m.matches(&identity) {
                return Err(Error::Identity {
                    found: identity,
                    required: m.describe(),
                });
            }
        }
        let issuer = cert.oidc_issuer().unwrap_or_default();
        for m in &self.issuer {
            if !m.matches(&issuer) {
                return Err(Error::Issuer {
                    found: issuer,
                    required: m.describe(),
                });
            }
        }
        self.check_claims(cert)
    }

    /// Checks `cert` as cosign's own path for `.sig` images and old bundles does: any SAN may
    /// match, a regular expression replaces the exact value, and the issuer comes from the first
    /// (v1) issuer extension only.
    pub fn check_classic(&self, cert: &Certificate) -> Result<()> {
        self.check_claims(cert)?;
        let pick = |matchers: &[Matcher]| -> Option<Matcher> {
            matchers
                .iter()
                .find(|m| matches!(m, Matcher::Regexp(_)))
                .or_else(|| matchers.first())
                .cloned()
        };
        let issuer = cert.oidc_issuer_v1().unwrap_or_default();
        if let Some(m) = pick(&self.issuer)
            && !m.matches(&issuer)
        {
            return Err(Error::Issuer {
                found: issuer,
                required: m.describe(),
            });
        }
        let identities = cert.all_identities();
        if let Some(m) = pick(&self.identity)
            && !identities.iter().any(|i| m.matches(i))
        {
            return Err(Error::Identity {
                found: identities.join(", "),
                required: m.describe(),
            });
        }
        Ok(())
    }

    fn check_claims(&self, cert: &Certificate) -> Result<()> {
        let c = &self.claims;
        for (want, oid, claim) in [
            (
                &c.trigger,
                oid::GITHUB_WORKFLOW_TRIGGER,
                "GitHub workflow trigger",
            ),
            (&c.sha, oid::GITHUB_WORKFLOW_SHA, "GitHub workflow SHA"),
            (&c.name, oid::GITHUB_WORKFLOW_NAME, "GitHub workflow name"),
            (
                &c.repository,
                oid::GITHUB_WORKFLOW_REPOSITORY,
                "GitHub workflow repository",
            ),
            (
                &c.reference,
                oid::GITHUB_WORKFLOW_REF,
                "GitHub workflow ref",
            ),
        ] {
            if let Some(want) = want {
                let found = cert.v1_claim(&oid).unwrap_or_default();
                if &found != want {
                    return Err(Error::Claim {
                        claim,
                        found,
                        required: want.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// A certificate identity as the user states it (cosign's flags), and as the store keeps a
/// trusted identity: exact values and regular expressions for the SAN and the OIDC issuer, and
/// the GitHub workflow claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentitySpec {
    /// `--certificate-identity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_identity: Option<String>,
    /// `--certificate-identity-regexp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_identity_regexp: Option<String>,
    /// `--certificate-oidc-issuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_oidc_issuer: Option<String>,
    /// `--certificate-oidc-issuer-regexp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// `--certificate-github-workflow-trigger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_workflow_trigger: Option<String>,
    /// `--certificate-github-workflow-sha`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_workflow_sha: Option<String>,
    /// `--certificate-github-workflow-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_workflow_name: Option<String>,
    /// `--certificate-github-workflow-repository`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_workflow_repository: Option<String>,
    /// `--certificate-github-workflow-ref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_workflow_ref: Option<String>,
}

impl IdentitySpec {
    /// Whether any part is given (the user asked for keyless verification).
    pub fn is_empty(&self) -> bool {
        *self == IdentitySpec::default()
    }

    /// The policy, refusing what cosign refuses: no identity, no issuer, an invalid regular
    /// expression.
    pub fn policy(&self) -> Result<IdentityPolicy> {
        if self.certificate_identity.is_none() && self.certificate_identity_regexp.is_none() {
            return Err(Error::Policy {
                reason: "--certificate-identity or --certificate-identity-regexp is required for keyless verification".into(),
            });
        }
        if self.certificate_oidc_issuer.is_none() && self.certificate_oidc_issuer_regexp.is_none() {
            return Err(Error::Policy {
                reason: "--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for keyless verification".into(),
            });
        }
        let matchers = |exact: &Option<String>, regexp: &Option<String>| -> Result<Vec<Matcher>> {
            let mut out: Vec<Matcher> = exact.iter().cloned().map(Matcher::Exact).collect();
            if let Some(pattern) = regexp {
                out.push(Matcher::regexp(pattern)?);
            }
            Ok(out)
        };
        Ok(IdentityPolicy {
            identity: matchers(
                &self.certificate_identity,
                &self.certificate_identity_regexp,
            )?,
            issuer: matchers(
                &self.certificate_oidc_issuer,
                &self.certificate_oidc_issuer_regexp,
            )?,
            claims: WorkflowClaims {
                trigger: self.github_workflow_trigger.clone(),
                sha: self.github_workflow_sha.clone(),
                name: self.github_workflow_name.clone(),
                repository: self.github_workflow_repository.clone(),
                reference: self.github_workflow_ref.clone(),
            },
        })
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Policy {
    /// A managed key (the bundle carries a hint, or nothing).
    Key(PublicKey),
    /// A Fulcio certificate for this identity.
    Identity(IdentityPolicy),
}
