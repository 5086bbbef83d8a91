//! Kernel mounts a test needs (the tests run as root): a small tmpfs to fill the disk, a
//! read-only bind to play write-protected media. Each is unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mount at a folder, undone when dropped.
pub struct Mount(PathBuf);

fn mount(args: &[&str], point: &Path) {
    let status = Command::new("mount")
        .args(args)
        .arg(point)
        .status()
        .unwrap_or_else(|e| panic!("cannot run mount: {e}"));
    assert!(
        status.success(),
        "mount {args:?} {} (needs root)",
        point.display()
    );
}

impl Mount {
    /// A tmpfs of `size` (`2m`, …) at `point`, created if missing.
    pub fn tmpfs(point: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(point).unwrap_or_else(|e| panic!("{}: {e}", point.display()));
        mount(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            point,
        );
        Mount(point.to_path_buf())
    }

    /// `from` seen read-only at `point`, created if missing.
    pub fn read_only_bind(from: &Path, point: &Path) -> Mount {
        std::fs::create_dir_all(point).unwrap_or_else(|e| panic!("{}: {e}", point.display()));
        let from = from.to_str().expect("a UTF-8 path");
        mount(&["--bind", from], point);
        let bound = Mount(point.to_path_buf());
        mount(&["-o", "remount,bind,ro"], point);
        bound
    }

    /// Where it is mounted.
    pub fn point(&self) -> &Path {
        &self.0
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
