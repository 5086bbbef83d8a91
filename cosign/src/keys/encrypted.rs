//! The encryption envelope of cosign private keys (go-securesystemslib `encrypted`): scrypt
//! derives a key from the password, NaCl secretbox seals the PKCS#8 bytes, and a compact JSON
//! object carries the parameters, salt, nonce and ciphertext.

use crypto_secretbox::aead::{Aead, AeadCore, KeyInit, OsRng};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::b64;
use crate::error::{Error, Result};

/// scrypt cost parameters. Only the three sets cosign has ever written are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptParams {
    /// CPU/memory cost, a power of two.
    pub n: u64,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

impl ScryptParams {
    /// What cosign ≥ 2.2 writes (go-securesystemslib "Standard"): N=65536, r=8, p=1.
    pub const STANDARD: ScryptParams = ScryptParams {
        n: 65536,
        r: 8,
        p: 1,
    };
    /// What cosign ≤ 2.1 wrote (go-tuf "Legacy"): N=32768, r=8, p=1.
    pub const LEGACY: ScryptParams = ScryptParams {
        n: 32768,
        r: 8,
        p: 1,
    };
    /// go-securesystemslib "OWASP": N=131072, r=8, p=1.
    pub const OWASP: ScryptParams = ScryptParams {
        n: 131072,
        r: 8,
        p: 1,
    };

    fn is_accepted(self) -> bool {
        [Self::STANDARD, Self::LEGACY, Self::OWASP].contains(&self)
    }
}

const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";

// Field order matters: this is byte-for-byte what Go's json.Marshal writes for the struct.
#[derive(Serialize)]
struct Envelope<'a> {
    kdf: Kdf<'a>,
    cipher: Cipher<'a>,
    ciphertext: String,
}
#[derive(Serialize)]
struct Kdf<'a> {
    name: &'a str,
    params: Params,
    salt: String,
}
#[derive(Serialize)]
struct Params {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}
#[derive(Serialize)]
struct Cipher<'a> {
    name: &'a str,
    nonce: String,
}

fn derive_key(password: &[u8], salt: &[u8], params: ScryptParams) -> Result<Zeroizing<[u8; 32]>> {
    let log_n = params.n.trailing_zeros() as u8;
    let scrypt_params =
        scrypt::Params::new(log_n, params.r, params.p).map_err(|e| Error::KeyEnvelope {
            reason: format!("invalid scrypt parameters: {e}"),
        })?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &scrypt_params, key.as_mut()).map_err(|e| {
        Error::KeyEnvelope {
            reason: format!("scrypt failed: {e}"),
        }
    })?;
    Ok(key)
}

/// Encrypts `plaintext` (PKCS#8 DER) under `password`; returns the JSON envelope bytes.
pub fn encrypt(plaintext: &[u8], password: &[u8], params: ScryptParams) -> Result<Vec<u8>> {
    if !params.is_accepted() {
        return Err(Error::UnsupportedScrypt {
            n: params.n,
            r: params.r.into(),
            p: params.p.into(),
        });
    }
    let mut salt = [0u8; SALT_LEN];
    getrandom_fill(&mut salt)?;
    let key = derive_key(password, &salt, params)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(key.as_ref()));
    let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
    // crypto_secretbox uses the NaCl layout: 16-byte Poly1305 tag, then the encrypted bytes.
    let sealed = cipher
        .encrypt(&nonce, plaintext)
        .map_err(|_| Error::KeyEnvelope {
            reason: "encryption failed".into(),
        })?;
    let envelope = Envelope {
        kdf: Kdf {
            name: KDF_NAME,
            params: Params {
                n: params.n,
                r: params.r,
                p: params.p,
            },
            salt: b64::encode(&salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME,
            nonce: b64::encode(nonce.as_slice()),
        },
        ciphertext: b64::encode(&sealed),
    };
    serde_json::to_vec(&envelope).map_err(|e| Error::KeyEnvelope {
        reason: e.to_string(),
    })
}

fn getrandom_fill(buf: &mut [u8]) -> Result<()> {
    use crypto_secretbox::aead::rand_core::RngCore;
    OsRng.try_fill_bytes(buf).map_err(|e| Error::KeyEnvelope {
        reason: format!("no randomness: {e}"),
    })
}

/// Go's JSON decoder matches object keys exactly first, then case-insensitively.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::KeyEnvelope {
        reason: reason.into(),
    }
}

