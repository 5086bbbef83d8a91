//! The process lock: one writer per store. sled itself refuses a second opener with an opaque
//! error, and two writers would race in `gc`, so the store takes its own lock first and names
//! the holder when it cannot.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often a waiting opener retries the lock.
const POLL: Duration = Duration::from_millis(50);

/// The longest command line written into the lock file; enough to recognise a command.
const MAX_COMMAND: usize = 300;

/// An exclusive `flock` on `ROOT/lock`, released when dropped (or when the process dies, which
/// is what makes it safe against kill -9: the kernel drops it with the file).
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock on `root/lock`, retrying for `wait`, then writes our pid and command line
    /// into it so that the next opener's error can say who holds the store.
    pub(crate) fn acquire(root: &Path, wait: Duration) -> Result<StoreLock> {
        let path = root.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Locked {
                        root: root.to_path_buf(),
                        holder: holder(&path),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
        let note = format!("{}\n{}\n", std::process::id(), command_line());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(note.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(StoreLock { _file: file })
    }
}

/// Who holds the lock, from what the holder wrote into the lock file.
fn holder(path: &PathBuf) -> String {
    let mut text = String::new();
    let read = File::open(path).and_then(|f| f.take(4096).read_to_string(&mut text));
    let mut lines = text.lines();
    match (read, lines.next(), lines.next()) {
        (Ok(_), Some(pid), Some(cmd)) if !pid.is_empty() => format!("pid {pid}: `{cmd}`"),
        (Ok(_), Some(pid), None) if !pid.is_empty() => format!("pid {pid}"),
        _ => "holder unknown".to_owned(),
    }
}

/// Our command line on one line, shortened.
fn command_line() -> String {
    let mut cmd = std::env::args_os()
        .map(|a| a.to_string_lossy().replace(['\n', '\r'], " "))
        .collect::<Vec<_>>()
        .join(" ");
    if cmd.len() > MAX_COMMAND {
        let mut end = MAX_COMMAND;
        while !cmd.is_char_boundary(end) {
            end -= 1;
        }
        cmd.truncate(end);
        cmd.push_str(" ...");
    }
    cmd
}
