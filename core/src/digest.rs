//! SHA-256 digests, computed in one pass over streams of any size.

use std::io::Read;

use sha2::{Digest as _, Sha256};

/// Size of the read buffer for hashing streams: large enough that the hash, not the system
/// calls, bounds the throughput, small enough to keep memory flat for any file size.
const READ_BUFFER: usize = 1 << 20;

/// Alignment of the read buffer. A 1 MiB `Vec` is a fresh `mmap` whose data starts 16 bytes into
/// a page, and the kernel's copy from the page cache into a destination that is not 32-byte
/// aligned is about twice as slow: on a page-cached 1 GiB file that cost 10% of the end-to-end
/// throughput (see docs/benchmarks.md). Page alignment avoids it whatever the allocator does.
const READ_BUFFER_ALIGN: usize = 4096;

/// Whether `hex` is 64 lowercase hex digits, the only spelling of a SHA-256 digest that is
/// accepted anywhere (so a digest can never smuggle a path or a second spelling in).
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(is_sha256_hex)
}

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(data).into())
    }

    /// Hashes everything `reader` yields, reading a fixed-size buffer at a time.
    /// Returns the digest and the number of bytes read.
    pub fn of_reader(mut reader: impl Read) -> std::io::Result<(Self, u64)> {
        let mut hasher = Sha256::new();
        let mut backing = vec![0u8; READ_BUFFER + READ_BUFFER_ALIGN];
        let start = backing.as_ptr().align_offset(READ_BUFFER_ALIGN);
        let start = if start < READ_BUFFER_ALIGN { start } else { 0 };
        let buf = &mut backing[start..start + READ_BUFFER];
        let mut total = 0u64;
        loop {
            match reader.read(buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok((Sha256Digest(hasher.finalize().into()), total))
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256Digest(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, as in `sha256:<hex>`.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Passes `stream` through while hashing it; the last item is an error unless the bytes hash to
/// `digest` (`sha256:<hex>`) and number exactly `size`. Also fails as soon as more than `size`
/// bytes arrive, so a lying source cannot make a consumer store or send unbounded data.
pub fn check_stream(
    stream: crate::source::BlobStream,
    digest: &str,
    size: u64,
    what: String,
) -> crate::source::BlobStream {
    use futures_util::StreamExt;
    struct State {
        inner: crate::source::BlobStream,
        hasher: Option<Sha256>,
        seen: u64,
    }
    let expected = digest.to_owned();
    let state = State {
        inner: stream,
        hasher: Some(Sha256::new()),
        seen: 0,
    };
    let mismatch = move |reason: String| crate::Error::Registry {
        reference: what.clone(),
        reason,
    };
    Box::pin(futures_util::stream::unfold(state, move |mut st| {
        let expected = expected.clone();
        let mismatch = mismatch.clone();
        async move {
            let hasher = st.hasher.as_mut()?;
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    st.seen += chunk.len() as u64;
                    if st.seen > size {
                        st.hasher = None;
                        let err = mismatch(format!("more than the {size} bytes announced"));
                        return Some((Err(err), st));
                    }
                    hasher.update(&chunk);
                    Some((Ok(chunk), st))
                }
                Some(Err(e)) => {
                    st.hasher = None;
                    Some((Err(e), st))
                }
                None => {
                    let actual = format!(
                        "sha256:{}",
                        Sha256Digest(st.hasher.take()?.finalize().into()).hex()
                    );
                    if st.seen != size {
                        Some((
                            Err(mismatch(format!(
                                "{} bytes where {size} were announced: the content does not \
                                 match its digest",
                                st.seen
                            ))),
                            st,
                        ))
                    } else if actual != expected {
                        Some((Err(mismatch(format!("content has digest {actual}"))), st))
                    } else {
                        None
                    }
                }
            }
        }
    }))
}

/// A reader as a [`crate::source::BlobStream`] of chunks of up to 1 MiB (blocking reads: for
/// local files). Read errors end the stream with an error naming `what`.
pub fn read_stream(reader: impl Read + Send + 'static, what: String) -> crate::source::BlobStream {
    Box::pin(futures_util::stream::unfold(Some(reader), move |state| {
        let what = what.clone();
        async move {
            let mut reader = state?;
            let mut buf = vec![0u8; READ_BUFFER];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return None,
                    Ok(n) => {
                        buf.truncate(n);
                        return Some((Ok(bytes::Bytes::from(buf)), Some(reader)));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Some((Err(crate::Error::io(what, e)), None)),
                }
            }
        }
    }))
}

impl std::fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl std::fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..3 * READ_BUFFER + 17).map(|i| (i % 251) as u8).collect();
        let (streamed, n) = Sha256Digest::of_reader(&data[..]).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(streamed, Sha256Digest::of(&data));
        assert_eq!(
            Sha256Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
