//! Where sigmirror keeps its per-user data.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/sigmirror`, else `$HOME/.local/share/sigmirror`; `None` when neither is set.
/// A relative `XDG_DATA_HOME` is ignored, as the XDG specification says (it would depend on the
/// folder the command runs in).
pub fn data_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME") {
        Some(dir) if std::path::Path::new(&dir).is_absolute() => PathBuf::from(dir),
        _ => {
            PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".local/share")
        }
    };
    Some(base.join("sigmirror"))
}

/// Writes `bytes` to `path` through a temporary file beside it, synced, then renamed over
/// `path`: a reader sees the old file or the new one, never a part (nor a leftover temporary
/// file after a failure).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
