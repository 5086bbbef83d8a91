//! Blob streams: checking one against its digest and size on the way, and reading a local file
//! as one.

use std::io::Read;

use futures_util::StreamExt;

use crate::digest::{Digest, Hasher};
use crate::error::Error;
use crate::source::BlobStream;

/// Chunk size of streams read from local files.
const CHUNK: usize = 1 << 20;

/// Passes `stream` through while hashing it; the last item is an error unless the bytes hash to
/// `digest` and number exactly `size`. Also fails as soon as more than `size` bytes arrive, so
/// a lying source cannot make a consumer store or send unbounded data. `what` names the
/// content in the error.
pub fn check_stream(stream: BlobStream, digest: &Digest, size: u64, what: String) -> BlobStream {
    struct State {
        inner: BlobStream,
        hasher: Option<Hasher>,
        seen: u64,
        expected: Digest,
        what: String,
    }
    let state = State {
        inner: stream,
        hasher: Some(digest.hasher()),
        seen: 0,
        expected: digest.clone(),
        what,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        move |mut st| async move {
            let hasher = st.hasher.as_mut()?;
            let mismatch = |st: &State, reason: String| Error::Mismatch {
                what: st.what.clone(),
                reason,
            };
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    st.seen += chunk.len() as u64;
                    if st.seen > size {
                        st.hasher = None;
                        let err = mismatch(&st, format!("more than the {size} bytes announced"));
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
                    let actual = st.hasher.take()?.finish();
                    if st.seen != size {
                        let reason = format!(
                            "{} bytes where {size} were announced: the content does not match its \
                         digest",
                            st.seen
                        );
                        Some((Err(mismatch(&st, reason)), st))
                    } else if actual != st.expected {
                        let reason = format!("content has digest {actual}");
                        Some((Err(mismatch(&st, reason)), st))
                    } else {
                        None
                    }
                }
            }
        },
    ))
}

/// A reader as a [`BlobStream`] of chunks of up to 1 MiB (blocking reads: for local files).
/// Read errors end the stream with an [`Error::Io`] naming `path`.
pub fn read_stream(reader: impl Read + Send + 'static, path: std::path::PathBuf) -> BlobStream {
    Box::pin(futures_util::stream::unfold(Some(reader), move |state| {
        let path = path.clone();
        async move {
            let mut reader = state?;
            let mut buf = vec![0u8; CHUNK];
            let mut filled = 0;
            // Fill whole chunks: a verifying reader reports a bad digest on the read after
            // the last bytes, and no byte read before it may be lost.
            while filled < CHUNK {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) if filled > 0 => break,
                    Err(e) => return Some((Err(Error::io(path, e)), None)),
                }
            }
            if filled == 0 {
                return None;
            }
            buf.truncate(filled);
            Some((Ok(bytes::Bytes::from(buf)), Some(reader)))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    fn chunks(parts: &[&'static [u8]]) -> BlobStream {
        let items: Vec<crate::Result<bytes::Bytes>> = parts
            .iter()
            .map(|p| Ok(bytes::Bytes::from_static(p)))
            .collect();
        Box::pin(futures_util::stream::iter(items))
    }

    fn run(stream: BlobStream) -> crate::Result<Vec<u8>> {
        let collect = stream.map_ok(|chunk| chunk.to_vec()).try_concat();
        futures_util::FutureExt::now_or_never(collect).expect("in-memory stream is ready")
    }

    #[test]
    fn checked_streams_pass_good_content_and_stop_bad() {
        let digest = Digest::sha256_of(b"hello world");
        let ok = check_stream(chunks(&[b"hello ", b"world"]), &digest, 11, "x".into());
        assert_eq!(run(ok).unwrap(), b"hello world");
        let other = check_stream(chunks(&[b"hello ", b"World"]), &digest, 11, "x".into());
        assert!(matches!(run(other), Err(Error::Mismatch { .. })));
        let long = check_stream(chunks(&[b"hello ", b"world!"]), &digest, 11, "x".into());
        assert!(
            run(long)
                .unwrap_err()
                .to_string()
                .contains("more than the 11")
        );
        let short = check_stream(chunks(&[b"hello"]), &digest, 11, "x".into());
        assert!(
            run(short)
                .unwrap_err()
                .to_string()
                .contains("5 bytes where 11")
        );
    }

    #[test]
    fn files_stream_in_order() {
        let data: Vec<u8> = (0..CHUNK * 2 + 5).map(|i| (i % 253) as u8).collect();
        let stream = read_stream(std::io::Cursor::new(data.clone()), "mem".into());
        assert_eq!(run(stream).unwrap(), data);
    }
}
