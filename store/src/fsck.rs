//! `fsck`: re-hash every blob and check every index entry. Orphan blobs (present, unnamed) and
//! tmp files are not damage: a crash legitimately leaves them, and `gc` / the next open remove
//! them. What is damage is what a crash can never cause: a blob whose bytes do not match its
//! name, and an index entry naming a blob that is absent, of another size, or not JSON.

use std::collections::{HashMap, HashSet};
use std::fs::File;

use sigmirror_oci::digest::{Sha256Digest, is_sha256_hex};
use sigmirror_oci::manifest::ManifestView;

use crate::error::{Error, Result};
use crate::index::{ImageRecord, ManifestInfo, decode, decode_size, split_attachment_key};
use crate::{Store, stored_digest};

/// What [`Store::fsck`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsckReport {
    /// Blob files re-hashed.
    pub blobs_checked: u64,
    /// Bytes re-hashed.
    pub bytes_checked: u64,
    /// Index entries checked.
    pub entries_checked: u64,
    /// `(digest or path, reason)` for every damage found.
    pub damaged: Vec<(String, String)>,
}

impl FsckReport {
    /// Whether nothing is damaged.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// The blob files as fsck found them.
#[derive(Default)]
struct Files {
    /// Digest → size of the files whose bytes match their name.
    good: HashMap<String, u64>,
    /// Digests of the files whose bytes do not (already reported).
    corrupt: HashSet<String>,
}

impl Files {
    fn present(&self, digest: &str) -> bool {
        self.good.contains_key(digest) || self.corrupt.contains(digest)
    }
}

impl Store {
    /// Re-hashes every blob and checks every index entry.
    pub fn fsck(&self) -> Result<FsckReport> {
        let mut report = FsckReport::default();
        let files = self.check_files(&mut report)?;
        self.check_index(&files, &mut report)?;
        Ok(report)
    }

    fn check_files(&self, report: &mut FsckReport) -> Result<Files> {
        let mut files = Files::default();
        let blobs_root = self.root.join("blobs");
        for entry in std::fs::read_dir(&blobs_root).map_err(|e| Error::io(&blobs_root, e))? {
            let entry = entry.map_err(|e| Error::io(&blobs_root, e))?;
            if entry.file_name() != "sha256" {
                report.damaged.push((
                    entry.path().display().to_string(),
                    "unexpected entry in blobs/ (only sha256/ belongs there)".to_owned(),
                ));
            }
        }
        let dir = &self.blobs_dir;
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if !is_sha256_hex(&name) || !is_file {
                let reason = if is_file {
                    "stray file: its name is not a sha256 hex digest"
                } else {
                    "not a regular file"
                };
                report
                    .damaged
                    .push((path.display().to_string(), reason.to_owned()));
                continue;
            }
            let digest = format!("sha256:{name}");
            let (actual, size) = File::open(&path)
                .and_then(Sha256Digest::of_reader)
                .map_err(|e| Error::io(&path, e))?;
            report.blobs_checked += 1;
            report.bytes_checked += size;
            if actual.hex() == name {
                files.good.insert(digest, size);
            } else {
                report.damaged.push((
                    digest.clone(),
                    format!("corrupt: {size} bytes with digest {actual}"),
                ));
                files.corrupt.insert(digest);
            }
        }
        Ok(files)
    }

    fn check_index(&self, files: &Files, report: &mut FsckReport) -> Result<()> {
        let ix = &self.index;
        let mut damage = |what: String, reason: String| report.damaged.push((what, reason));
        let mut checked = 0u64;
        // A digest an entry names: valid, and its blob present (a corrupt one is reported once).
        let missing = |d: &str| stored_digest(d).is_none() || !files.present(d);

        for entry in ix.sizes.iter() {
            let (k, v) = entry.map_err(|e| ix.err(e))?;
            checked += 1;
            let digest = String::from_utf8_lossy(&k).into_owned();
            let size = match decode_size(&k, &v) {
                Ok(s) => s,
                Err(e) => {
                    damage(digest, e.to_string());
                    continue;
                }
            };
            if missing(&digest) {
                damage(
                    digest,
                    "size is recorded but the blob file is missing".to_owned(),
                );
            } else if let Some(actual) = files.good.get(&digest).filter(|a| **a != size) {
                damage(
                    digest,
                    format!("recorded size {size}, file has {actual} bytes"),
                );
            }
        }

        for entry in ix.tags.iter() {
            let (k, v) = entry.map_err(|e| ix.err(e))?;
            checked += 1;
            let key = String::from_utf8_lossy(&k).into_owned();
            let digest = String::from_utf8_lossy(&v).into_owned();
            if !key.contains(':') {
                damage(key.clone(), "malformed tag key".to_owned());
            }
            if missing(&digest) {
                damage(digest, format!("tag {key} names a missing blob"));
            }
        }

        for entry in ix.manifests.iter() {
            let (k, v) = entry.map_err(|e| ix.err(e))?;
            checked += 1;
            let digest = String::from_utf8_lossy(&k).into_owned();
            let rec: ManifestInfo = match decode("manifests", &k, &v) {
                Ok(r) => r,
                Err(e) => {
                    damage(digest, e.to_string());
                    continue;
                }
            };
            if missing(&digest) {
                damage(digest, "manifest entry names a missing blob".to_owned());
                continue;
            }
            let Some(&actual) = files.good.get(&digest) else {
                continue; // corrupt, already reported
            };
            if actual != rec.size {
                damage(
                    digest,
                    format!("recorded size {}, file has {actual} bytes", rec.size),
                );
                continue;
            }
            let Some(parsed) = stored_digest(&digest) else {
                continue; // reported as missing above
            };
            let path = self.blob_path(&parsed)?;
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if let Err(e) = ManifestView::parse(&bytes, Some(&rec.media_type), &digest) {
                damage(digest, format!("not a manifest: {e}"));
            }
        }

        for entry in ix.images.iter() {
            let (k, v) = entry.map_err(|e| ix.err(e))?;
            checked += 1;
            let name = String::from_utf8_lossy(&k).into_owned();
            match decode::<ImageRecord>("images", &k, &v) {
                Ok(rec) if missing(rec.digest.as_str()) => {
                    damage(
                        rec.digest.to_string(),
                        format!("image record {name} names a missing blob"),
                    );
                }
                Ok(_) => {}
                Err(e) => damage(name, e.to_string()),
            }
        }

        for entry in ix.attachments.iter() {
            let (k, v) = entry.map_err(|e| ix.err(e))?;
            checked += 1;
            let key = String::from_utf8_lossy(&k).into_owned();
            let digest = String::from_utf8_lossy(&v).into_owned();
            match split_attachment_key(&key) {
                Some((subject, kind, repo, _)) if missing(&digest) => damage(
                    digest.clone(),
                    format!("{kind} of {subject} in {repo} names a missing blob"),
                ),
                Some(_) => {}
                None => damage(
                    key.replace('\0', "|"),
                    "malformed attachment key".to_owned(),
                ),
            }
        }
        report.entries_checked = checked;
        Ok(())
    }
}
