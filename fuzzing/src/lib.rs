//! The fuzz targets: one function per parser of bytes that a registry, a layout, a key file, a
//! plugin or a user hands to sigmirror. Each must return (an error is fine) without panicking,
//! hanging or allocating without bound, whatever the input; where a parser can be checked
//! against itself (a name that parses must print back to itself), the target checks that too.
//!
//! The same functions run in two ways: under libFuzzer through `cargo fuzz` (the crate in
//! `fuzzing/fuzz`, nightly toolchain), and on the stable toolchain by `tests/corpora.rs`, which
//! replays every kept corpus and crash input so that a fixed crash stays fixed.

use std::sync::OnceLock;

use sigmirror_cosign::sigstore::trusted_root::TrustedRoot;

/// A fuzz target: takes any bytes, returns only if they exposed no bug.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus folder and its cargo-fuzz binary carry.
pub const TARGETS: &[(&str, Target)] = &[
    ("reference", reference),
    ("manifest", manifest),
    ("payload", payload),
    ("dsse", dsse),
    ("cosign_bundle", cosign_bundle),
    ("sigstore_bundle", sigstore_bundle),
    ("trusted_root", trusted_root),
    ("certificate", certificate),
    ("checkpoint", checkpoint),
    ("keys", keys),
    ("pkcs11_uri", pkcs11_uri),
    ("plugin_wire", plugin_wire),
    ("layout", layout),
    ("ecdsa_prepared", ecdsa_prepared),
];

/// Runs the target called `name` on `data`.
///
/// # Panics
/// If there is no such target (and, by design, when the target finds a bug).
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target {name:?}"));
    target(data);
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Image references (`registry/repo:tag@digest`): every name a user types or a layout carries.
/// An accepted name prints as a name that parses to the same thing.
pub fn reference(data: &[u8]) {
    let Some(input) = text(data) else { return };
    if let Ok(image) = sigmirror_oci::ImageRef::parse(input) {
        let printed = image.to_string();
        let again = sigmirror_oci::ImageRef::parse(&printed)
            .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?}, which fails: {e}"));
        assert_eq!(again.to_string(), printed, "{input:?} does not round-trip");
    }
}

/// Manifests and indexes as registries and layouts serve them.
pub fn manifest(data: &[u8]) {
    use sigmirror_oci::manifest::{ImageIndex, ImageManifest, ManifestView, media_type_of};
    let _ = media_type_of(data);
    if let Ok(view) = ManifestView::parse(data, None, "fuzz") {
        let _ = view.children().count();
        let _ = view.content_blobs(true).count();
        let _ = view.platform_entry("linux/amd64");
    }
    let _ = ImageManifest::parse(data, "fuzz");
    let _ = ImageIndex::parse(data, "fuzz");
}

/// Simple-signing payloads of `.sig` layers, and the way `verify` prints them.
pub fn payload(data: &[u8]) {
    if let Ok(parsed) = sigmirror_cosign::payload::parse(data) {
        let _ = sigmirror_oci::gojson::to_vec(&parsed.printed());
    }
}

/// DSSE envelopes (`.att` layers, attestation files) and the in-toto statements inside.
pub fn dsse(data: &[u8]) {
    if let Ok(envelope) = sigmirror_cosign::dsse::Envelope::from_json(data) {
        let _ = sigmirror_cosign::statement::parse(&envelope.payload);
    }
    let _ = sigmirror_cosign::statement::parse(data);
}

/// cosign 2's blob bundles (`base64Signature`, `cert`, `rekorBundle`).
pub fn cosign_bundle(data: &[u8]) {
    if let Ok(bundle) = sigmirror_cosign::bundle::LocalBundle::from_json(data) {
        let _ = bundle.signature();
    }
}

/// Sigstore bundles v0.1–v0.3, as cosign 3 and sigstore clients write them.
pub fn sigstore_bundle(data: &[u8]) {
    let _ = sigmirror_cosign::sigstore::bundle::is_sigstore_bundle(data);
    let _ = sigmirror_cosign::sigstore::bundle::Bundle::from_json(data);
}

/// Sigstore trusted roots (`trusted_root.json`).
pub fn trusted_root(data: &[u8]) {
    let _ = TrustedRoot::from_json(data);
}

/// X.509 certificates, DER and PEM chains (Fulcio certificates, chains given with
/// `--certificate-chain`), with their SCT lists.
pub fn certificate(data: &[u8]) {
    use sigmirror_cosign::sigstore::certificate::Certificate;
    let _ = Certificate::from_der(data);
    let _ = Certificate::from_pem_chain(data);
    let _ = sigmirror_cosign::sigstore::sct::parse_list(data);
}

/// The production trusted root this crate's tests carry, for targets that need a log.
fn production_root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        TrustedRoot::from_json(include_bytes!(
            "../../cosign/tests/data/trusted-roots/production.json"
        ))
        .expect("the production trusted root parses")
    })
}

/// Rekor checkpoints (signed notes, v1 and v2 forms) as bundles carry them.
pub fn checkpoint(data: &[u8]) {
    use sigmirror_cosign::sigstore::checkpoint::{verify_v1, verify_v2};
    let Some(note) = text(data) else { return };
    let log = &production_root().tlogs[0];
    let _ = verify_v1(note, log);
    let _ = verify_v2(note, log);
}

