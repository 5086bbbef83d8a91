//! The error of the plugin host.

/// What can go wrong finding a plugin or opening a key through one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No plugin serves the scheme of a key reference.
    #[error(
        "no signer plugin serves {scheme:?} key references (searched: {searched}); \
         run `sigmirror plugins` to see what was found"
    )]
    NoPlugin {
        /// The scheme.
        scheme: String,
        /// The plugin folders searched.
        searched: String,
    },
    /// A plugin failed to load or a call into it failed.
    #[error(transparent)]
    Plugin(#[from] sigmirror_plugin_abi::host::PluginError),
    /// A plugin answered with something that is not a valid key or signature.
    #[error("from the {plugin} plugin: {source}")]
    BadAnswer {
        /// The plugin's name.
        plugin: String,
        /// What is wrong with the answer.
        #[source]
        source: sigmirror_cosign::Error,
    },
    /// A key reference is invalid, or its key material could not be read or parsed.
    #[error(transparent)]
    Key(#[from] sigmirror_cosign::Error),
    /// Asking for the key's password failed.
    #[error("cannot read the password for {key}: {source}")]
    Password {
        /// The key reference (redacted).
        key: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
