//! The thin `fuser` adapter over [`Vfs`]: each request is one call into the view, each error
//! one errno. The mount is read-only (the kernel answers writes with EROFS); the write
//! requests that can still arrive are answered with EROFS here too.

use std::ffi::OsStr;
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyStatfs, Request,
};

use crate::error::Error;
use crate::vfs::{Attr, NodeType, Vfs};

/// How long the kernel may cache entries and attributes.
const TTL: Duration = Duration::from_secs(1);

/// The filesystem handed to `fuser`.
pub struct SigFs {
    vfs: Vfs,
    uid: u32,
    gid: u32,
    mounted_at: SystemTime,
}

impl SigFs {
    /// Serves `vfs`, files owned by `uid`/`gid`.
    pub fn new(vfs: Vfs, uid: u32, gid: u32) -> Self {
        SigFs {
            vfs,
            uid,
            gid,
            mounted_at: SystemTime::now(),
        }
    }

    fn attr(&self, a: Attr) -> FileAttr {
        FileAttr {
            ino: INodeNo(a.ino),
            size: a.size,
            blocks: a.size.div_ceil(512),
            atime: self.mounted_at,
            mtime: self.mounted_at,
            ctime: self.mounted_at,
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
        Error::Io | Error::Store(_) => Errno::EIO,
    }
}

impl Filesystem for SigFs {
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
        match self.vfs.getattr(ino.0) {
            Ok(a) if a.kind == NodeType::File => {
                let keep = if self.vfs.is_immutable(ino.0) {
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
        reply.ok();
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
