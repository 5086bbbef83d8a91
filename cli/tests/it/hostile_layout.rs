//! Hostile OCI layouts given to `load`: every file is checked for its type and size before a
//! byte of it is read, so a symbolic link to `/dev/zero`, a named pipe or a sparse file of
//! gigabytes is refused at once, by name, and nothing reaches the store.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::json;
use sigmirror_oci::digest::Sha256Digest;
use sigmirror_tests::{Run, TestDir, run};

use crate::sigmirror;

const NAME: &str = "registry.test/team/app:v1";

/// The files of a layout that [`write_layout`] wrote.
struct LayoutFiles {
    root: PathBuf,
    manifest: PathBuf,
    config: PathBuf,
}

impl LayoutFiles {
    /// The file a case names: `manifest`, `config`, or a file at the layout's top.
    fn path(&self, case: &str) -> PathBuf {
        match case {
            "manifest" => self.manifest.clone(),
            "config" => self.config.clone(),
            file => self.root.join(file),
        }
    }
}

/// A one-image layout written by hand.
fn write_layout(root: &Path) -> LayoutFiles {
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = Sha256Digest::of(bytes).hex().to_owned();
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len(), blobs.join(hex))
    };
    let (config_digest, config_size, config_path) = put(br#"{"os":"linux"}"#);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [],
    }))
    .unwrap();
    let (manifest_digest, manifest_size, manifest_path) = put(&manifest);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": manifest_size,
                       "annotations": {"org.opencontainers.image.ref.name": NAME}}],
    });
    std::fs::write(root.join("index.json"), index.to_string()).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    LayoutFiles {
        root: root.to_path_buf(),
        manifest: manifest_path,
        config: config_path,
    }
}

fn load(dir: &TestDir, layout: &str) -> Run {
    run(
        sigmirror(dir).args(["store", "load", "--store", "store", "--dir", layout]),
        None,
    )
}

fn assert_store_empty(dir: &TestDir, case: &str) {
    let out = run(
        sigmirror(dir).args(["store", "ls", "--store", "store"]),
        None,
    );
    assert!(
        !out.stdout_text().contains(NAME),
        "{case}: the image was stored: {}",
        out.stdout_text()
    );
}

/// Replaces `path` by what `make` puts there.
fn replace(path: &Path, make: impl FnOnce(&Path)) {
    std::fs::remove_file(path).unwrap();
    make(path);
}

#[test]
fn a_plain_layout_loads() {
    let dir = TestDir::new();
    write_layout(&dir.join("layout"));
    load(&dir, "layout").ok();
    let out = run(
        sigmirror(&dir).args(["store", "ls", "--store", "store"]),
        None,
    )
    .ok();
    assert!(out.stdout_text().contains(NAME), "{}", out.stdout_text());
}

#[test]
fn symbolic_links_in_a_layout_are_refused_by_name() {
    for (case, target) in [
        ("index.json", "/dev/zero"),
        ("oci-layout", "/dev/zero"),
        ("manifest", "/dev/zero"),
        ("config", "/dev/zero"),
        ("manifest", "plain-copy"),
    ] {
        let dir = TestDir::new();
        let path = write_layout(&dir.join("layout")).path(case);
        // A link to an honest copy of the same bytes is refused too: a layout holds files.
        let target = if target == "plain-copy" {
            let copy = dir.join("copy");
            std::fs::copy(&path, &copy).unwrap();
            copy
        } else {
            PathBuf::from(target)
        };
        replace(&path, |p| symlink(&target, p).unwrap());
        let out = load(&dir, "layout").fails_with("symbolic link");
        let relative = path.strip_prefix(dir.join("")).unwrap();
        assert!(
            out.stderr.contains(&relative.display().to_string()),
            "{case}: the error names the file: {}",
            out.stderr
        );
        assert_store_empty(&dir, case);
    }
}

#[test]
fn named_pipes_are_refused_without_waiting_for_a_writer() {
    for case in ["index.json", "manifest", "config"] {
        let dir = TestDir::new();
        let path = write_layout(&dir.join("layout")).path(case);
        replace(&path, |p| {
            let status = std::process::Command::new("mkfifo")
                .arg(p)
                .status()
                .unwrap();
            assert!(status.success(), "mkfifo");
        });
        load(&dir, "layout").fails_with("named pipe");
        assert_store_empty(&dir, case);
    }
}

#[test]
fn oversized_files_are_refused_before_they_are_read() {
    // Sparse: gigabytes announced, nothing on disk. Before the check, loading read all of it.
    const HUGE: u64 = 3 << 30;
    for case in ["index.json", "manifest"] {
        let dir = TestDir::new();
        let path = write_layout(&dir.join("layout")).path(case);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(HUGE)
            .unwrap();
        let out = load(&dir, "layout").fails_with("larger than the");
        assert!(
            out.stderr.contains(&format!("{HUGE} bytes")),
            "{case}: refused on its size, before reading: {}",
            out.stderr
        );
        assert_store_empty(&dir, case);
    }
}
