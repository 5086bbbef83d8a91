//! Exit codes. Like cosign: 10 when an image has no signatures, 11 when the image does not
//! exist, 12 when signatures exist but none verifies, 1 for any other error, 2 for usage errors
//! (clap).

use sigmirror_core::Error;

/// An error whose details were already printed; `main` only exits with `code`.
#[derive(Debug)]
pub struct AlreadyReported {
    /// The exit code.
    pub code: u8,
}

impl std::fmt::Display for AlreadyReported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("errors reported above")
    }
}

impl std::error::Error for AlreadyReported {}

/// The exit code for an error, from the first sigmirror error in its chain.
pub fn code_for(error: &anyhow::Error) -> u8 {
    if let Some(reported) = error.downcast_ref::<AlreadyReported>() {
        return reported.code;
    }
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
        .map_or(1, core_error_code)
}

/// The exit code for a core error.
pub fn core_error_code(error: &Error) -> u8 {
    match error {
        Error::NoSignatures { .. } | Error::NoAttestations { .. } => 10,
        Error::NotFound { .. } => 11,
        Error::NoValidSignatures { .. } | Error::NoValidAttestations { .. } => 12,
        _ => 1,
    }
}

/// Reports the outcome for each of several images: `on_ok` for a success, one `Error:` line for
/// a failure. Every image is reported; the result then fails with the first failure's exit code
/// (its message already printed).
pub fn report_each<T, E: Into<anyhow::Error>>(
    results: impl IntoIterator<Item = Result<T, E>>,
    mut on_ok: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut first_error = None;
    for result in results {
        match result {
            Ok(value) => on_ok(value)?,
            Err(e) => {
                let e: anyhow::Error = e.into();
                eprintln!("Error: {e:#}");
                first_error.get_or_insert(code_for(&e));
            }
        }
    }
    match first_error {
        Some(code) => Err(AlreadyReported { code }.into()),
        None => Ok(()),
    }
}
