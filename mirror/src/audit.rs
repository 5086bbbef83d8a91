//! `store verify`: the images of the store checked against a [`Policy`], each outcome recorded
//! in the store's verification ledger. An image whose digest, attachments and policy are those
//! of its ledger entry has nothing new to check and keeps its recorded outcome, so a re-run
//! after a small pull checks only what the pull changed.
//!
//! The checks are `verify --offline`'s own (signatures with every signer of the policy, then
//! attestations of each required predicate type), read from the store; they run on several
//! threads at once, since each image's checks are independent and mostly ECDSA.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::FutureExt as _;
use sigmirror_cosign::conventions::SIGNATURE_ANNOTATION;
use sigmirror_oci::source::Source;
use sigmirror_oci::{Digest, ImageRef};
use sigmirror_registry::verify::{verify_image, verify_image_attestations};
use sigmirror_store::{Store, VerificationRecord};

use crate::error::Result;
use crate::policy::Policy;

/// One image's outcome.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The image's name in the store.
    pub name: String,
    /// Its outcome, as recorded in the ledger.
    pub record: VerificationRecord,
    /// Checked now; `false` when nothing changed since the ledger entry, which stands.
    pub checked: bool,
}

/// The store's reads are synchronous code in `async` blocks (see `sigmirror_store`'s source
/// module): their futures are ready when first polled, so no runtime is needed to drive them.
fn now<T>(future: impl std::future::Future<Output = T>) -> T {
    future
        .now_or_never()
        .expect("the store answers reads without waiting")
}

/// Checks the image `name` (pinned at `digest`) against `policy`: whether it passed, the
/// signers whose signatures verified, and why it did not pass.
fn check(
    store: &Store,
    policy: &Policy,
    name: &str,
    digest: &Digest,
) -> (bool, Vec<String>, Vec<String>) {
    let image = match ImageRef::parse(name) {
        Ok(image) => image.with_digest(digest),
        Err(e) => return (false, vec![], vec![e.to_string()]),
    };
    let mut verified_by = vec![];
    let mut reasons = vec![];
    let mut signatures = BTreeSet::new();
    let mut refusals = vec![];
    for (signer, verifier) in &policy.signers {
        match now(verify_image(store, verifier, &image, &BTreeMap::new())) {
            Ok(verification) => {
                verified_by.push(signer.clone());
                // A signature is its layer: several signatures of one image share the payload
                // blob, and differ in the signature (and evidence) beside it.
                signatures.extend(verification.signatures.iter().map(|s| {
                    let signature = s.layer.annotation(SIGNATURE_ANNOTATION).unwrap_or_default();
                    (s.layer.digest.clone(), signature.to_owned())
                }));
            }
            Err(e) => refusals.push(format!("{signer}: {e}")),
        }
    }
    if signatures.len() < policy.min_signatures {
        if signatures.is_empty() {
            reasons.push(format!(
                "no signature verified with the policy's signers ({})",
                refusals.join("; ")
            ));
        } else {
            reasons.push(format!(
                "{} signatures must verify, {} did",
                policy.min_signatures,
                signatures.len()
            ));
        }
    }
    for predicate_type in &policy.attestations {
        let mut why = vec![];
        let found = policy.signers.iter().any(|(signer, verifier)| {
            match now(verify_image_attestations(
                store,
                verifier,
                &image,
                Some(predicate_type),
            )) {
                Ok((_, verified)) if !verified.is_empty() => true,
                Ok(_) => {
                    why.push(format!("{signer}: none of that type"));
                    false
                }
                Err(e) => {
                    why.push(format!("{signer}: {e}"));
                    false
                }
            }
        });
        if !found {
            reasons.push(format!(
                "no verified attestation of type {predicate_type} ({})",
                why.join("; ")
            ));
        }
    }
    (reasons.is_empty(), verified_by, reasons)
}

/// The outcome of the image `name` at `digest`: its ledger entry if nothing it depends on
/// changed, else a new check, recorded.
fn check_one(store: &Store, policy: &Policy, name: &str, digest: &Digest) -> Result<Checked> {
    let attachments = store.ledger_attachments(digest)?;
    if let Some(record) = store.verification(name)?
        && record.digest == *digest
        && record.attachments == attachments
        && record.policy == policy.digest
    {
        return Ok(Checked {
            name: name.to_owned(),
            record,
            checked: false,
        });
    }
    let (verified, verified_by, reasons) = check(store, policy, name, digest);
    let record = VerificationRecord {
        digest: digest.clone(),
        attachments,
        policy: policy.digest.clone(),
        checked_at: sigmirror_oci::timefmt::now_rfc3339(),
        verified,
        verified_by,
        reasons,
    };
    store.record_verification(name, &record)?;
    Ok(Checked {
        name: name.to_owned(),
        record,
        checked: true,
    })
}

/// Verifies the images `names` of the store (every image when empty) against `policy` on
/// `threads` threads, records each new outcome in the ledger (synced once at the end), and
/// returns every image's outcome sorted by name. A name the store does not hold is an error
/// before anything is checked.
pub fn verify_store(
    store: &Store,
    policy: &Policy,
    names: &[String],
    threads: usize,
) -> Result<Vec<Checked>> {
    let images = if names.is_empty() {
        store.images()?
    } else {
        let mut found = vec![];
        for name in names {
            match store.image(name)? {
                Some(record) => found.push((ImageRef::parse(name)?.to_string(), record)),
                None => return Err(Source::missing(store, &ImageRef::parse(name)?).into()),
            }
        }
        found
    };
    // Each image on some thread: what its outcome depends on, the ledger's word where that is
    // unchanged, else the checks and a new ledger entry. (Entries are synced once, at the end.)
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(images.len()));
    let batch = store.batch();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, images.len().max(1)))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((name, image)) = images.get(i) else {
                            return Ok(());
                        };
                        let outcome = check_one(store, policy, name, &image.digest)?;
                        results.lock().expect("results poisoned").push(outcome);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a verifying thread panicked"))
    })?;
    batch.finish()?;
    let mut done = results.into_inner().expect("results poisoned");
    done.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(done)
}
