//! DSSE envelopes (FORMATS.md §4.1): the payload, its type, and signatures over the
//! pre-authentication encoding `DSSEv1 <len(type)> <type> <len(body)> <body>`.

use serde::Serialize;
use serde_json::Value;

use crate::b64;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::signer::Signer;
use sigmirror_oci::gojson;

/// The payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// Key id (cosign writes `""`).
    pub keyid: String,
    /// Raw signature bytes (DER for ECDSA).
    pub sig: Vec<u8>,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The payload type.
    pub payload_type: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// Signatures over the PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

/// The pre-authentication encoding DSSE signs.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

#[derive(Serialize)]
struct WireSignature<'a> {
    keyid: &'a str,
    sig: String,
}

// Field order of cosign 2.x (go-securesystemslib's struct).
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "payloadType")]
    payload_type: &'a str,
    payload: String,
    signatures: Vec<WireSignature<'a>>,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::Envelope {
        reason: reason.into(),
    }
}

impl Envelope {
    /// Signs `payload` of `payload_type` with `signer`: the PAE, as the key signs messages
    /// (over its SHA-256 for ECDSA and RSA).
    pub fn sign(signer: &dyn Signer, payload_type: &str, payload: Vec<u8>) -> Result<Self> {
        let sig = signer.sign_message(&pae(payload_type, &payload))?;
        Ok(Envelope {
            payload_type: payload_type.to_owned(),
            payload,
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig,
            }],
        })
    }

    /// The JSON cosign 2.x writes: `{"payloadType":…,"payload":…,"signatures":[{"keyid":…,"sig":…}]}`.
    pub fn to_json(&self) -> Vec<u8> {
        gojson::to_vec(&Wire {
            payload_type: &self.payload_type,
            payload: b64::encode(&self.payload),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSignature {
                    keyid: &s.keyid,
                    sig: b64::encode(&s.sig),
                })
                .collect(),
        })
    }

    /// Parses an envelope (Go-style: keys match case-insensitively; the payload may use the
    /// standard or URL-safe base64 alphabet).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| malformed("not a JSON object"))?;
        let text = |name: &str| -> Result<&str> {
            gojson::field(obj, name)
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(format!("{name} is missing or not a string")))
        };
        let payload_type = text("payloadType")?.to_owned();
        let payload = b64::decode_std_or_url(text("payload")?.as_bytes())
            .map_err(|e| malformed(format!("payload is not base64: {e}")))?;
        let signatures = gojson::field(obj, "signatures")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("signatures is missing or not a list"))?
            .iter()
            .map(|s| {
                let sig = s
                    .as_object()
                    .and_then(|o| gojson::field(o, "sig"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("a signature has no sig"))?;
                Ok(EnvelopeSignature {
                    keyid: s
                        .get("keyid")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    sig: b64::decode_lenient(sig.as_bytes())
                        .map_err(|e| malformed(format!("sig is not base64: {e}")))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Envelope {
            payload_type,
            payload,
            signatures,
        })
    }

    /// Checks that the payload type is in-toto and that some signature verifies with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<()> {
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(malformed(format!(
                "payload type is {:?}, expected {IN_TOTO_PAYLOAD_TYPE}",
                self.payload_type
            )));
        }
        if self.signatures.is_empty() {
            return Err(malformed("the envelope has no signatures"));
        }
        let pae = pae(&self.payload_type, &self.payload);
        if self
            .signatures
            .iter()
            .any(|s| key.verify_message(&pae, &s.sig).is_ok())
        {
            Ok(())
        } else {
            Err(Error::InvalidSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn sign_round_trip_and_negative_cases() {
        let key = PrivateKey::generate();
        let env = Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}".to_vec()).unwrap();
        let json = env.to_json();
        assert!(json.starts_with(br#"{"payloadType":"application/vnd.in-toto+json","payload":"#));
        let back = Envelope::from_json(&json).unwrap();
        assert_eq!(back, env);
        back.verify(&key.public_key()).unwrap();
        assert!(back.verify(&PrivateKey::generate().public_key()).is_err());
        let mut other_type = back.clone();
        other_type.payload_type = "text/plain".into();
        assert!(other_type.verify(&key.public_key()).is_err());
        let mut tampered = back.clone();
        tampered.payload.push(b' ');
        assert!(tampered.verify(&key.public_key()).is_err());
        let mut unsigned = back.clone();
        unsigned.signatures.clear();
        assert!(unsigned.verify(&key.public_key()).is_err());
        assert!(Envelope::from_json(b"{").is_err());
        assert!(
            Envelope::from_json(br#"{"payloadType":"x","payload":"@@","signatures":[]}"#).is_err()
        );
    }
}
