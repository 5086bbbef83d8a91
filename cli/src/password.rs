//! Reading the key password the way cosign does, so scripts behave the same:
//! `COSIGN_PASSWORD` if set (even to the empty string, used byte for byte), else a prompt on the
//! terminal, else all of stdin (untrimmed: a trailing newline is part of the password).

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

/// The environment variable cosign reads the password from.
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// Whether reading the password would consume stdin (no variable, stdin not a terminal).
pub fn would_read_stdin() -> bool {
    std::env::var_os(PASSWORD_ENV).is_none() && !std::io::stdin().is_terminal()
}

/// What a password read from stdin looked like, for the hint when the key then fails to open:
/// a CI job that forgot `COSIGN_PASSWORD` reads an empty stdin, and "wrong password" alone
/// sends its author looking at the wrong thing.
pub fn stdin_hint(bytes: usize) -> String {
    let what = if bytes == 0 {
        "which was empty".to_owned()
    } else {
        format!("{bytes} byte(s), a trailing newline included if there was one")
    };
    format!(
        "{PASSWORD_ENV} is unset and stdin is not a terminal, so the password was read from \
         stdin ({what}); set {PASSWORD_ENV} (it may be empty) or pipe the exact password"
    )
}

/// Reads the password; with `confirm` (creating a key) a terminal user types it twice.
pub fn read_password(confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(value) = std::env::var_os(PASSWORD_ENV) {
        return Ok(Zeroizing::new(value.into_encoded_bytes()));
    }
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key: ")
                .context("reading the password from the terminal")?,
        );
        if confirm {
            let again = Zeroizing::new(
                rpassword::prompt_password("Enter password for private key again: ")
                    .context("reading the password from the terminal")?,
            );
            if *first != *again {
                bail!("passwords do not match");
            }
        }
        return Ok(Zeroizing::new(first.as_bytes().to_vec()));
    }
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("reading the password from stdin")?;
    Ok(buf)
}
