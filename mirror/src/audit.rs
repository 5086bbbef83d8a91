//! `store verify`: the images of the store checked against a [`Policy`], each outcome recorded
//! in the store's verification ledger. An image whose digest, attachments and policy are those
//! of its ledger entry has nothing new to check and keeps its recorded outcome, so a re-run
//! after a small pull checks only what the pull changed.
//!
//! The checks are `verify --offline`'s own (signatures with every signer of the policy, then
//! attestations of each required predicate type), read from the store; they run on several
//! threads at once, since each image's checks are independent and mostly ECDSA.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::FutureExt as _;
use sigmirror_cosign::conventions::SIGNATURE_ANNOTATION;
use sigmirror_cosign::conventions::attachment_ref;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::MAX_MANIFEST_SIZE;
use sigmirror_oci::source::Source;
use sigmirror_oci::{Digest, ImageRef};
use sigmirror_registry::verify::{Located, verify_located, verify_located_attestations};
use sigmirror_store::{
    AttachmentRecord, Store, VerificationRecord, ledger_digests, referrers_among, tagged_among,
};

use crate::error::Result;
use crate::policy::Policy;

/// From how many images on the policy's keys are prepared for many verifications.
const PREPARE_FROM: usize = 256;

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

/// Where the store holds the attachments of `pinned` (an image by digest), from its
/// `attachments` index records: the manifest each cosign tag of the image's repository points
/// at, and the OCI 1.1 referrers. It is what `verify --offline`'s lookups find, read in one
/// scan.
fn locate(
    pinned: &ImageRef,
    digest: &Digest,
    attachments: &[AttachmentRecord],
) -> std::result::Result<Located, String> {
    let tagged = |kind: AttachmentKind| -> std::result::Result<Option<ImageRef>, String> {
        let tag = attachment_ref(pinned, digest, kind).map_err(|e| e.to_string())?;
        Ok(tagged_among(attachments, &tag).map(|manifest| tag.with_digest(&manifest)))
    };
    Ok(Located {
        pinned: pinned.clone(),
        signatures: tagged(AttachmentKind::Signature)?,
        attestations: tagged(AttachmentKind::Attestation)?,
        referrers: referrers_among(attachments),
    })
}

/// Checks the image `name` (pinned at `digest`, with `attachments`) against `policy`: whether
/// it passed, the signers whose signatures verified, and why it did not pass.
fn check(
    store: &Store,
    policy: &Policy,
    name: &str,
    digest: &Digest,
    attachments: &[AttachmentRecord],
) -> (bool, Vec<String>, Vec<String>) {
    let located = match ImageRef::parse(name)
        .map_err(|e| e.to_string())
        .and_then(|image| locate(&image.with_digest(digest), digest, attachments))
    {
        Ok(located) => located,
        Err(e) => return (false, vec![], vec![e]),
    };
    // As `verify --offline` resolves the image first, its manifest must be held, and intact.
    if let Err(e) = store.read_blob(digest, MAX_MANIFEST_SIZE) {
        return (false, vec![], vec![format!("the image's manifest: {e}")]);
    }
    let mut verified_by = vec![];
    let mut reasons = vec![];
    let mut signatures = BTreeSet::new();
    let mut refusals = vec![];
    for (signer, verifier) in &policy.signers {
        match now(verify_located(store, verifier, &located, &BTreeMap::new())) {
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
            match now(verify_located_attestations(
                store,
                verifier,
                &located,
                Some(predicate_type),
            )) {
                Ok(verified) if !verified.is_empty() => true,
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

/// What the checks read of the index for each image: for the whole store, read in one pass
/// over each tree before the checks start (cheaper than two lookups per image); for named
/// images, looked up one by one.
enum IndexReads {
    Whole {
        attachments: HashMap<Digest, Vec<AttachmentRecord>>,
        ledger: HashMap<String, VerificationRecord>,
    },
    PerImage,
}

impl IndexReads {
    fn attachments(&self, store: &Store, digest: &Digest) -> Result<Vec<AttachmentRecord>> {
        Ok(match self {
            IndexReads::Whole { attachments, .. } => {
                attachments.get(digest).cloned().unwrap_or_default()
            }
            IndexReads::PerImage => store.attachments_of(digest)?,
        })
    }

    fn ledger(&self, store: &Store, name: &str) -> Result<Option<VerificationRecord>> {
        Ok(match self {
            IndexReads::Whole { ledger, .. } => ledger.get(name).cloned(),
            IndexReads::PerImage => store.verification(name)?,
        })
    }
}

/// The outcome of the image `name` at `digest`: its ledger entry if nothing it depends on
/// changed, else a new check, recorded.
fn check_one(
    store: &Store,
    reads: &IndexReads,
    policy: &Policy,
    name: &str,
    digest: &Digest,
) -> Result<Checked> {
    let records = reads.attachments(store, digest)?;
    let attachments = ledger_digests(&records);
    if let Some(record) = reads.ledger(store, name)?
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
    let (verified, verified_by, reasons) = check(store, policy, name, digest, &records);
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
    let (images, reads) = if names.is_empty() {
        // The whole store: its images listed while another thread reads the attachment index
        // and the ledger in one pass each (cheaper than two lookups per image).
        std::thread::scope(|scope| -> Result<_> {
            let reads = scope.spawn(|| -> Result<IndexReads> {
                Ok(IndexReads::Whole {
                    attachments: store.all_attachments()?,
                    ledger: store.verifications()?,
                })
            });
            let images = store.images()?;
            Ok((images, reads.join().expect("an index reader panicked")?))
        })?
    } else {
        let mut found = vec![];
        for name in names {
            match store.image(name)? {
                Some(record) => found.push((ImageRef::parse(name)?.to_string(), record)),
                None => return Err(Source::missing(store, &ImageRef::parse(name)?).into()),
            }
        }
        (found, IndexReads::PerImage)
    };
    // A key's table (about 4 ms) pays for itself after some 150 verifications (each 27 µs
    // faster); with fewer images it is not made.
    let prepared;
    let policy = if images.len() >= PREPARE_FROM {
        prepared = policy.prepared_for_many();
        &prepared
    } else {
        policy
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
                        let outcome = check_one(store, &reads, policy, name, &image.digest)?;
                        results.lock().expect("results poisoned").push(outcome);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a verifying thread panicked"))
    })?;
    let mut done = results.into_inner().expect("results poisoned");
    batch.finish()?;
    done.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(done)
}
