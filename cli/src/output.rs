//! Writing result files without leaving half-written ones: every file is written to a temporary
//! name in its target folder with its final mode, synced, then renamed into place.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// A file staged under a temporary name; [`Staged::commit`] renames it into place, dropping it
/// uncommitted removes it.
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to a temporary file beside `dest`, created with `mode` (so a private key is
    /// never readable by others, not even for an instant), and syncs it.
    pub fn write(dest: &Path, bytes: &[u8], mode: u32) -> Result<Staged> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest.file_name().context("output path has no file name")?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let staged = Staged {
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        };
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&staged.tmp)
            .with_context(|| format!("cannot create {}", staged.tmp.display()))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", staged.tmp.display()))?;
        Ok(staged)
    }

    /// Renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("cannot write {}", self.dest.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes one file atomically.
pub fn write_file(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    Staged::write(dest, bytes, mode)?.commit()
}

/// Writes several files so that either all of them appear or none does (as far as renames in
/// one folder allow: every file is fully written before the first rename).
pub fn write_files(files: &[(&Path, &[u8], u32)]) -> Result<()> {
    let staged = files
        .iter()
        .map(|(dest, bytes, mode)| Staged::write(dest, bytes, *mode))
        .collect::<Result<Vec<_>>>()?;
    for file in staged {
        file.commit()?;
    }
    Ok(())
}

/// cosign's overwrite guard: if any of `paths` exists, ask on stderr and read the answer from
/// stdin; anything but `y`/`yes` (including end of input) declines. `--yes` skips the question.
pub fn confirm_overwrite(paths: &[&Path], yes: bool) -> Result<()> {
    for path in paths {
        if yes || !path.exists() {
            continue;
        }
        eprint!(
            "WARNING: File {} already exists. Overwrite?\nAre you sure you would like to continue? [y/N] ",
            path.display()
        );
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok();
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!();
            bail!(
                "user declined the prompt ({} exists; pass --yes to overwrite)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Sends the process's stdout into `file` (created or truncated), for `--output-file`: every
/// later write to stdout, from any part of the program, lands there. (The one unsafe call of the
/// binary: std has no safe way to replace descriptor 1.)
#[allow(unsafe_code)]
pub fn stdout_into(file: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let out = File::create(file).with_context(|| format!("--output-file {}", file.display()))?;
    // SAFETY: dup2 on two open descriptors; stdout is replaced atomically, and `out` is closed
    // when dropped, leaving descriptor 1 pointing at the file.
    if unsafe { libc::dup2(out.as_raw_fd(), libc::STDOUT_FILENO) } < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("--output-file {}", file.display()));
    }
    Ok(())
}