/// Key files: PEM blocks, public keys, unencrypted private keys, and cosign's encrypted key
/// envelope (with a fixed password: the parse and the parameter checks come before any
/// decryption, and unknown scrypt parameters are refused before deriving).
pub fn keys(data: &[u8]) {
    use sigmirror_cosign::keys::{PrivateKey, PublicKey};
    let _ = sigmirror_cosign::pem::decode_all(data);
    let _ = PublicKey::from_pem(data);
    let _ = PrivateKey::from_unencrypted_pem(data);
    let _ = PrivateKey::from_pkcs8_der(data);
    let _ = sigmirror_cosign::keys::encrypted::decrypt(data, b"fuzz");
    if let Some(raw) = text(data) {
        let _ = sigmirror_cosign::keyref::KeyRef::parse(raw);
        let _ = sigmirror_cosign::keyref::redact(raw);
    }
}

/// A P-256 key prepared for many verifications (`store verify`'s table of its multiples) must
/// accept exactly what the key accepts unprepared (AWS-LC, then the pure-Rust curve). The first
/// 32 bytes are the digest; with the low bit of the next byte set, the rest is XORed into a
/// valid signature of that digest (near misses; DER, or raw r||s with the next bit set), else
/// it is the signature itself.
pub fn ecdsa_prepared(data: &[u8]) {
    use sigmirror_cosign::keys::{PrivateKey, PublicKey, Sha256Digest};
    // A fixed test key (made for this target), so that every run and replay is the same.
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglXf7PDimi+0ICOTL
X7+U5lgrPvNzUCKQsj+QYnMAt9GhRANCAAR2WHfdFkE28za3zIrsBJaMCrIVZKFk
bdF04C4sZ2yYtdN7NqGLRSgvPCtea4hbYry3fKKhrKbo2SRKOLXJLibB
-----END PRIVATE KEY-----
";
    static KEYS: OnceLock<(PrivateKey, PublicKey, PublicKey)> = OnceLock::new();
    let (key, public, prepared) = KEYS.get_or_init(|| {
        let key = PrivateKey::from_unencrypted_pem(KEY.as_bytes()).expect("the fixed key");
        let public = key.public_key();
        let prepared = public.prepared_for_many();
        (key, public, prepared)
    });
    let (Some(digest), Some((&mode, rest))) =
        (data.get(..32), data.get(32..).and_then(<[u8]>::split_first))
    else {
        return;
    };
    let digest = Sha256Digest::from_bytes(digest.try_into().expect("32 bytes"));
    let signature = if mode & 1 == 1 {
        let der = key.sign_digest(&digest).expect("sign");
        let mut signature = if mode & 2 == 2 {
            // The raw r||s form (what PKCS#11 and JOSE give), which a prepared key leaves to
            // the general path.
            p256::ecdsa::Signature::from_der(&der)
                .expect("the key's own DER")
                .to_bytes()
                .to_vec()
        } else {
            der
        };
        for (byte, flip) in signature.iter_mut().zip(rest) {
            *byte ^= flip;
        }
        signature
    } else {
        rest.to_vec()
    };
    if mode & 1 == 1 && rest.iter().all(|b| *b == 0) {
        // Nothing flipped: the key's own signature, in either form, verifies.
        assert!(public.verify_digest(&digest, &signature).is_ok());
    }
    assert_eq!(
        prepared.verify_digest(&digest, &signature).is_ok(),
        public.verify_digest(&digest, &signature).is_ok(),
        "prepared and unprepared keys disagree on {signature:02x?} over {digest:?}"
    );
}

/// PKCS#11 URIs (RFC 7512) given as key references.
pub fn pkcs11_uri(data: &[u8]) {
    let Some(raw) = text(data) else { return };
    let _ = sigmirror_pkcs11::Pkcs11Uri::parse(raw);
}

/// What a signer plugin answers, as the host decodes it: the JSON results of each method, and
/// the public key PEM inside.
pub fn plugin_wire(data: &[u8]) {
    use sigmirror_plugin_abi::wire::{AlgorithmsResult, PublicKeyResult, SignResult};
    let _ = serde_json::from_slice::<AlgorithmsResult>(data);
    let _ = serde_json::from_slice::<SignResult>(data);
    if let Ok(result) = serde_json::from_slice::<PublicKeyResult>(data) {
        let _ = sigmirror_cosign::keys::PublicKey::from_pem(result.public_key_pem.as_bytes());
    }
}

/// An OCI layout's `index.json`, as `load` opens it: the layout is written to a temporary
/// folder, opened, and asked for its names and cosign roles.
pub fn layout(data: &[u8]) {
    use sigmirror_registry::layout::Layout;
    let Ok(dir) = tempfile::tempdir() else { return };
    let root = dir.path();
    let written = std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .and_then(|()| std::fs::write(root.join("index.json"), data))
    .and_then(|()| std::fs::create_dir_all(root.join("blobs/sha256")));
    if written.is_err() {
        return;
    }
    if let Ok(layout) = Layout::open(root) {
        let _ = layout.names();
        let _ = layout.kinds();
    }
}
