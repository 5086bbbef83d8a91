//! Exit codes. Like cosign: 10 when an image has no signatures, 11 when the image does not
//! exist, 12 when signatures exist but none verifies, 1 for any other error, 2 for usage errors
//! (clap).

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

/// Whether the error is a write to a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit code for an error, from the first sigmirror error in its chain that has one.
pub fn code_for(error: &anyhow::Error) -> u8 {
    if let Some(reported) = error.downcast_ref::<AlreadyReported>() {
        return reported.code;
    }
    error.chain().find_map(specific_code).unwrap_or(1)
}

/// The exit code one error means, if it means one. Errors that wrap another transparently
/// (a registry error carrying cosign's, a source error carrying a backend's) hide the inner
/// one from the source chain, so they are looked into here.
fn specific_code(error: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if let Some(e) = error.downcast_ref::<sigmirror_cosign::Error>() {
        return match e {
            sigmirror_cosign::Error::NoSignatures { .. }
            | sigmirror_cosign::Error::NoAttestations { .. } => Some(10),
            sigmirror_cosign::Error::NoValidSignatures { .. }
            | sigmirror_cosign::Error::NoValidAttestations { .. } => Some(12),
            _ => None,
        };
    }
    if let Some(e) = error.downcast_ref::<sigmirror_oci::Error>() {
        return match e {
            sigmirror_oci::Error::NotFound { .. } | sigmirror_oci::Error::NotInStore { .. } => {
                Some(11)
            }
            sigmirror_oci::Error::Backend(inner) => specific_code(inner.as_ref()),
            _ => None,
        };
    }
    if let Some(e) = error.downcast_ref::<sigmirror_registry::Error>() {
        return match e {
            sigmirror_registry::Error::NotFound { .. } => Some(11),
            sigmirror_registry::Error::Oci(inner) => specific_code(inner),
            sigmirror_registry::Error::Cosign(inner) => specific_code(inner),
            _ => None,
        };
    }
    if let Some(e) = error.downcast_ref::<sigmirror_mirror::Error>() {
        return match e {
            sigmirror_mirror::Error::Registry(inner) => specific_code(inner),
            sigmirror_mirror::Error::Oci(inner) => specific_code(inner),
            sigmirror_mirror::Error::Store(sigmirror_store::Error::NotFound { .. }) => Some(11),
            _ => None,
        };
    }
    None
}

/// Reports the outcome for each of several images, given as `(reference, outcome)` in the
/// order to report them: `on_ok` for a success, one `Error:` line for a failure, and, when
/// there were several and any failed, a summary line (`3 of 5 signed; 2 failed: a, b`). Every
/// image is reported; the result then fails with the first failure's exit code (its message
/// already printed).
pub fn report_each<T>(
    verb: &str,
    outcomes: impl IntoIterator<Item = (String, anyhow::Result<T>)>,
    mut on_ok: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut first_error = None;
    let mut failed = vec![];
    let mut total = 0;
    for (reference, outcome) in outcomes {
        total += 1;
        match outcome {
            Ok(value) => on_ok(value)?,
            Err(e) => {
                eprintln!("Error: {}", message(&e));
                first_error.get_or_insert(code_for(&e));
                failed.push(reference);
            }
        }
    }
    summarize(verb, total, &failed);
    match first_error {
        Some(code) => Err(AlreadyReported { code }.into()),
        None => Ok(()),
    }
}

/// The summary line of a batch with failures (`3 of 5 pulled; 2 failed: a, b`); nothing for a
/// single image or when all succeeded.
pub fn summarize(verb: &str, total: usize, failed: &[String]) {
    if total > 1 && !failed.is_empty() {
        eprintln!(
            "{} of {total} {verb}; {} failed: {}",
            total - failed.len(),
            failed.len(),
            failed.join(", ")
        );
    }
}

/// References parsed one by one, so that one that does not parse is one failure of a batch,
/// not the end of it.
pub struct Parsed {
    /// The references that parsed, in the order given.
    pub images: Vec<sigmirror_oci::ImageRef>,
    /// The ones that did not, each with its error.
    pub bad: Vec<(String, anyhow::Error)>,
}

/// Parses each of `names` (see [`Parsed`]).
pub fn parse_each(names: &[String]) -> Parsed {
    let mut parsed = Parsed {
        images: vec![],
        bad: vec![],
    };
    for name in names {
        match sigmirror_oci::ImageRef::parse(name) {
            Ok(image) => parsed.images.push(image),
            Err(e) => parsed.bad.push((name.clone(), anyhow::Error::new(e))),
        }
    }
    parsed
}

impl Parsed {
    /// The failures of the references that did not parse, as outcomes for [`report_each`].
    pub fn failures<T>(&mut self) -> Vec<(String, anyhow::Result<T>)> {
        self.bad.drain(..).map(|(name, e)| (name, Err(e))).collect()
    }
}

/// An error's chain on one line, as the user reads it: causes joined with `: `, a cause left out
/// when the message before already ends with it (an error that prints its source, and also
/// returns it as its source), and control characters escaped (a registry's error body, a file
/// name: what reaches the terminal cannot move the cursor or clear the screen).
pub fn message(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = vec![];
    for cause in error.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|prev| prev.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts
        .join(": ")
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}
