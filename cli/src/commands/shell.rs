//! `completion` and `man`: shell completion scripts (as `cosign completion` prints them) and a
//! man page per command, both made from the command definitions so they cannot drift.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Command};
use clap_complete::Shell;

// Arguments of `completion` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Completion {
    /// The shell: bash, zsh, fish, powershell or elvish.
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

impl Completion {
    /// Prints the completion script of `command` for the shell on stdout.
    pub fn run(self, mut command: Command) -> Result<()> {
        // Made in memory and written as any output is, so a closed pipe ends quietly.
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut command, "sigmirror", &mut script);
        use std::io::Write as _;
        std::io::stdout().lock().write_all(&script)?;
        Ok(())
    }
}

// Arguments of `man` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Man {
    /// The folder to write the pages to (created if missing): `sigmirror.1`, and
    /// `sigmirror-<command>.1` for each command and subcommand.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

impl Man {
    /// Writes a page per command.
    pub fn run(self, command: Command) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let mut written = 0;
        write_pages(&self.dir, command, "sigmirror", &mut written)?;
        eprintln!("wrote {written} man pages to {}", self.dir.display());
        Ok(())
    }
}

/// Writes the page of `command`, invoked as `path` (`sigmirror trust add`, in the file
/// `sigmirror-trust-add.1`), and its subcommands' pages.
fn write_pages(
    dir: &std::path::Path,
    command: Command,
    path: &str,
    written: &mut usize,
) -> Result<()> {
    let file_name = path.replace(' ', "-");
    let command = command
        .disable_help_subcommand(true)
        .display_name(file_name.clone())
        .bin_name(path.to_owned());
    let file = dir.join(format!("{file_name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .with_context(|| format!("rendering {path}"))?;
    std::fs::write(&file, page).with_context(|| format!("cannot write {}", file.display()))?;
    *written += 1;
    // `help` is clap's, not a command of ours (building the tree adds one per level).
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_path = format!("{path} {}", sub.get_name());
        write_pages(dir, sub.clone(), &sub_path, written)?;
    }
    Ok(())
}
