//! Identity policies on a real Fulcio certificate (the public-good GitHub Actions beacon of the
//! conformance suite): exact values, regular expressions, GitHub workflow claims, and the two
//! matching rules (sigstore-go's for bundles, cosign's classic one for `.sig` images).

use sigmirror_cosign::sigstore::{Bundle, Certificate, IdentitySpec, bundle::Material};

use super::conformance::data;

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn beacon_certificate() -> Certificate {
    let json = std::fs::read(
        data().join("sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json"),
    )
    .unwrap();
    match Bundle::from_json(&json).unwrap().material {
        Material::Certificate(cert) => *cert,
        Material::PublicKey { .. } => unreachable!("a keyless bundle"),
    }
}

fn spec(identity: &str, issuer: &str) -> IdentitySpec {
    IdentitySpec {
        certificate_identity: Some(identity.into()),
        certificate_oidc_issuer: Some(issuer.into()),
        ..IdentitySpec::default()
    }
}

#[test]
fn exact_regexp_and_workflow_claims_match_as_cosign_says() {
    let cert = beacon_certificate();
    let check = |s: &IdentitySpec| {
        let policy = s.policy().unwrap();
        (
            policy.check(&cert).is_ok(),
            policy.check_classic(&cert).is_ok(),
        )
    };
    assert_eq!(check(&spec(BEACON, GITHUB)), (true, true));
    assert_eq!(check(&spec(&format!("{BEACON}x"), GITHUB)), (false, false));
    assert_eq!(
        check(&spec(BEACON, "https://accounts.google.com")),
        (false, false)
    );
    let regexp = IdentitySpec {
        certificate_identity_regexp: Some("^https://github.com/sigstore-conformance/".into()),
        certificate_oidc_issuer_regexp: Some(r"^https://token\.actions\.".into()),
        ..IdentitySpec::default()
    };
    assert_eq!(check(&regexp), (true, true));
    let other_org = IdentitySpec {
        certificate_identity_regexp: Some("^https://github.com/acme/".into()),
        ..regexp.clone()
    };
    assert_eq!(check(&other_org), (false, false));
    // Exact and regexp together: sigstore-go requires both; cosign's classic path lets the
    // regexp replace the exact value.
    let both = IdentitySpec {
        certificate_identity: Some("https://github.com/not/this".into()),
        ..regexp.clone()
    };
    assert_eq!(check(&both), (false, true));
    // The workflow claims the beacon's certificate carries.
    let claims = IdentitySpec {
        github_workflow_trigger: Some("workflow_dispatch".into()),
        github_workflow_sha: Some("c7b3dfb335f051e1c86bda4c716fac97df62ad81".into()),
        github_workflow_name: Some("Extremely dangerous OIDC beacon".into()),
        github_workflow_repository: Some(
            "sigstore-conformance/extremely-dangerous-public-oidc-beacon".into(),
        ),
        github_workflow_ref: Some("refs/heads/main".into()),
        ..spec(BEACON, GITHUB)
    };
    assert_eq!(check(&claims), (true, true));
    let wrong_ref = IdentitySpec {
        github_workflow_ref: Some("refs/heads/release".into()),
        ..claims.clone()
    };
    assert_eq!(check(&wrong_ref), (false, false));
    let err = wrong_ref.policy().unwrap().check(&cert).unwrap_err();
    assert!(err.to_string().contains("GitHub workflow ref"), "{err}");
}

#[test]
fn an_identity_needs_an_issuer_and_a_valid_regexp() {
    assert!(IdentitySpec::default().policy().is_err());
    let no_issuer = IdentitySpec {
        certificate_identity: Some(BEACON.into()),
        ..IdentitySpec::default()
    };
    assert!(
        no_issuer
            .policy()
            .unwrap_err()
            .to_string()
            .contains("--certificate-oidc-issuer")
    );
    let bad = IdentitySpec {
        certificate_identity_regexp: Some("(".into()),
        ..spec(BEACON, GITHUB)
    };
    assert!(
        bad.policy()
            .unwrap_err()
            .to_string()
            .contains("invalid regular expression")
    );
}
