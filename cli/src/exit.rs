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
