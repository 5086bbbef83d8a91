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

/// How many words of the command (the program and its subcommands) the lock file records.
const COMMAND_WORDS: usize = 3;

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
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = root.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // A lock file made by an older version may be readable by others; this one is not
        // (best effort: a lock file owned by someone else keeps its mode).
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        let deadline = Instant::now() + wait;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    if !told {
                        told = true;
                        if let Some(notice) = WAIT_NOTICE.get() {
                            notice(root, &holder(&path), wait);
                        }
                    }
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

/// Told once, when an opener finds the store locked and starts waiting: the store, who holds
/// it and how long the opener will wait.
pub type WaitNotice = fn(&Path, &str, Duration);

/// The process's [`WaitNotice`]. A process-wide hook, because the lock is process-wide and
/// stores are opened deep inside many operations; libraries never print, so the program that
/// wants users told (the CLI, on stderr) sets it once.
static WAIT_NOTICE: std::sync::OnceLock<WaitNotice> = std::sync::OnceLock::new();

/// Sets the process's [`WaitNotice`]; the first call wins.
pub fn on_lock_wait(notice: WaitNotice) {
    let _ = WAIT_NOTICE.set(notice);
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

/// What the lock file says the holder is running: the program's name and its subcommands
/// (`sigmirror store gc`), never its arguments, which can hold a registry password or a token.
fn command_line() -> String {
    describe_command(std::env::args_os().map(|a| a.to_string_lossy().into_owned()))
}

fn describe_command(args: impl Iterator<Item = String>) -> String {
    let mut args = args;
    let program = args
        .next()
        .map(|p| p.rsplit('/').next().unwrap_or_default().to_owned())
        .unwrap_or_default();
    std::iter::once(program)
        .chain(args.take_while(|a| {
            !a.starts_with('-') && a.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        }))
        .take(COMMAND_WORDS)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::describe_command;

    #[test]
    fn the_lock_records_no_arguments() {
        let words = |a: &[&str]| describe_command(a.iter().map(|s| s.to_string()));
        assert_eq!(
            words(&["/usr/bin/sigmirror", "store", "gc"]),
            "sigmirror store gc"
        );
        assert_eq!(
            words(&[
                "sigmirror",
                "pull",
                "--registry-password",
                "s3cret",
                "reg/app:v1"
            ]),
            "sigmirror pull"
        );
        assert_eq!(
            words(&["sigmirror", "pull", "reg.example/app:v1"]),
            "sigmirror pull"
        );
        assert_eq!(
            words(&["sigmirror", "--registry-password=s3cret", "pull"]),
            "sigmirror"
        );
    }
}
