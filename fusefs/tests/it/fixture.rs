//! A store with one signed image and an index whose platform names are hostile.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use sigmirror_cosign::b64;
use sigmirror_cosign::conventions::SIGNATURE_ANNOTATION;
use sigmirror_cosign::keys::{PrivateKey, Sha256Digest};
use sigmirror_cosign::payload::simple_signing;
use sigmirror_cosign::signature_image::{Layer, SignatureImage};
use sigmirror_fusefs::vfs::{ROOT, Vfs};
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::{Digest, media_types};
use sigmirror_store::Store;

/// The repository everything is stored under.
pub const REPO: &str = "registry.test:5000/team/app";

/// What [`build`] made.
pub struct Fixture {
    /// Keeps the store folder alive.
    pub dir: tempfile::TempDir,
    /// The signing key of the image's one signature.
    pub key: PrivateKey,
    /// The image (tag `v1`).
    pub image: Digest,
    /// An index of it with a hostile platform (tag `multi`).
    pub index: Digest,
}

fn put_blob(store: &Store, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    let mut w = store.writer(&digest, bytes.len() as u64).unwrap();
    w.write_all(bytes).unwrap();
    w.commit().unwrap();
    digest
}

fn put_manifest(store: &Store, media_type: &str, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    store
        .put_manifest(REPO, &digest, media_type, bytes, "test")
        .unwrap();
    digest
}

/// A store with one image signed by a new key (its `.sig` in place) and an index of it.
pub fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let store = Store::open(dir.path()).unwrap();
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#;
    let config_digest = put_blob(&store, config);
    let layer_digest = put_blob(&store, b"layer");
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":{},"digest":"{config_digest}"}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":5,"digest":"{layer_digest}"}}]}}"#,
        media_types::OCI_MANIFEST,
        media_types::OCI_CONFIG,
        config.len()
    );
    let image = put_manifest(&store, media_types::OCI_MANIFEST, manifest.as_bytes());
    store.set_tag(REPO, "v1", &image).unwrap();

    // Its .sig image: one good signature.
    let payload = simple_signing(REPO, &image, &BTreeMap::new());
    let sig = key.sign_digest(&Sha256Digest::of(&payload)).unwrap();
    let mut ann = BTreeMap::new();
    ann.insert(SIGNATURE_ANNOTATION.to_owned(), b64::encode(&sig));
    let mut sig_image = SignatureImage::empty(false);
    sig_image.append(Layer::new(
        media_types::SIMPLE_SIGNING,
        payload.clone(),
        ann,
    ));
    let rendered = sig_image.render();
    put_blob(&store, &payload);
    put_blob(&store, &rendered.config);
    let sig_digest = put_manifest(&store, media_types::OCI_MANIFEST, &rendered.manifest);
    let sig_tag = AttachmentKind::Signature.tag_for(&image).unwrap();
    store.set_tag(REPO, &sig_tag, &sig_digest).unwrap();

    // An index with a hostile platform.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","size":{},"digest":"{image}","platform":{{"os":"../../..","architecture":"x/y"}}}}]}}"#,
        media_types::OCI_INDEX,
        media_types::OCI_MANIFEST,
        manifest.len()
    );
    let index = put_manifest(&store, media_types::OCI_INDEX, index.as_bytes());
    store.set_tag(REPO, "multi", &index).unwrap();
    drop(store);
    Fixture {
        dir,
        key,
        image,
        index,
    }
}

impl Fixture {
    /// Trusts `key` as `name` in the store.
    pub fn trust(&self, name: &str, key: &PrivateKey) {
        let store = Store::open(self.dir.path()).unwrap();
        store
            .add_trusted_key(name, key.public_key().to_pem().as_bytes())
            .unwrap();
    }

    /// The view of the store.
    pub fn vfs(&self) -> Vfs {
        Vfs::new(self.dir.path(), Duration::from_millis(10)).unwrap()
    }

    /// The folder of the image's digest, relative to the root.
    pub fn image_dir(&self) -> String {
        format!("{REPO}/_digests/{}", self.image)
    }

    /// The root folder of the store.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// The inode of path `p` (components separated by `/`).
pub fn path(vfs: &Vfs, p: &str) -> sigmirror_fusefs::Result<u64> {
    let mut ino = ROOT;
    for part in p.split('/').filter(|s| !s.is_empty()) {
        ino = vfs.lookup(ino, part)?.ino;
    }
    Ok(ino)
}

/// The whole content of file `ino`.
pub fn read_all(vfs: &Vfs, ino: u64) -> Vec<u8> {
    let size = vfs.getattr(ino).unwrap().size;
    vfs.read(ino, 0, size as u32 + 10).unwrap()
}

/// The names in folder `ino`.
pub fn names(vfs: &Vfs, ino: u64) -> Vec<String> {
    vfs.readdir(ino)
        .unwrap()
        .into_iter()
        .map(|(_, _, n)| n)
        .collect()
}
