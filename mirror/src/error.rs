//! The one error type of `sigmirror-mirror`.

use std::path::PathBuf;

/// What can go wrong moving images between registries, the store and layout folders.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image failed; says which and what was being done (`pulling IMAGE`, `pushing IMAGE
    /// to TARGET`, …).
    #[error("{context}")]
    Image {
        /// What was being done to which image.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// Nothing was named to transfer.
    #[error("nothing to {0}: name images{1}")]
    NothingToDo(&'static str, &'static str),
    /// A layout folder carries no image names and none was given.
    #[error("{} names no images (a cosign layout?): give the IMAGE to load it as", .0.display())]
    UnnamedLayout(PathBuf),
    /// A cosign layout has no entry marked as its image.
    #[error("{} has no image marked with `kind` to name {image}", dir.display())]
    NoImageInLayout {
        /// The layout folder.
        dir: PathBuf,
        /// The name it was to be loaded as.
        image: String,
    },
    /// The store holds one platform of this image's index: a registry refuses the index
    /// without its other platforms' manifests.
    #[error(
        "the store holds only {platform} of this multi-platform image (pulled with --platform), \
         and a registry refuses an index whose other platforms' manifests it does not hold; \
         pull it without --platform to push it"
    )]
    PartialImage {
        /// The platform it was pulled for.
        platform: String,
    },
    /// `copy` without `--force` would move an existing tag.
    #[error("image \"{0}\" already exists with another digest; use -f to overwrite")]
    DestinationExists(String),
    /// A registry failed.
    #[error(transparent)]
    Registry(#[from] sigmirror_registry::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sigmirror_store::Error),
    /// A source or sink failed (content, format, or a backend's own error).
    #[error(transparent)]
    Oci(#[from] sigmirror_oci::Error),
    /// A sync file is wrong.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A policy could not be read.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// A store write moved to the blocking pool panicked or was cancelled.
    #[error("a store write did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    /// Wraps `self` with what was being done to which image.
    pub(crate) fn for_image(self, context: String) -> Error {
        Error::Image {
            context,
            source: Box::new(self),
        }
    }
}

/// `error` with every cause after it (`loading IMAGE: blob …: digest mismatch`), for reports
/// that keep a failure as one line of text.
pub fn full_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let next = e.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = e.source();
    }
    text
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
