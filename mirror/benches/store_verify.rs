//! `store verify` of many signed images against OpenSSL's ECDSA P-256 verification rate on the
//! same machine, in one run: the goal is at least 0.8× OpenSSL's per-core rate times the cores.
//! Each image has one cosign signature (one ECDSA P-256 verification), so images per second
//! and verifications per second compare directly. Then a re-run with nothing changed (answered
//! from the ledger).
//!
//! `cargo bench -p sigmirror-mirror --bench store_verify` (BENCH_IMAGES, default 10000;
//! BENCH_THREADS, default one per core; BENCH_ROUNDS, default 5; BENCH_TMPDIR, default
//! /var/tmp: the store is built there first, which takes a while, since every blob is synced).
//! Each round verifies a fresh copy of the store and then runs `openssl speed` right after, so
//! that each ratio compares the two under the same load of this shared machine; the median
//! ratio is the figure.

use std::process::Command;
use std::time::Instant;

use sigmirror_cosign::keys::PrivateKey;
use sigmirror_cosign::verifier::Verifier;
use sigmirror_mirror::audit::verify_store;
use sigmirror_mirror::policy::Policy;
use sigmirror_store::Store;

#[path = "../tests/it/signed_store.rs"]
mod signed_store;

use signed_store::{Signing, signed_image};

/// The allocator the binary uses (see the workspace's Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// User and system CPU seconds of this process so far (from /proc/self/stat).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // Clock ticks per second: 100 on Linux.
    let tick = |i: usize| fields.get(i).copied().unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

/// OpenSSL's ECDSA P-256 verifications per second on one core (`openssl speed ecdsap256`).
fn openssl_verifications_per_second() -> Option<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "2", "ecdsap256"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("ecdsa (nistp256)"))?;
    line.split_whitespace().last()?.parse().ok()
}

fn main() {
    let n: usize = std::env::var("BENCH_IMAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tmp = std::env::var("BENCH_TMPDIR").unwrap_or_else(|_| "/var/tmp".into());
    let dir = tempfile::tempdir_in(tmp).expect("temp dir");
    let key = PrivateKey::generate();
    let started = Instant::now();
    {
        let store = Store::open(dir.path()).expect("store");
        let batch = store.batch();
        for i in 0..n {
            signed_image(&store, &key, i, Signing::Good);
        }
        batch.finish().expect("sync");
    }
    eprintln!(
        "built {n} signed images in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let pem = key.public_key().to_pem();
    let policy = Policy::new(
        vec![("bench".into(), Verifier::Key(key.public_key()))],
        &[("key bench".into(), pem.into_bytes())],
    );
    let cores = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |c| c.get()));

    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut ratios = vec![];
    for round in 1..=rounds {
        // A fresh copy of the store (never verified, so every image is checked), its writes
        // settled before the clock starts; then OpenSSL on the same cores right after.
        let copy = dir.path().with_extension(format!("round{round}"));
        let copied = Command::new("cp")
            .arg("-a")
            .arg(dir.path())
            .arg(&copy)
            .status()
            .expect("cp");
        assert!(copied.success(), "cannot copy the store");
        let _ = Command::new("sync").status();
        let store = Store::open(&copy).expect("store copy");

        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let outcomes = verify_store(&store, &policy, &[], cores).expect("verify");
        let first = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds();
        let (user, system) = (cpu.0 - cpu_before.0, cpu.1 - cpu_before.1);
        assert_eq!(outcomes.len(), n);
        assert!(
            outcomes.iter().all(|o| o.checked && o.record.verified),
            "every image verifies"
        );
        let started = Instant::now();
        let again = verify_store(&store, &policy, &[], cores).expect("verify again");
        let rerun = started.elapsed().as_secs_f64();
        assert!(again.iter().all(|o| !o.checked && o.record.verified));
        drop(store);
        let _ = std::fs::remove_dir_all(&copy);

        let rate = n as f64 / first;
        println!(
            "round {round}: store verify, {n} images, {cores} threads: {first:.2} s, {rate:.0} images/s \
             (CPU: {user:.2} s user, {system:.2} s system; {:.0} µs of CPU per image); \
             no-change re-run: {rerun:.3} s",
            (user + system) * 1e6 / n as f64
        );
        match openssl_verifications_per_second() {
            Some(per_core) => {
                let reference = per_core * cores as f64;
                let ratio = rate / reference;
                ratios.push(ratio);
                println!(
                    "round {round}: openssl speed ecdsap256: {per_core:.0} verifications/s per core, \
                     {reference:.0} on {cores} cores; store verify at {ratio:.2}x"
                );
            }
            None => println!("openssl speed ecdsap256 did not run"),
        }
    }
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        println!(
            "store verify against OpenSSL x cores, median of {} rounds: {:.2}x (goal: 0.8x; rounds {})",
            ratios.len(),
            ratios[ratios.len() / 2],
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
