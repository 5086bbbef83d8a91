//! `gc` and `du`. Garbage collection keeps what a tag or an image record reaches (through
//! [`Store::closure`], so attachments and referrers of kept manifests stay) and removes the
//! rest. Index entries go first and are flushed before any file is deleted: a crash half-way
//! leaves orphan files, never an entry naming a missing blob.

use std::collections::HashSet;

use crate::blobs::clear_dir;
use crate::error::{Error, Result};
use crate::index::split_attachment_key;
use crate::{Store, stored_digest};
use sigmirror_oci::Digest;
use sigmirror_oci::attachment::AttachmentKind;

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blob files removed (unreachable blobs and stray files).
    pub removed_blobs: u64,
    /// Their total size.
    pub freed_bytes: u64,
    /// Index entries removed (sizes, manifests, attachment tags of removed subjects, ...).
    pub removed_entries: u64,
    /// Leftover tmp files removed.
    pub removed_tmp: u64,
}

/// What the store holds ([`Store::du`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Blob files (manifests included).
    pub blobs: u64,
    /// Their total size.
    pub bytes: u64,
    /// Manifest entries.
    pub manifests: u64,
    /// Tags (attachment tags included).
    pub tags: u64,
    /// Image records.
    pub images: u64,
}

impl Store {
    /// Removes every blob and index entry that no tag or image record reaches. Cosign
    /// attachment tags are not roots: they live as long as their subject. Takes `&mut self`
    /// so that no write of this process can run meanwhile (the lock excludes other processes).
    pub fn gc(&mut self) -> Result<GcReport> {
        self.writable("gc")?;
        let mut roots = vec![];
        for (_, tag, digest) in self.tags()? {
            if AttachmentKind::parse_tag(&tag).is_none() {
                roots.push(digest);
            }
        }
        roots.extend(self.images()?.into_iter().map(|(_, rec)| rec.digest));
        let closure = self.walk(roots, None)?;
        if let Some(digest) = closure.damaged.iter().next() {
            return Err(Error::GcRefused {
                digest: digest.clone(),
            });
        }
        let keep: HashSet<&str> = closure.present().map(Digest::as_str).collect();
        let mut report = GcReport::default();

        let ix = &self.index;
        let utf8 = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut doomed: Vec<(&crate::tree::Tree, sled::IVec)> = vec![];
        for entry in ix.tags.iter() {
            let (k, v) = entry.map_err(|e| ix.err(e))?;
            let key = utf8(&k);
            let is_attachment = key
                .rsplit_once(':')
                .is_some_and(|(_, tag)| AttachmentKind::parse_tag(tag).is_some());
            if is_attachment && !keep.contains(utf8(&v).as_str()) {
                doomed.push((&ix.tags, k));
            }
        }
        for entry in ix.attachments.iter() {
            let (k, v) = entry.map_err(|e| ix.err(e))?;
            let subject_kept =
                split_attachment_key(&utf8(&k)).is_some_and(|(subject, ..)| keep.contains(subject));
            if !subject_kept || !keep.contains(utf8(&v).as_str()) {
                doomed.push((&ix.attachments, k));
            }
        }
        for tree in [&ix.manifests, &ix.sizes] {
            for entry in tree.iter() {
                let (k, _) = entry.map_err(|e| ix.err(e))?;
                if !keep.contains(utf8(&k).as_str()) {
                    doomed.push((tree, k));
                }
            }
        }
        for (tree, key) in doomed {
            tree.remove(key).map_err(|e| ix.err(e))?;
            report.removed_entries += 1;
        }
        ix.flush_now()?;

        let dir = &self.blobs_dir;
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kept =
                stored_digest(&format!("sha256:{name}")).is_some_and(|d| keep.contains(d.as_str()));
            if kept {
                continue;
            }
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| Error::io(&path, e))?;
            if !meta.is_file() {
                continue; // not ours to delete; fsck reports it
            }
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            report.removed_blobs += 1;
            report.freed_bytes += meta.len();
        }
        report.removed_tmp = clear_dir(&self.tmp_dir)?;
        Ok(report)
    }

    /// Counts what the store holds.
    pub fn du(&self) -> Result<Usage> {
        let mut usage = Usage::default();
        let dir = &self.blobs_dir;
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
            if meta.is_file() {
                usage.blobs += 1;
                usage.bytes += meta.len();
            }
        }
        let ix = &self.index;
        usage.manifests = ix.manifests.len() as u64;
        usage.tags = ix.tags.len() as u64;
        usage.images = ix.images.len() as u64;
        Ok(usage)
    }
}
