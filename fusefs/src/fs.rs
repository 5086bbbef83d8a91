//! The thin `fuser` adapter over [`Vfs`]: each request is one call into the view, each error
//! one errno. The mount is read-only (the kernel answers writes with EROFS); the write
//! requests that can still arrive are answered with EROFS here too.
//!
//! Caching: the kernel keeps entries and attributes for [`TTL`], and file pages and folder
//! listings across opens (`keep_cache`, `cache_dir`; with a kernel that allows it, `open` and
//! `opendir` are not even asked). Nothing goes stale for that long: the view's content only
//! changes with a rebuild, which moves every node's `mtime` on (the kernel then drops pages and
//! listings, `FUSE_AUTO_INVAL_DATA`), and [`invalidate_on_change`] tells the kernel to forget
//! the names and inodes of the replaced tree right after each rebuild. Without
//! `FUSE_AUTO_INVAL_DATA` only blobs keep their pages.

use std::ffi::OsStr;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, Notifier, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, Request,
};

use crate::error::Error;
use crate::vfs::{Attr, NodeType, Vfs};

/// How long the kernel may cache entries and attributes. Changes do not wait for it: when the
/// store changes, [`invalidate_on_change`] tells the kernel to forget what it cached.
pub const TTL: Duration = Duration::from_secs(60);

/// The filesystem handed to `fuser`.
pub struct SigFs {
    vfs: Arc<Vfs>,
    uid: u32,
    gid: u32,
    mounted_at: SystemTime,
    /// The kernel drops cached pages and listings when `mtime` changes (`FUSE_AUTO_INVAL_DATA`).
    auto_inval: bool,
    /// With `auto_inval`, and a kernel that opens files and folders without asking when `open`
    /// and `opendir` answer ENOSYS (it then keeps their caches, as with `keep_cache` and
    /// `cache_dir`): nothing needs deciding at open time, so the round trips are saved.
    no_open: bool,
}

impl SigFs {
    /// Serves `vfs`, files owned by `uid`/`gid`.
    pub fn new(vfs: Arc<Vfs>, uid: u32, gid: u32) -> Self {
        SigFs {
            vfs,
            uid,
            gid,
            mounted_at: SystemTime::now(),
            auto_inval: false,
            no_open: false,
        }
    }

    fn attr(&self, a: Attr) -> FileAttr {
        FileAttr {
            ino: INodeNo(a.ino),
            size: a.size,
            blocks: a.size.div_ceil(512),
            atime: self.mounted_at,
            mtime: a.mtime,
            ctime: a.mtime,
            crtime: self.mounted_at,
            kind: file_type(a.kind),
            perm: a.perm,
            nlink: if a.kind == NodeType::Dir { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

fn file_type(kind: NodeType) -> FileType {
    match kind {
        NodeType::Dir => FileType::Directory,
        NodeType::File => FileType::RegularFile,
        NodeType::Link => FileType::Symlink,
    }
}

fn errno(e: &Error) -> Errno {
    match e {
        Error::NotFound => Errno::ENOENT,
        Error::NotADirectory => Errno::ENOTDIR,
        Error::IsADirectory => Errno::EISDIR,
        Error::Invalid => Errno::EINVAL,
        Error::Corrupt(digest) => {
            tracing::error!("refusing to serve corrupt blob {digest}");
            Errno::EIO
        }
        Error::Io(_) | Error::Store(_) => Errno::EIO,
    }
}

impl Filesystem for SigFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        self.auto_inval = config
            .add_capabilities(InitFlags::FUSE_AUTO_INVAL_DATA)
            .is_ok();
        self.no_open = self.auto_inval
            && config
                .capabilities()
                .contains(InitFlags::FUSE_NO_OPEN_SUPPORT | InitFlags::FUSE_NO_OPENDIR_SUPPORT);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str() else {
            return reply.error(Errno::ENOENT);
        };
        match self.vfs.lookup(parent.0, name) {
            Ok(a) => reply.entry(&TTL, &self.attr(a), Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.vfs.getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &self.attr(a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.vfs.readlink(ino.0) {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let access = flags.0 & libc_accmode();
        if access != 0 {
            return reply.error(Errno::EROFS);
        }
        if self.no_open {
            return reply.error(Errno::ENOSYS);
        }
        match self.vfs.getattr(ino.0) {
            Ok(a) if a.kind == NodeType::File => {
                let keep = if self.auto_inval || self.vfs.is_immutable(ino.0) {
                    FopenFlags::FOPEN_KEEP_CACHE
                } else {
                    FopenFlags::empty()
                };
                reply.opened(FileHandle(0), keep)
            }
            Ok(_) => reply.error(Errno::EISDIR),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.vfs.read(ino.0, offset, size) {
            Ok(bytes) => reply.data(&bytes),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Nothing to flush on a read-only view: ENOSYS tells the kernel not to send FLUSH on
        // every close again (fuser's default would also log a warning).
        reply.error(Errno::ENOSYS);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if self.no_open {
            return reply.error(Errno::ENOSYS);
        }
        match self.vfs.getattr(ino.0) {
            Ok(a) if a.kind == NodeType::Dir => {
                let keep = if self.auto_inval {
                    FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR
                } else {
                    FopenFlags::empty()
                };
                reply.opened(FileHandle(0), keep)
            }
            Ok(_) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.vfs.readdir(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let dots = [
            (ino.0, NodeType::Dir, ".".to_owned()),
            (ino.0, NodeType::Dir, "..".to_owned()),
        ];
        for (i, (child, kind, name)) in dots
            .into_iter()
            .chain(entries)
            .enumerate()
            .skip(offset as usize)
        {
            if reply.add(INodeNo(child), (i + 1) as u64, file_type(kind), &name) {
                break;
            }
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }
}

/// `O_ACCMODE`: opening for writing or read-write is refused.
const fn libc_accmode() -> i32 {
    0o3
}

/// Watches the store for as long as `vfs` is served (every `every`) and, after each rebuild,
/// tells the kernel to drop what it cached from the replaced tree (names, attributes, pages,
/// listings), so that changes show up at once in spite of the long [`TTL`]. Runs on its own
/// thread: the kernel may have to wait for a request in progress before it can drop a name, so
/// this must never run inside a request. Ends when the session has dropped the view.
pub fn invalidate_on_change(
    vfs: Weak<Vfs>,
    notifier: Notifier,
    every: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        if let Some(vfs) = vfs.upgrade() {
            vfs.take_stale();
        }
        loop {
            std::thread::sleep(every);
            let Some(vfs) = vfs.upgrade() else { return };
            vfs.refresh();
            let stale = vfs.take_stale();
            drop(vfs);
            for (parent, name, ino) in stale {
                // ENOENT (the kernel never cached that name or inode) is the common answer.
                let _ = notifier.inval_entry(INodeNo(parent), OsStr::new(&name));
                let _ = notifier.inval_inode(INodeNo(ino), 0, 0);
            }
        }
    })
}
