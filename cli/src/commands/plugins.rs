//! `plugins`: what signer plugins were found, what they serve, and what failed to load.

use anyhow::Result;
use clap::Args;
use sigmirror_signer::Discovery;

// Arguments of `plugins` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct PluginsCmd {
    /// Also list the folders searched.
    #[arg(short, long)]
    verbose: bool,
}

impl PluginsCmd {
    /// Runs the command. Load failures are listed, not fatal: the exit code is 0 unless the
    /// listing itself fails.
    pub fn run(self) -> Result<()> {
        let found = Discovery::from_env();
        if self.verbose {
            for dir in &found.searched {
                outln!("search {}", dir.display())?;
            }
        }
        if found.plugins.is_empty() && found.failures.is_empty() {
            outln!("no signer plugins found (run with -v to see where sigmirror looked)")?;
        }
        for plugin in &found.plugins {
            outln!(
                "{}\tversion {}\tabi {}\tschemes {}\t{}",
                plugin.name(),
                plugin.version(),
                plugin.abi_version(),
                plugin.schemes().join(","),
                plugin.path().display()
            )?;
        }
        for (path, name) in &found.shadowed {
            outln!("shadowed\t{name}\t{}", path.display())?;
        }
        for failure in &found.failures {
            outln!("failed\t{failure}")?;
        }
        Ok(())
    }
}