fn object<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a Map<String, Value>> {
    match field(obj, name) {
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(malformed(format!("{name} is not an object"))),
        None => Err(malformed(format!("{name} is missing"))),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    match field(obj, name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(malformed(format!("{name} is not a string"))),
        None => Err(malformed(format!("{name} is missing"))),
    }
}

fn bytes(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>> {
    b64::decode_lenient(string(obj, name)?.as_bytes())
        .map_err(|e| malformed(format!("{name} is not base64: {e}")))
}

fn number(obj: &Map<String, Value>, name: &str) -> Result<u64> {
    field(obj, name).and_then(Value::as_u64).ok_or_else(|| {
        malformed(format!(
            "scrypt parameter {name} is missing or not an integer"
        ))
    })
}

/// Decrypts a JSON envelope with `password`, checking in the order go-securesystemslib does:
/// KDF name, cipher name, scrypt parameters (before deriving anything), nonce size, then the
/// authenticated decryption.
pub fn decrypt(envelope: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let value: Value =
        serde_json::from_slice(envelope).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let top = value
        .as_object()
        .ok_or_else(|| malformed("not a JSON object"))?;
    let kdf = object(top, "kdf")?;
    let kdf_name = string(kdf, "name")?;
    if kdf_name != KDF_NAME {
        return Err(Error::UnknownKdf(kdf_name.to_owned()));
    }
    let cipher = object(top, "cipher")?;
    let cipher_name = string(cipher, "name")?;
    if cipher_name != CIPHER_NAME {
        return Err(Error::UnknownCipher(cipher_name.to_owned()));
    }
    let params = object(kdf, "params")?;
    let (n, r, p) = (
        number(params, "N")?,
        number(params, "r")?,
        number(params, "p")?,
    );
    let scrypt = match (u32::try_from(r), u32::try_from(p)) {
        (Ok(r), Ok(p)) => ScryptParams { n, r, p },
        _ => return Err(Error::UnsupportedScrypt { n, r, p }),
    };
    if !scrypt.is_accepted() {
        return Err(Error::UnsupportedScrypt { n, r, p });
    }
    let salt = bytes(kdf, "salt")?;
    let nonce = bytes(cipher, "nonce")?;
    if nonce.len() != NONCE_LEN {
        return Err(malformed(format!(
            "incorrect nonce size {} (want {NONCE_LEN})",
            nonce.len()
        )));
    }
    let ciphertext = bytes(top, "ciphertext")?;
    let key = derive_key(password, &salt, scrypt)?;
    let cipher = XSalsa20Poly1305::new(Key::from_slice(key.as_ref()));
    cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| Error::DecryptionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_exact_json_shape() {
        let env = encrypt(b"secret bytes", b"pw", ScryptParams::STANDARD).unwrap();
        let text = std::str::from_utf8(&env).unwrap();
        assert!(
            text.starts_with(
                r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#
            )
        );
        assert!(text.contains(r#""cipher":{"name":"nacl/secretbox","nonce":""#));
        assert_eq!(decrypt(&env, b"pw").unwrap().as_slice(), b"secret bytes");
        assert!(matches!(
            decrypt(&env, b"other"),
            Err(Error::DecryptionFailed)
        ));
        // The NaCl layout: 16-byte tag + plaintext.
        let v: Value = serde_json::from_slice(&env).unwrap();
        let ct = b64::decode_lenient(v["ciphertext"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(ct.len(), b"secret bytes".len() + 16);
    }

    #[test]
    fn keys_match_case_insensitively_like_go() {
        let env = encrypt(b"x", b"", ScryptParams::LEGACY).unwrap();
        let upper = String::from_utf8(env)
            .unwrap()
            .replace("\"kdf\"", "\"KDF\"");
        assert_eq!(decrypt(upper.as_bytes(), b"").unwrap().as_slice(), b"x");
    }

    #[test]
    fn hostile_parameters_are_refused_before_derivation() {
        let env = encrypt(b"x", b"", ScryptParams::STANDARD).unwrap();
        let huge = String::from_utf8(env.clone())
            .unwrap()
            .replace("65536", "1099511627776");
        assert!(matches!(
            decrypt(huge.as_bytes(), b""),
            Err(Error::UnsupportedScrypt { .. })
        ));
        let r = String::from_utf8(env.clone())
            .unwrap()
            .replace("\"r\":8", "\"r\":4096");
        assert!(matches!(
            decrypt(r.as_bytes(), b""),
            Err(Error::UnsupportedScrypt { .. })
        ));
        let kdf = String::from_utf8(env.clone())
            .unwrap()
            .replace("scrypt", "argon2");
        assert!(matches!(
            decrypt(kdf.as_bytes(), b""),
            Err(Error::UnknownKdf(_))
        ));
        let c = String::from_utf8(env)
            .unwrap()
            .replace("nacl/secretbox", "aes");
        assert!(matches!(
            decrypt(c.as_bytes(), b""),
            Err(Error::UnknownCipher(_))
        ));
        assert!(matches!(decrypt(b"{", b""), Err(Error::KeyEnvelope { .. })));
    }
}
