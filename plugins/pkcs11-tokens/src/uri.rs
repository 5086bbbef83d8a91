//! RFC 7512 `pkcs11:` URIs, the subset cosign takes: path attributes `token`, `slot-id`,
//! `object`, `id` (plus `manufacturer`, `model`, `serial` to narrow the token), query
//! attributes `module-path`, `pin-value`, `pin-source`. Values are percent-decoded; `id` is
//! raw bytes.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A parsed `pkcs11:` URI.
#[derive(Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `manufacturer`: the token's manufacturer.
    pub manufacturer: Option<String>,
    /// `model`: the token's model.
    pub model: Option<String>,
    /// `serial`: the token's serial number.
    pub serial: Option<String>,
    /// `slot-id`: the slot number.
    pub slot_id: Option<u64>,
    /// `object`: the key's label.
    pub object: Option<String>,
    /// `id`: the key's id bytes.
    pub id: Option<Vec<u8>>,
    /// `module-path`: the PKCS#11 module to load.
    pub module_path: Option<String>,
    /// `pin-value`: the user PIN.
    pub pin_value: Option<Zeroizing<String>>,
    /// `pin-source`: a file holding the user PIN.
    pub pin_source: Option<String>,
}

impl std::fmt::Debug for Pkcs11Uri {
    // Never print the PIN.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Uri")
            .field("token", &self.token)
            .field("slot_id", &self.slot_id)
            .field("object", &self.object)
            .field("id", &self.id)
            .field("module_path", &self.module_path)
            .finish_non_exhaustive()
    }
}

/// Decodes `%XX` escapes into bytes.
pub fn percent_decode(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::Uri(format!("invalid percent escape in {text:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Percent-encodes every byte outside RFC 7512's unreserved set (for printing URIs).
pub fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

fn text(name: &str, value: &str) -> Result<String> {
    String::from_utf8(percent_decode(value)?)
        .map_err(|_| Error::Uri(format!("the {name} attribute is not UTF-8 text")))
}

impl Pkcs11Uri {
    /// Parses `raw`; the error names the offending attribute, never the PIN.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = |reason: String| Error::Uri(reason);
        let rest = raw
            .strip_prefix("pkcs11:")
            .ok_or_else(|| invalid("not a pkcs11: URI".to_owned()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr.split_once('=').ok_or_else(|| {
                invalid(format!(
                    "invalid pkcs11 URI attribute {attr:?} (expected name=value)"
                ))
            })?;
            match name {
                "token" => uri.token = Some(text(name, value)?),
                "manufacturer" => uri.manufacturer = Some(text(name, value)?),
                "model" => uri.model = Some(text(name, value)?),
                "serial" => uri.serial = Some(text(name, value)?),
                "object" => uri.object = Some(text(name, value)?),
                "id" => uri.id = Some(percent_decode(value)?),
                "slot-id" => {
                    uri.slot_id = Some(text(name, value)?.parse().map_err(|_| {
                        invalid(format!("slot-id must be a decimal number, got {value:?}"))
                    })?)
                }
                "type" => {
                    let t = text(name, value)?;
                    if !matches!(t.as_str(), "private" | "public") {
                        return Err(invalid(format!(
                            "type={t} does not name a key (use private or public)"
                        )));
                    }
                }
                "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer" => {}
                n if n.starts_with("x-") => {}
                other => {
                    return Err(invalid(format!(
                        "unknown pkcs11 URI path attribute {other:?}"
                    )));
                }
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (name, value) = attr.split_once('=').unwrap_or((attr, ""));
            match name {
                "module-path" => uri.module_path = Some(text(name, value)?),
                "pin-value" => uri.pin_value = Some(Zeroizing::new(text(name, value)?)),
                "pin-source" => uri.pin_source = Some(text(name, value)?),
                "module-name" => {
                    return Err(invalid(
                        "module-name is not supported; give module-path=/path/to/module.so \
                                or set COSIGN_PKCS11_MODULE_PATH"
                            .into(),
                    ));
                }
                n if n.starts_with("x-") => {}
                other => {
                    return Err(invalid(format!(
                        "unknown pkcs11 URI query attribute {other:?}"
                    )));
                }
            }
        }
        if uri.token.is_none() && uri.slot_id.is_none() && uri.serial.is_none() {
            return Err(invalid(
                "the pkcs11 URI must name the token: token=LABEL or slot-id=N".into(),
            ));
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(invalid(
                "the pkcs11 URI must name the key: object=LABEL or id=%XX…".into(),
            ));
        }
        Ok(uri)
    }

    /// The module to load: `module-path`, else `COSIGN_PKCS11_MODULE_PATH`.
    pub fn module(&self) -> Result<String> {
        self.module_path
            .clone()
            .or_else(|| {
                std::env::var("COSIGN_PKCS11_MODULE_PATH")
                    .ok()
                    .filter(|p| !p.is_empty())
            })
            .ok_or(Error::NoModule)
    }

    /// The user PIN: `pin-value`, else the file named by `pin-source`, else
    /// `COSIGN_PKCS11_PIN`; `None` if none is given.
    pub fn pin(&self) -> Result<Option<Zeroizing<String>>> {
        if let Some(pin) = &self.pin_value {
            return Ok(Some(pin.clone()));
        }
        if let Some(source) = &self.pin_source {
            let path = source
                .strip_prefix("file://")
                .or_else(|| source.strip_prefix("file:"))
                .unwrap_or(source);
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                Error::PinSource {
                    path: path.to_owned(),
                    source,
                }
            })?);
            return Ok(Some(Zeroizing::new(
                text.trim_end_matches(['\r', '\n']).to_owned(),
            )));
        }
        Ok(std::env::var("COSIGN_PKCS11_PIN")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Zeroizing::new))
    }

    /// `object="…" id=…` for messages.
    pub fn key_name(&self) -> String {
        let mut parts = vec![];
        if let Some(o) = &self.object {
            parts.push(format!("object={o:?}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id={}", percent_encode(id)));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cosign_style_uris() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=my%20ci;slot-id=7;object=release;id=%01%ff?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("my ci"));
        assert_eq!(u.slot_id, Some(7));
        assert_eq!(u.object.as_deref(), Some("release"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 255][..]));
        assert_eq!(u.module().unwrap(), "/usr/lib/softhsm/libsofthsm2.so");
        assert_eq!(u.pin().unwrap().unwrap().as_str(), "1234");
        assert!(!format!("{u:?}").contains("1234"));
    }

    #[test]
    fn requires_token_and_key() {
        assert!(
            Pkcs11Uri::parse("pkcs11:object=x")
                .unwrap_err()
                .to_string()
                .contains("token")
        );
        assert!(
            Pkcs11Uri::parse("pkcs11:token=x")
                .unwrap_err()
                .to_string()
                .contains("key")
        );
        assert!(Pkcs11Uri::parse("pkcs11:token=x;bogus=1;object=y").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:token=x;object=%zz").is_err());
    }

    #[test]
    fn percent_round_trip() {
        let bytes = b"a b/\x00\xff";
        assert_eq!(percent_decode(&percent_encode(bytes)).unwrap(), bytes);
    }
}
