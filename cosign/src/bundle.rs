//! cosign's key-based blob bundle (`LocalSignedPayload`, the `--bundle` file of `sign-blob`
//! without `--new-bundle-format`): `{"base64Signature":…,"cert":…,"rekorBundle":…}`.

use serde::{Deserialize, Serialize};

use crate::b64;
use crate::error::{Error, Result};
use crate::sigstore::classic::Evidence;

/// A key-based bundle. Field order and omission rules follow Go's `json.Marshal` of cosign's
/// struct, so the bytes equal what cosign 2.x writes for a key-only signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalBundle {
    /// Standard base64 of the signature.
    #[serde(rename = "base64Signature")]
    pub base64_signature: String,
    /// Certificate or public key PEM (cosign v3 writes the public key, base64 of the PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// A Rekor bundle: verified for keyless signatures (sigmirror never uploads to Rekor).
    #[serde(
        rename = "rekorBundle",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rekor_bundle: Option<serde_json::Value>,
}

impl LocalBundle {
    /// A bundle holding only `signature` (DER bytes).
    pub fn for_signature(signature: &[u8]) -> Self {
        LocalBundle {
            base64_signature: b64::encode(signature),
            cert: None,
            rekor_bundle: None,
        }
    }

    /// The compact JSON cosign writes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a bundle of strings always serializes")
    }

    /// Parses a bundle file. Like Go, field names match case-insensitively.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| Error::MalformedBundle {
                reason: format!("not JSON: {e}"),
            })?;
        let obj = value.as_object().ok_or_else(|| Error::MalformedBundle {
            reason: "not a JSON object".into(),
        })?;
        let get = |name: &str| {
            obj.get(name)
                .or_else(|| {
                    obj.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                })
                .filter(|v| !v.is_null())
        };
        let string = |name: &str| -> Result<Option<String>> {
            match get(name) {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::MalformedBundle {
                    reason: format!("{name} is not a string"),
                }),
            }
        };
        let base64_signature = string("base64Signature")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::MalformedBundle {
                reason: "base64Signature is missing".into(),
            })?;
        Ok(LocalBundle {
            base64_signature,
            cert: string("cert")?,
            rekor_bundle: get("rekorBundle").cloned(),
        })
    }

    /// The certificate (or key) PEM: cosign writes it base64-encoded, older versions as PEM.
    pub fn certificate_pem(&self) -> Option<Vec<u8>> {
        let cert = self.cert.as_deref()?.trim();
        if cert.is_empty() {
            return None;
        }
        Some(b64::decode_lenient(cert.as_bytes()).unwrap_or_else(|_| cert.as_bytes().to_vec()))
    }

    /// The certificate and Rekor bundle beside the signature, for keyless verification.
    pub fn evidence(&self) -> Evidence {
        Evidence {
            certificate_pem: self.certificate_pem(),
            rekor_bundle: self
                .rekor_bundle
                .as_ref()
                .map(|v| serde_json::to_vec(v).expect("a JSON value serializes")),
            timestamp: None,
        }
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> Result<Vec<u8>> {
        b64::decode_lenient(self.base64_signature.as_bytes()).map_err(|e| {
            Error::MalformedSignature {
                reason: format!("base64Signature is not base64: {e}"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_matches_cosign_and_parses_back() {
        let b = LocalBundle::for_signature(b"\x30\x45");
        assert_eq!(b.to_json(), br#"{"base64Signature":"MEU="}"#);
        assert_eq!(LocalBundle::from_json(&b.to_json()).unwrap(), b);
        let ci = LocalBundle::from_json(br#"{"Base64Signature":"MEU=","cert":null}"#).unwrap();
        assert_eq!(ci.signature().unwrap(), b"\x30\x45");
        assert!(LocalBundle::from_json(b"{}").is_err());
        assert!(LocalBundle::from_json(b"[1]").is_err());
        assert!(
            LocalBundle::from_json(br#"{"base64Signature":"@@@"}"#)
                .unwrap()
                .signature()
                .is_err()
        );
    }
}
