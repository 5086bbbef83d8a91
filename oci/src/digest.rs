//! Content digests: [`Digest`], the validated `algorithm:hex` name of content that every public
//! API takes, and [`Sha256Digest`], the raw SHA-256 that signatures are made over, computed in
//! one pass over streams of any size.

use std::io::Read;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

/// Size of the read buffer for hashing streams: large enough that the hash, not the system
/// calls, bounds the throughput, small enough to keep memory flat for any file size.
const READ_BUFFER: usize = 1 << 20;

/// Alignment of the read buffer. A 1 MiB `Vec` is a fresh `mmap` whose data starts 16 bytes into
/// a page, and the kernel's copy from the page cache into a destination that is not 32-byte
/// aligned is about twice as slow: on a page-cached 1 GiB file that cost 10% of the end-to-end
/// throughput (see docs/benchmarks.md). Page alignment avoids it whatever the allocator does.
const READ_BUFFER_ALIGN: usize = 4096;

/// The hash algorithms a [`Digest`] may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256, what every registry and cosign use.
    Sha256,
    /// SHA-512, allowed by the OCI image spec (in-toto subjects of npm provenance use it).
    Sha512,
}

impl Algorithm {
    /// The name before the `:`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The number of hex digits of its digests.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// Whether `hex` is lowercase hex digits, the only spelling of a digest accepted anywhere (so a
/// digest can never smuggle a path or a second spelling in).
fn is_lower_hex(hex: &str) -> bool {
    hex.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `hex` is 64 lowercase hex digits.
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && is_lower_hex(hex)
}

/// A content digest, `sha256:<64 hex>` or `sha512:<128 hex>`, lowercase: validated once when it
/// is made, so every holder can use it as a file name or a URL part.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    text: String,
    algorithm: Algorithm,
}

impl Digest {
    /// Parses `algorithm:hex`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidDigest {
            digest: text.chars().take(200).collect(),
            reason,
        };
        let (name, hex) = text
            .split_once(':')
            .ok_or_else(|| invalid("expected algorithm:hex"))?;
        let algorithm = Algorithm::from_name(name)
            .ok_or_else(|| invalid("the algorithm is not sha256 or sha512"))?;
        if hex.len() != algorithm.hex_len() || !is_lower_hex(hex) {
            return Err(invalid("wrong length or not lowercase hex"));
        }
        Ok(Digest {
            text: text.to_owned(),
            algorithm,
        })
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Sha256Digest::of(bytes).into()
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.name().len() + 1..]
    }

    /// `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `algorithm-hex`: the form tags use (a tag cannot hold `:`), as in cosign's
    /// `sha256-<hex>.sig` and the OCI 1.1 referrers fallback tag `sha256-<hex>`.
    pub fn tag_form(&self) -> String {
        format!("{}-{}", self.algorithm.name(), self.hex())
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let mut hasher = self.hasher();
        hasher.update(bytes);
        hasher.finish() == *self
    }

    /// A hasher of this digest's algorithm, for checking a stream.
    pub fn hasher(&self) -> Hasher {
        Hasher::new(self.algorithm)
    }

    /// The raw SHA-256 if this is a SHA-256 digest.
    pub fn sha256(&self) -> Option<Sha256Digest> {
        if self.algorithm != Algorithm::Sha256 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in self.hex().as_bytes().chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).expect("validated hex is ASCII");
            bytes[i] = u8::from_str_radix(text, 16).expect("validated hex");
        }
        Some(Sha256Digest(bytes))
    }
}

impl From<Sha256Digest> for Digest {
    fn from(d: Sha256Digest) -> Self {
        Digest {
            text: d.to_string(),
            algorithm: Algorithm::Sha256,
        }
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Digest::parse(s)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Hashes a stream with the algorithm of the digest it is checked against.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256.
    Sha256(Sha256),
    /// SHA-512.
    Sha512(Sha512),
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything added.
    pub fn finish(self) -> Digest {
        let (algorithm, raw): (Algorithm, Vec<u8>) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        Digest {
            text: format!("{}:{}", algorithm.name(), hex(&raw)),
            algorithm,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A SHA-256 hash: what ECDSA signatures are made over.
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
        hex(&self.0)
    }
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

    #[test]
    fn digests_are_validated_once() {
        let good = Digest::sha256_of(b"x");
        assert_eq!(Digest::parse(good.as_str()).unwrap(), good);
        assert_eq!(good.sha256(), Some(Sha256Digest::of(b"x")));
        assert!(good.matches(b"x") && !good.matches(b"y"));
        assert_eq!(good.tag_form(), format!("sha256-{}", good.hex()));
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        let d = Digest::parse(&sha512).unwrap();
        assert_eq!((d.algorithm(), d.sha256()), (Algorithm::Sha512, None));
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"abc");
        assert!(h.finish().as_str().starts_with("sha512:ddaf35a1"));
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha256:ABCD",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
            &format!("sha256:{}/..", "a".repeat(61)),
            &format!("md5:{}", "a".repeat(32)),
            &format!("sha512:{}", "a".repeat(64)),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&good).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), good);
        assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
    }
}
