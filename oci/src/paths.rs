//! Where sigmirror keeps its per-user data.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/sigmirror`, else `$HOME/.local/share/sigmirror`; `None` when neither is set.
pub fn data_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".local/share")
        }
    };
    Some(base.join("sigmirror"))
}
