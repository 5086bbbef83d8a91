//! Mount lifecycle: checks before mounting (including the stale mount a crashed process leaves),
//! the mount itself, and whether a mount point is still mounted.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fuser::{BackgroundSession, Config, MountOption, SessionACL};

use crate::fs::{SigFs, invalidate_on_change};
use crate::vfs::Vfs;

/// Why a mount could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// A FUSE mount whose process is gone is still attached at the mount point.
    #[error(
        "{0} holds a stale mount left by a process that died (\"transport endpoint is not \
         connected\"); clear it with `umount -l {0}` (or `fusermount3 -u {0}`), then mount again"
    )]
    Stale(PathBuf),
    /// Something is already mounted there.
    #[error("{0} is already a mount point; unmount it first (`umount {0}`)")]
    AlreadyMounted(PathBuf),
    /// The mount point is missing or not a folder.
    #[error("{0}: {1}")]
    BadMountPoint(PathBuf, String),
    /// The store could not be read.
    #[error("cannot read the store {0}")]
    Store(PathBuf, #[source] crate::Error),
    /// The store folder cannot be examined.
    #[error("{0}: {1}")]
    StoreFolder(PathBuf, #[source] std::io::Error),
    /// The kernel refused the mount; the text says what to check.
    #[error("mounting at {0} failed ({1})")]
    Mount(PathBuf, String, #[source] std::io::Error),
}

/// What to check when the kernel refuses a mount with `error`.
fn mount_hint(error: &std::io::Error) -> String {
    let root = is_root();
    match error.kind() {
        std::io::ErrorKind::PermissionDenied if !root => "this user may not mount FUSE file \
            systems: /dev/fuse must be readable and writable by it and fusermount3 installed \
            setuid root (Debian's fuse3 package), or run as root"
            .to_owned(),
        std::io::ErrorKind::NotFound => "no /dev/fuse: load the fuse module (`modprobe fuse`) \
            or, in a container, pass the device (--device /dev/fuse)"
            .to_owned(),
        _ => "is /dev/fuse available, and may this process use it?".to_owned(),
    }
}

/// Whether this process runs as root (effective uid 0).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    })
}

/// Whether `path` is a mount point, from `/proc/self/mountinfo` (which escapes spaces as `\040`).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(canonical) = path
        .canonicalize()
        .or_else(|_| Ok::<_, std::io::Error>(path.to_path_buf()))
    else {
        return false;
    };
    let wanted = canonical.to_string_lossy().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|info| {
            info.lines()
                .any(|l| l.split(' ').nth(4) == Some(wanted.as_str()))
        })
        .unwrap_or(false)
}

/// Checks a mount point: an existing, empty-or-not folder that is not already (or stalely)
/// mounted.
pub fn check_mount_point(path: &Path) -> Result<(), MountError> {
    match std::fs::metadata(path) {
        Err(e) if e.raw_os_error() == Some(107) => Err(MountError::Stale(path.to_path_buf())),
        Err(e) => Err(MountError::BadMountPoint(path.to_path_buf(), e.to_string())),
        Ok(m) if !m.is_dir() => Err(MountError::BadMountPoint(
            path.to_path_buf(),
            "not a folder".into(),
        )),
        Ok(_) if is_mounted(path) => Err(MountError::AlreadyMounted(path.to_path_buf())),
        Ok(_) => Ok(()),
    }
}

/// Mounts the read-only view of the store at `store` on `mount_point`, served by background
/// threads until the returned session is dropped (which unmounts).
pub fn mount(store: &Path, mount_point: &Path) -> Result<BackgroundSession, MountError> {
    check_mount_point(mount_point)?;
    let vfs = Arc::new(
        Vfs::new(store, Duration::from_secs(1))
            .map_err(|e| MountError::Store(store.to_path_buf(), e))?,
    );
    let owner =
        std::fs::metadata(store).map_err(|e| MountError::StoreFolder(store.to_path_buf(), e))?;
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::FSName("sigmirror".into()),
        MountOption::Subtype("sigmirror".into()),
        MountOption::DefaultPermissions,
    ];
    // Root may let every user read the view; others keep FUSE's owner-only default.
    config.acl = if owner.uid() == 0 {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    let session = fuser::spawn_mount(
        SigFs::new(vfs.clone(), owner.uid(), owner.gid()),
        mount_point,
        &config,
    )
    .map_err(|e| MountError::Mount(mount_point.to_path_buf(), mount_hint(&e), e))?;
    // Ends by itself once the session has dropped the view.
    invalidate_on_change(
        Arc::downgrade(&vfs),
        session.notifier(),
        Duration::from_millis(250),
    );
    Ok(session)
}
