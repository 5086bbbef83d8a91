//! Key references as cosign takes them with `--key`: a file path, `file://`, `env://VAR`, or a
//! `<scheme>://…` / `pkcs11:…` reference that a signer plugin serves.

use crate::error::{Error, Result};

/// A parsed `--key` value. The scheme chooses the signer plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    raw: String,
    scheme: String,
}

impl KeyRef {
    /// Parses a key reference. Anything without a scheme is a file path.
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.is_empty() {
            return Err(Error::KeyRef {
                key_ref: raw.into(),
                reason: "empty".into(),
            });
        }
        let scheme = if raw.starts_with("pkcs11:") {
            "pkcs11".to_owned()
        } else {
            match raw.split_once("://") {
                Some((scheme, _)) if is_scheme(scheme) => scheme.to_ascii_lowercase(),
                _ => "file".to_owned(),
            }
        };
        Ok(KeyRef {
            raw: raw.to_owned(),
            scheme,
        })
    }

    /// The reference exactly as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Its scheme: `file` for plain paths, else what precedes `://` (or `pkcs11`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// For `file` references, the path (with any `file://` prefix removed).
    pub fn file_path(&self) -> Option<&str> {
        match self.scheme.as_str() {
            "file" => Some(self.raw.strip_prefix("file://").unwrap_or(&self.raw)),
            _ => None,
        }
    }

    /// For `env://VAR` references, the variable name.
    pub fn env_var(&self) -> Option<&str> {
        (self.scheme == "env").then(|| &self.raw["env://".len()..])
    }
}

/// The reference with secrets masked, for messages: a PKCS#11 URI may carry its PIN as
/// `pin-value=…`, which must never reach a terminal or a log.
pub fn redact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.to_ascii_lowercase().find("pin-value=") {
        let value_start = pos + "pin-value=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("<redacted>");
        let value_len = rest[value_start..]
            .find(['&', ';'])
            .unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

/// RFC 3986 scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Reads the PEM text a `file`/`env` reference names: the file, or the variable's value.
pub fn read_key_material(key: &KeyRef) -> Result<Vec<u8>> {
    if let Some(var) = key.env_var() {
        return std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(|v| v.into_encoded_bytes())
            .ok_or_else(|| Error::KeyRef {
                key_ref: key.to_string(),
                reason: format!("environment variable {var} is not set"),
            });
    }
    let path = key.file_path().ok_or_else(|| Error::KeyRef {
        key_ref: key.to_string(),
        reason: "not a file or env:// reference".into(),
    })?;
    // A key file is small; the name can point anywhere (`--key /dev/zero`).
    use std::io::Read;
    let mut bytes = vec![];
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(Error::KeyRef {
            key_ref: key.to_string(),
            reason: "the file is larger than 64 KiB; a key file is not".into(),
        });
    }
    Ok(bytes)
}

/// The largest key file read.
const MAX_KEY_FILE: u64 = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_read_with_a_bound() {
        let zero = KeyRef::parse("/dev/zero").unwrap();
        let err = read_key_material(&zero).unwrap_err();
        assert!(err.to_string().contains("larger than 64 KiB"), "{err}");
    }

    #[test]
    fn schemes() {
        let cases = [
            ("cosign.key", "file"),
            ("./dir/cosign.key", "file"),
            ("file:///tmp/cosign.key", "file"),
            ("env://KEY", "env"),
            ("awskms:///alias/release", "awskms"),
            ("hashivault://release", "hashivault"),
            ("k8s://ns/name", "k8s"),
            ("pkcs11:token=ci;object=release?module-path=/x.so", "pkcs11"),
            ("weird dir://x", "file"),
        ];
        for (raw, scheme) in cases {
            assert_eq!(KeyRef::parse(raw).unwrap().scheme(), scheme, "{raw}");
        }
        assert_eq!(
            KeyRef::parse("file:///tmp/k").unwrap().file_path(),
            Some("/tmp/k")
        );
        assert_eq!(KeyRef::parse("env://KEY").unwrap().env_var(), Some("KEY"));
        assert!(KeyRef::parse("").is_err());
        let pin =
            KeyRef::parse("pkcs11:token=ci;object=k?module-path=/m.so&pin-value=1234&x=y").unwrap();
        assert_eq!(
            pin.to_string(),
            "pkcs11:token=ci;object=k?module-path=/m.so&pin-value=<redacted>&x=y"
        );
        assert_eq!(
            redact("pkcs11:object=k?PIN-VALUE=9"),
            "pkcs11:object=k?PIN-VALUE=<redacted>"
        );
        assert_eq!(
            pin.as_str(),
            "pkcs11:token=ci;object=k?module-path=/m.so&pin-value=1234&x=y"
        );
    }
}
