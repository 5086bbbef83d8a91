//! Benchmarks of the foundation crypto: cosign key decryption, ECDSA P-256 operations, and
//! streaming `sign-blob` / `verify-blob` over a large file.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p sigmirror-cosign --bench crypto
//! SIGMIRROR_BENCH_BLOB_MIB=64 cargo bench -p sigmirror-cosign --bench crypto   # small blob
//! cargo bench -p sigmirror-cosign --bench crypto -- ecdsa                      # one group
//! ```
//!
//! The `blob` group hashes a temporary file of `SIGMIRROR_BENCH_BLOB_MIB` MiB (default 1024)
//! with deterministic non-zero content, written once to the system temp folder the first time
//! a `blob` benchmark runs and deleted when the benchmarks end. Its warm-up reads the file into
//! the page cache, so the figures are hashing throughput, not disk throughput; compare
//! `blob/sha256_only` with `openssl dgst -sha256` on a file of the same size
//! (`scripts/bench/blob.sh` does this for the CLI).

use std::cell::OnceCell;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use sigmirror_cosign::blob::{sign_blob, verify_blob};
use sigmirror_cosign::keys::Sha256Digest;
use sigmirror_cosign::keys::{PrivateKey, ScryptParams};

/// Environment variable overriding the blob size, in MiB.
const BLOB_MIB_VAR: &str = "SIGMIRROR_BENCH_BLOB_MIB";
const DEFAULT_BLOB_MIB: u64 = 1024;
const MIB: u64 = 1 << 20;
const PASSWORD: &[u8] = b"bench";

/// A temporary file, deleted when dropped (also when a benchmark panics).
struct TempBlob {
    path: PathBuf,
    size: u64,
}

impl TempBlob {
    /// Writes `size` bytes of a fixed, non-zero, non-repeating-at-block-size pattern.
    fn create(size: u64) -> TempBlob {
        let path =
            std::env::temp_dir().join(format!("sigmirror-bench-{}.blob", std::process::id()));
        eprintln!(
            "writing a {} MiB benchmark blob to {}",
            size / MIB,
            path.display()
        );
        let blob = TempBlob { path, size };
        let file = File::create(&blob.path).expect("cannot create the benchmark blob");
        let mut out = BufWriter::with_capacity(MIB as usize, file);
        // A xorshift stream: deterministic, incompressible, never all zeros.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut chunk = vec![0u8; MIB as usize];
        let mut left = size;
        while left > 0 {
            for word in chunk.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            let n = left.min(MIB) as usize;
            out.write_all(&chunk[..n])
                .expect("cannot write the benchmark blob");
            left -= n as u64;
        }
        out.flush().expect("cannot write the benchmark blob");
        blob
    }

    fn open(&self) -> File {
        File::open(&self.path).expect("cannot open the benchmark blob")
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn blob_size() -> u64 {
    match std::env::var(BLOB_MIB_VAR) {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(mib) if mib > 0 => mib * MIB,
            _ => panic!("{BLOB_MIB_VAR} must be a positive number of MiB, not {v:?}"),
        },
        Err(_) => DEFAULT_BLOB_MIB * MIB,
    }
}

/// Decrypting a cosign private key: scrypt N=65536 r=8 p=1 dominates.
fn key_decryption(c: &mut Criterion) {
    let key = PrivateKey::generate();
    let pem = key
        .to_encrypted_pem(PASSWORD)
        .expect("cannot encrypt the key");
    let mut group = c.benchmark_group("key_decryption");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function(format!("scrypt_n{}", ScryptParams::STANDARD.n), |b| {
        b.iter(|| {
            PrivateKey::from_encrypted_pem(black_box(pem.as_bytes()), black_box(PASSWORD))
                .expect("cannot decrypt the key")
        })
    });
    group.finish();
}

/// ECDSA P-256 over a SHA-256 digest, one operation per element.
fn ecdsa(c: &mut Criterion) {
    let key = PrivateKey::generate();
    let public = key.public_key();
    let digest = Sha256Digest::of(b"sigmirror benchmark");
    let signature = key.sign_digest(&digest).expect("cannot sign");
    let mut group = c.benchmark_group("ecdsa");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_digest", |b| {
        b.iter(|| key.sign_digest(black_box(&digest)).expect("cannot sign"))
    });
    group.bench_function("verify_digest", |b| {
        b.iter(|| {
            public
                .verify_digest(black_box(&digest), black_box(&signature))
                .expect("does not verify")
        })
    });
    // The same key prepared for many signatures (`store verify`): a table of its multiples.
    let prepared = public.prepared_for_many();
    group.bench_function("verify_digest_prepared", |b| {
        b.iter(|| {
            prepared
                .verify_digest(black_box(&digest), black_box(&signature))
                .expect("does not verify")
        })
    });
    group.finish();
}

/// Streaming hash, sign-blob and verify-blob over the temporary file.
fn blob(c: &mut Criterion, file: &OnceCell<TempBlob>) {
    let size = blob_size();
    // Created on first use only, so `cargo bench -- ecdsa` writes nothing.
    let blob = || file.get_or_init(|| TempBlob::create(size));
    let key = PrivateKey::generate();
    let public = key.public_key();
    let signature = OnceCell::new();

    let mut group = c.benchmark_group("blob");
    group.throughput(Throughput::Bytes(size));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    // Ten passes at ~1 GB/s, with room to spare so criterion does not warn.
    let seconds = (size as f64 / 1e9 * 15.0).max(3.0);
    group.measurement_time(Duration::from_secs_f64(seconds));
    group.warm_up_time(Duration::from_secs_f64((size as f64 / 1e9 * 2.0).max(1.0)));
    group.bench_function("sha256_only", |b| {
        let blob = blob();
        b.iter(|| {
            let (digest, n) = Sha256Digest::of_reader(blob.open()).expect("cannot read");
            assert_eq!(n, blob.size);
            digest
        })
    });
    group.bench_function("sign_blob", |b| {
        let blob = blob();
        b.iter(|| sign_blob(&key, blob.open()).expect("cannot sign"))
    });
    group.bench_function("verify_blob", |b| {
        let blob = blob();
        let signature =
            signature.get_or_init(|| sign_blob(&key, blob.open()).expect("cannot sign").signature);
        b.iter(|| verify_blob(&public, blob.open(), signature).expect("does not verify"))
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let file = OnceCell::new();
    key_decryption(&mut c);
    ecdsa(&mut c);
    blob(&mut c, &file);
    drop(file);
    c.final_summary();
}
