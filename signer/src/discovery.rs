//! Finding and choosing signer plugins. The loader itself is `sigmirror_plugin_abi::host`.
//!
//! Search order (first plugin of a name wins): each folder of `$SIGMIRROR_PLUGIN_PATH`, the
//! folder of the running binary, `<binary folder>/../lib/sigmirror/plugins`, and
//! `<data dir>/plugins`. Only files named `libsigmirror_signer_<name>.so` are loaded: loading runs
//! code, so sigmirror never opens other files, and refuses (as ssh and sudo refuse such
//! configuration) relative folders, and folders or files that another user could change:
//! writable by every user, or owned by someone other than the user or root.

use std::path::{Path, PathBuf};

use sigmirror_plugin_abi::host::{Plugin, PluginError, is_plugin_file_name};

use sigmirror_cosign::keyref::KeyRef;

use crate::error::{Error, Result};

/// Environment variable with extra plugin folders, `:`-separated, searched first.
pub const PLUGIN_PATH_ENV: &str = "SIGMIRROR_PLUGIN_PATH";

/// The folders to search, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = vec![];
    if let Some(path) = std::env::var_os(PLUGIN_PATH_ENV) {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("../lib/sigmirror/plugins"));
        dirs.insert(dirs.len() - 1, exe_dir);
    }
    if let Some(data) = sigmirror_oci::paths::data_dir() {
        dirs.push(data.join("plugins"));
    }
    dirs
}

/// Why code must not be loaded from `path` (a plugin folder or file, symlinks followed), if
/// it must not: a relative path (it depends on where the command runs), writable by every
/// user, or owned by a user other than this one or root.
fn unsafe_location(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if path.is_relative() {
        return Some("a relative path (use an absolute one)".into());
    }
    let meta = std::fs::metadata(path).ok()?;
    if meta.mode() & 0o002 != 0 {
        return Some(format!(
            "it is writable by every user (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    // The owner of /proc/self is this process's effective user.
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if meta.uid() != 0 && me.is_some_and(|me| meta.uid() != me) {
        return Some(format!("it is owned by another user (uid {})", meta.uid()));
    }
    None
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Folders searched, in order.
    pub searched: Vec<PathBuf>,
    /// Plugins loaded, first of each name only.
    pub plugins: Vec<Plugin>,
    /// Libraries that failed to load, with why.
    pub failures: Vec<PluginError>,
    /// Libraries skipped because a plugin of the same name was found earlier.
    pub shadowed: Vec<(PathBuf, String)>,
}

impl Discovery {
    /// Loads every plugin library in `dirs`. Missing folders are skipped silently; broken
    /// libraries are reported in `failures`, never fatal.
    pub fn search(dirs: &[PathBuf]) -> Discovery {
        let mut found = Discovery {
            searched: dirs.to_vec(),
            ..Discovery::default()
        };
        let mut seen_files = std::collections::HashSet::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            if let Some(reason) = unsafe_location(dir) {
                found.failures.push(PluginError::Unsafe {
                    path: dir.clone(),
                    reason,
                });
                continue;
            }
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(is_plugin_file_name)
                })
                .collect();
            files.sort();
            for file in files {
                let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
                if !seen_files.insert(canonical) {
                    continue;
                }
                if let Some(reason) = unsafe_location(&file) {
                    found
                        .failures
                        .push(PluginError::Unsafe { path: file, reason });
                    continue;
                }
                match Plugin::load(&file) {
                    Ok(plugin) if found.plugins.iter().any(|p| p.name() == plugin.name()) => {
                        found.shadowed.push((file, plugin.name().to_owned()));
                    }
                    Ok(plugin) => found.plugins.push(plugin),
                    Err(e) => found.failures.push(e),
                }
            }
        }
        found
    }

    /// Searches the default folders ([`search_dirs`]).
    pub fn from_env() -> Discovery {
        Self::search(&search_dirs())
    }

    /// The plugin serving `scheme`, if any.
    pub fn for_scheme(&self, scheme: &str) -> Option<&Plugin> {
        self.plugins
            .iter()
            .find(|p| p.schemes().iter().any(|s| s == scheme))
    }

    /// The plugin serving `key`, or an error naming the folders searched.
    pub fn for_key(&self, key: &KeyRef) -> Result<&Plugin> {
        self.for_scheme(key.scheme())
            .ok_or_else(|| Error::NoPlugin {
                scheme: key.scheme().to_owned(),
                searched: self
                    .searched
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
