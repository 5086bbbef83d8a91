//! Just enough DER to cut the original bytes of a structure apart: signatures are verified over
//! the exact bytes that were signed, never over a re-encoding (a re-encoded certificate may
//! differ, and a precertificate for SCTs is the TBS with one extension cut out).

/// One DER element inside a buffer: its tag byte, and where its header and content are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv {
    /// The identifier octet (low-tag-number form only).
    pub tag: u8,
    /// Offset of the element in the buffer it was read from.
    pub start: usize,
    /// Offset of its content.
    pub content: usize,
    /// Offset just past it.
    pub end: usize,
}

impl Tlv {
    /// The whole element (header and content).
    pub fn bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.end]
    }

    /// Its content.
    pub fn content<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.content..self.end]
    }
}

/// Reads the element at `offset` of `buf` (definite lengths only, as DER requires).
pub fn read(buf: &[u8], offset: usize) -> Option<Tlv> {
    let tag = *buf.get(offset)?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers do not occur in the structures read here
    }
    let first = *buf.get(offset + 1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*buf.get(offset + 2 + i)?);
        }
        (len, 2 + n)
    };
    let content = offset + header;
    let end = content.checked_add(len)?;
    (end <= buf.len()).then_some(Tlv {
        tag,
        start: offset,
        content,
        end,
    })
}

/// The elements directly inside `outer` (its content, read one after another).
pub fn children(buf: &[u8], outer: &Tlv) -> Option<Vec<Tlv>> {
    let mut out = vec![];
    let mut at = outer.content;
    while at < outer.end {
        let child = read(buf, at)?;
        if child.end > outer.end {
            return None;
        }
        at = child.end;
        out.push(child);
    }
    Some(out)
}

/// A DER header for `tag` and a content of `len` bytes.
pub fn header(tag: u8, len: usize) -> Vec<u8> {
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out
}

/// `tag` wrapped around `content`.
pub fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = header(tag, content.len());
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_lengths() {
        for len in [0usize, 5, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let der = wrap(0x30, &content);
            let tlv = read(&der, 0).unwrap();
            assert_eq!(
                (tlv.tag, tlv.end, tlv.content(&der).len()),
                (0x30, der.len(), len)
            );
        }
        assert!(read(&[0x30, 0x05, 1, 2], 0).is_none(), "short content");
        assert!(read(&[0x30, 0x80], 0).is_none(), "indefinite length");
        let seq = wrap(0x30, &[wrap(0x02, &[1]), wrap(0x04, &[2, 3])].concat());
        let outer = read(&seq, 0).unwrap();
        let kids = children(&seq, &outer).unwrap();
        assert_eq!(kids.iter().map(|k| k.tag).collect::<Vec<_>>(), [0x02, 0x04]);
    }
}
