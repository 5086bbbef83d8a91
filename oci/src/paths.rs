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
