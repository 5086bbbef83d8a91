//! Keyless verification throughput against OpenSSL's ECDSA rate, side by side in one run.
//!
//! ```text
//! cargo bench -p sigmirror-cosign --bench keyless
//! SIGMIRROR_BENCH_BUNDLES=5000 cargo bench -p sigmirror-cosign --bench keyless
//! ```
//!
//! It verifies the public-good `happy-path-v0.3` bundle of Sigstore's conformance suite (Rekor
//! v1 entry with a signed entry timestamp and a checkpoint, Fulcio chain, embedded SCT) against
//! the production trusted root: once per run for the latency, and 1,000 times in one call
//! spread over every core for the rate. Nothing is cached between verifications. The same
//! machine's `openssl speed` gives the ECDSA verification rates; the bundle needs a known set of
//! ECDSA verifications (counted from its keys), so OpenSSL's rate for exactly those is the
//! reference: the ratio printed is sigmirror's bundle rate over that rate (≥ 0.8 is the goal).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sigmirror_cosign::sigstore::keys::PublicKey;
use sigmirror_cosign::sigstore::{
    Artifact, Bundle, Certificate, IdentityPolicy, Options, Policy, TrustedRoot, verify,
};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn data(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// One verification from the bundle's bytes, as `verify-blob --bundle` does after reading files.
fn verify_once(bundle_json: &[u8], artifact: &Artifact, trust: &TrustedRoot, policy: &Policy) {
    let bundle = Bundle::from_json(bundle_json).expect("the bundle parses");
    verify(&bundle, Some(artifact), trust, policy, &Options::default())
        .expect("the bundle verifies");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// OpenSSL's single-core verifications per second for each curve (`openssl speed`).
fn openssl_verify_rates() -> Option<(f64, f64)> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "2", "ecdsap256", "ecdsap384"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = |curve: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.contains(curve) && l.contains("ecdsa"))?
            .split_whitespace()
            .last()?
            .parse()
            .ok()
    };
    Some((rate("nistp256")?, rate("nistp384")?))
}

/// The curve of a key, for counting: 256 or 384.
fn curve(key: &PublicKey) -> u32 {
    match key {
        PublicKey::P256(_) => 256,
        PublicKey::P384(_) => 384,
        other => panic!(
            "the bundle uses a {} key; count it by hand",
            other.algorithm()
        ),
    }
}

fn main() {
    let bundles: usize = std::env::var("SIGMIRROR_BENCH_BUNDLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let case = "sigstore-conformance/bundle-verify/happy-path-v0.3";
    let bundle_json = data(&format!("{case}/bundle.sigstore.json"));
    let artifact = Artifact::of_bytes(&data("sigstore-conformance/bundle-verify/a.txt"));
    let trust = TrustedRoot::from_json(&data("trusted-roots/production.json")).expect("root");
    let policy = Policy::Identity(IdentityPolicy::exact(IDENTITY, ISSUER));

    // The ECDSA verifications one bundle needs: the signed entry timestamp and the checkpoint
    // (the log's key), the SCT (the CT log's key), the leaf and each CA certificate above it
    // (the issuer's key), and the artifact signature (the leaf's key).
    let bundle = Bundle::from_json(&bundle_json).expect("the bundle parses");
    let verified = verify(
        &bundle,
        Some(&artifact),
        &trust,
        &policy,
        &Options::default(),
    )
    .expect("the bundle verifies");
    let leaf: &Certificate = verified.certificate.as_ref().expect("keyless");
    let entry = &bundle.tlog_entries[0];
    let log = trust.tlog(&entry.log_id).expect("known log");
    let ca = trust
        .certificate_authorities
        .iter()
        .find(|ca| {
            ca.intermediates()
                .iter()
                .any(|i| i.subject() == leaf.issuer())
        })
        .expect("the issuing CA");
    let ct_key = trust
        .ctlogs
        .iter()
        .find(|l| l.base_url.contains("ctfe"))
        .map(|l| &l.key);
    let mut ops = vec![curve(&log.key), curve(&log.key)];
    ops.push(ct_key.map_or(256, curve));
    for cert in ca.chain.iter() {
        ops.push(curve(&cert.public_key().expect("CA key")));
    }
    ops.push(curve(&leaf.public_key().expect("leaf key")));

    // Latency: one bundle, parse and verify, many times.
    let mut samples = vec![];
    for _ in 0..200 {
        let start = Instant::now();
        verify_once(&bundle_json, &artifact, &trust, &policy);
        samples.push(start.elapsed());
    }
    let latency = median(samples);

    // Rate: `bundles` verifications in one call, spread over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut runs = vec![];
    for _ in 0..5 {
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let share = bundles / threads + usize::from(t < bundles % threads);
                let (bundle_json, artifact, trust, policy) =
                    (&bundle_json, &artifact, &trust, &policy);
                s.spawn(move || {
                    for _ in 0..share {
                        verify_once(bundle_json, artifact, trust, policy);
                    }
                });
            }
        });
        runs.push(start.elapsed());
    }
    let batch = median(runs);
    let rate = bundles as f64 / batch.as_secs_f64();

    println!("keyless bundle (happy-path-v0.3, production root)");
    println!(
        "  ECDSA verifications per bundle: {} (curves {:?})",
        ops.len(),
        ops
    );
    println!("  one bundle: median {:.3} ms", latency.as_secs_f64() * 1e3);
    println!(
        "  {bundles} bundles in one call on {threads} threads: median {:.1} ms, {rate:.0} bundles/s",
        batch.as_secs_f64() * 1e3
    );
    match openssl_verify_rates() {
        Some((p256, p384)) => {
            let seconds_per_bundle: f64 = ops
                .iter()
                .map(|c| if *c == 256 { 1.0 / p256 } else { 1.0 / p384 })
                .sum();
            let openssl_rate = 1.0 / seconds_per_bundle;
            println!(
                "  openssl speed (one core): P-256 {p256:.0} verify/s, P-384 {p384:.0} verify/s"
            );
            println!(
                "  openssl's rate for these verifications: {openssl_rate:.0} bundles/s; ratio {:.2} (goal >= 0.8)",
                rate / openssl_rate
            );
        }
        None => println!("  openssl speed unavailable: no ratio"),
    }
}
