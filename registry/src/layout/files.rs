//! Opening a layout's files as hostile input. A layout comes from removable media or another
//! party, so each file is opened without following a final symbolic link and without blocking
//! (a FIFO would hang the open), then checked to be a regular file no larger than what may be
//! read, all before a byte is read: `/dev/zero` behind a symlink or a sparse multi-gigabyte
//! manifest must be refused at once, not after filling memory.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use sigmirror_oci::{Error, Result};

/// Opens `path` for reading if it is a regular file of at most `limit` bytes; `Ok(None)` if it
/// does not exist. Returns the file and its size.
pub(crate) fn open_regular(path: &Path, limit: u64) -> Result<Option<(File, u64)>> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refused(path, "a symbolic link"));
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_fifo() {
            "a named pipe"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(refused(path, what));
    }
    if meta.len() > limit {
        return Err(Error::TooLarge {
            what: format!("{} ({} bytes)", path.display(), meta.len()),
            limit,
        });
    }
    Ok(Some((file, meta.len())))
}

/// Reads `path` whole under the rules of [`open_regular`]; the read itself is bounded too, in
/// case the file grows while it is read.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let Some((file, size)) = open_regular(path, limit)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            limit,
        });
    }
    Ok(Some(bytes))
}

fn refused(path: &Path, what: &str) -> Error {
    Error::Malformed {
        what: path.display().to_string(),
        reason: format!("{what}: a layout may hold regular files only"),
    }
}
