//! The error of the PKCS#11 library.

/// What can go wrong with a PKCS#11 URI, module or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `pkcs11:` URI is not valid; the message names the attribute, never the PIN.
    #[error("{0}")]
    Uri(String),
    /// Neither the URI nor the environment names a module.
    #[error(
        "no PKCS#11 module: add module-path=/path/to/module.so to the URI or set \
         COSIGN_PKCS11_MODULE_PATH"
    )]
    NoModule,
    /// The module file does not exist.
    #[error("PKCS#11 module {path} does not exist")]
    ModuleMissing {
        /// The module's path.
        path: String,
    },
    /// The module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {path}: {reason}")]
    Module {
        /// The module's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The PIN file of `pin-source` could not be read.
    #[error("cannot read the PIN from pin-source {path}: {source}")]
    PinSource {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A call into the module failed.
    #[error("{what}: {}", crate::module::describe(source))]
    Token {
        /// What was being done.
        what: String,
        /// cryptoki's error.
        #[source]
        source: cryptoki::error::Error,
    },
}

impl Error {
    /// A [`Error::Token`] for a failed call.
    pub fn token(what: impl Into<String>) -> impl FnOnce(cryptoki::error::Error) -> Error {
        let what = what.into();
        move |source| Error::Token { what, source }
    }
}

/// The plugin speaks strings across its ABI.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
