//! `mount`: the read-only FUSE view of the store.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use sigmirror_fusefs::mount::{check_mount_point, is_mounted, mount};

use super::source::StoreArgs;

// Arguments of `mount` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Mount {
    /// Stay in the foreground until Ctrl-C, SIGTERM or `umount` (default: detach once mounted).
    #[arg(long)]
    foreground: bool,
    #[command(flatten)]
    store: StoreArgs,
    /// The folder to mount on.
    #[arg(value_name = "MOUNTPOINT")]
    mount_point: PathBuf,
}

fn store_dir(args: &StoreArgs) -> Result<PathBuf> {
    // Opening checks the folder is a store. An existing one is opened for reading, which works
    // on write-protected media; a missing one is created empty, for a mount that waits for a
    // first pull.
    let store = match args.open_for_reading() {
        Ok(store) => store,
        Err(e)
            if e.downcast_ref::<sigmirror_store::Error>()
                .is_some_and(|e| matches!(e, sigmirror_store::Error::NoStore { .. })) =>
        {
            args.open()?
        }
        Err(e) => return Err(e),
    };
    Ok(store.root().to_path_buf())
}

impl Mount {
    /// Mounts the view; in the foreground, unmounts on SIGINT/SIGTERM.
    pub fn run(self) -> Result<()> {
        check_mount_point(&self.mount_point)?;
        let root = store_dir(&self.store)?;
        if self.foreground {
            return serve(&root, &self.mount_point);
        }
        // Detach: run the foreground mount as a child in its own process group, wait until the
        // mount is there (or the child reports why not), then leave it running.
        // The child's stderr goes to an unnamed temporary file, read from here if it fails. Not
        // a file in the store: the child's store opening clears the store's tmp/.
        let mut log = tempfile::tempfile().context("cannot create the mount log")?;
        let log_file = log.try_clone().context("cannot create the mount log")?;
        let exe = std::env::current_exe().context("cannot find the sigmirror binary")?;
        let mut child = Command::new(exe)
            .arg("mount")
            .arg("--foreground")
            .arg("--store")
            .arg(&root)
            .arg(&self.mount_point)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .context("cannot start the mount process")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                let mut why = String::new();
                log.seek(SeekFrom::Start(0))
                    .and_then(|_| log.read_to_string(&mut why))
                    .ok();
                let why = why.trim().strip_prefix("Error: ").unwrap_or(why.trim());
                if why.is_empty() {
                    bail!(
                        "the mount process exited ({status}) without saying why; run `mount \
                         --foreground` to see it"
                    );
                }
                bail!("{why}");
            }
            if is_mounted(&self.mount_point) {
                eprintln!(
                    "mounted {} on {} (process {}); unmount with `umount {}`",
                    root.display(),
                    self.mount_point.display(),
                    child.id(),
                    self.mount_point.display()
                );
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        bail!("the mount did not appear within 15 s");
    }
}

/// Mounts and serves until a signal arrives or the mount is removed from outside.
fn serve(root: &Path, mount_point: &Path) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, stop.clone())
            .context("cannot install signal handlers")?;
    }
    let session = mount(root, mount_point)?;
    eprintln!(
        "mounted {} on {}; Ctrl-C or `umount {}` ends it",
        root.display(),
        mount_point.display(),
        mount_point.display()
    );
    // The mount exists once `mount` returns; if it disappears, someone unmounted it.
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if !is_mounted(mount_point) {
            eprintln!("{} was unmounted", mount_point.display());
            drop(session);
            return Ok(());
        }
    }
    session
        .umount_and_join()
        .with_context(|| format!("unmounting {}", mount_point.display()))?;
    eprintln!("unmounted {}", mount_point.display());
    Ok(())
}
