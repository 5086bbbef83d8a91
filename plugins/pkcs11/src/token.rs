//! Talking to the token through `cryptoki`: finding the slot the URI names, logging in,
//! finding, creating and using the key (the module is loaded by `sigmirror_pkcs11`).

use std::sync::Mutex;

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sigmirror_cosign::keys::PublicKey;

use crate::ec;
use sigmirror_pkcs11::Pkcs11Uri;
use sigmirror_pkcs11::module::describe;
use sigmirror_pkcs11::uri::percent_encode;

/// One logged-in (if a PIN was given) session on the token the URI names.
pub struct Token {
    session: Mutex<Session>,
    /// `token "ci" (slot 12)`, for messages.
    pub label: String,
    logged_in: bool,
    login_required: bool,
}

/// The slot whose token matches every token attribute the URI gives.
fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<(Slot, String, bool), String> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| format!("cannot list PKCS#11 slots: {}", describe(&e)))?;
    let mut seen = vec![];
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let label = info.label().trim_end().to_owned();
        seen.push(format!("{label:?} (slot {})", slot.id()));
        let matches = uri.slot_id.is_none_or(|id| id == slot.id())
            && uri.token.as_deref().is_none_or(|t| t == label)
            && uri
                .serial
                .as_deref()
                .is_none_or(|s| s == info.serial_number().trim_end())
            && uri
                .model
                .as_deref()
                .is_none_or(|m| m == info.model().trim_end())
            && uri
                .manufacturer
                .as_deref()
                .is_none_or(|m| m == info.manufacturer_id().trim_end());
        if matches {
            return Ok((
                slot,
                format!("token {label:?} (slot {})", slot.id()),
                info.login_required(),
            ));
        }
    }
    let wanted = match (&uri.token, uri.slot_id) {
        (Some(t), Some(s)) => format!("token {t:?} in slot {s}"),
        (Some(t), None) => format!("token {t:?}"),
        (None, Some(s)) => format!("a token in slot {s}"),
        (None, None) => "the token".to_owned(),
    };
    Err(format!(
        "no {wanted} found; tokens present: {}",
        if seen.is_empty() {
            "none".to_owned()
        } else {
            seen.join(", ")
        }
    ))
}

impl Token {
    /// Opens a read-write session on the URI's token and logs in with its PIN, if any.
    pub fn open(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Self, String> {
        let (slot, label, login_required) = find_slot(ctx, uri)?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| format!("cannot open a session on {label}: {}", describe(&e)))?;
        let pin = uri.pin()?;
        let logged_in = match pin {
            None => false,
            Some(pin) => {
                let pin = AuthPin::from(pin.as_str());
                match session.login(UserType::User, Some(&pin)) {
                    Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => true,
                    Err(Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                        return Err(format!("wrong PIN for {label} (CKR_PIN_INCORRECT)"));
                    }
                    Err(Error::Pkcs11(RvError::PinLocked, _)) => {
                        return Err(format!(
                            "the user PIN of {label} is locked (CKR_PIN_LOCKED)"
                        ));
                    }
                    Err(e) => return Err(format!("cannot log in to {label}: {}", describe(&e))),
                }
            }
        };
        Ok(Token {
            session: Mutex::new(session),
            label,
            logged_in,
            login_required,
        })
    }

    fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>, String> {
        self.session
            .lock()
            .map_err(|_| "internal lock poisoned".to_owned())
    }

    /// Fails unless the session can use private keys.
    fn require_login(&self) -> Result<(), String> {
        if self.logged_in || !self.login_required {
            Ok(())
        } else {
            Err(format!(
                "{} needs the user PIN: add pin-value=… or pin-source=FILE to the URI, or set \
                 COSIGN_PKCS11_PIN",
                self.label
            ))
        }
    }

    /// The key objects of `class` the URI names.
    fn find(
        session: &Session,
        uri: &Pkcs11Uri,
        class: ObjectClass,
    ) -> Result<Vec<ObjectHandle>, String> {
        let mut template = vec![Attribute::Class(class)];
        if let Some(object) = &uri.object {
            template.push(Attribute::Label(object.as_bytes().to_vec()));
        }
        if let Some(id) = &uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        session
            .find_objects(&template)
            .map_err(|e| format!("cannot search the token: {}", describe(&e)))
    }

    /// The one private key the URI names, and its type (checked to be one cosign signs with).
    fn private_key(
        &self,
        session: &Session,
        uri: &Pkcs11Uri,
    ) -> Result<(ObjectHandle, KeyKind), String> {
        self.require_login()?;
        let found = Self::find(session, uri, ObjectClass::PRIVATE_KEY)?;
        let key = match found[..] {
            [key] => key,
            [] => {
                return Err(format!(
                    "key not found: no private key with {} on {}",
                    uri.key_name(),
                    self.label
                ));
            }
            _ => {
                return Err(format!(
                    "{} private keys match {} on {}; add id= to choose one",
                    found.len(),
                    uri.key_name(),
                    self.label
                ));
            }
        };
        let kind = key_kind(session, key, uri)?;
        Ok((key, kind))
    }

    /// The public key the URI names, read from its public key object.
    pub fn public_key(&self, uri: &Pkcs11Uri) -> Result<PublicKey, String> {
        let session = self.session()?;
        let handle = self.public_object(&session, uri)?;
        let kind = key_kind(&session, handle, uri)?;
        read_public(&session, handle, kind)
    }

    /// How the key the URI names signs (its public object's type).
    pub fn algorithm(&self, uri: &Pkcs11Uri) -> Result<&'static str, String> {
        let session = self.session()?;
        let handle = self.public_object(&session, uri)?;
        Ok(key_kind(&session, handle, uri)?.algorithm())
    }

    /// The public key object the URI names.
    fn public_object(&self, session: &Session, uri: &Pkcs11Uri) -> Result<ObjectHandle, String> {
        let mut found = Self::find(session, uri, ObjectClass::PUBLIC_KEY)?;
        if found.is_empty() && self.logged_in {
            // Some tokens keep only the private object under the label; its CKA_ID finds the
            // public half.
            let (private, _) = self.private_key(session, uri)?;
            if let Some(Attribute::Id(id)) = session
                .get_attributes(private, &[AttributeType::Id])
                .ok()
                .and_then(|mut a| a.pop())
            {
                found = session
                    .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(id)])
                    .map_err(|e| format!("cannot search the token: {}", describe(&e)))?;
            }
        }
        let Some(&handle) = found.first() else {
            return Err(format!(
                "key not found: no public key with {} on {}{}",
                uri.key_name(),
                self.label,
                if self.logged_in {
                    ""
                } else {
                    " (no PIN given, so private objects are hidden)"
                }
            ));
        };
        Ok(handle)
    }

    /// Signs a SHA-256 digest: CKM_ECDSA (returned as ASN.1 DER) or CKM_RSA_PKCS over the
    /// digest's DigestInfo (a PKCS#1 v1.5 signature), as cosign signs with a token's key.
    pub fn sign(&self, uri: &Pkcs11Uri, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
        let session = self.session()?;
        let (key, kind) = self.private_key(&session, uri)?;
        let failed = |e: Error| format!("signing on {} failed: {}", self.label, describe(&e));
        match kind {
            KeyKind::Ec(curve) => {
                let raw = session
                    .sign(&Mechanism::Ecdsa, key, digest)
                    .map_err(failed)?;
                ec::der_signature(curve, &raw)
            }
            KeyKind::Rsa => {
                let info = [&ec::SHA256_DIGEST_INFO[..], digest].concat();
                session
                    .sign(&Mechanism::RsaPkcs, key, &info)
                    .map_err(failed)
            }
        }
    }

    /// Generates a P-256 key pair on the token under the URI's label and id.
    pub fn generate(&self, uri: &Pkcs11Uri) -> Result<PublicKey, String> {
        if !self.logged_in {
            return Err(format!(
                "creating a key on {} needs the user PIN: add pin-value=… or pin-source=FILE to \
                 the URI, or set COSIGN_PKCS11_PIN",
                self.label
            ));
        }
        let session = self.session()?;
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            if !Self::find(&session, uri, class)?.is_empty() {
                return Err(format!(
                    "a key with {} already exists on {}; sigmirror does not replace keys",
                    uri.key_name(),
                    self.label
                ));
            }
        }
        let id = match &uri.id {
            Some(id) => id.clone(),
            None => session
                .generate_random_vec(16)
                .map_err(|e| format!("cannot make a key id on {}: {}", self.label, describe(&e)))?,
        };
        let label = uri
            .object
            .clone()
            .unwrap_or_else(|| percent_encode(&id))
            .into_bytes();
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(ec::P256_PARAMS.to_vec()),
            Attribute::Verify(true),
            Attribute::Label(label.clone()),
            Attribute::Id(id.clone()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::KeyType(KeyType::EC),
            Attribute::Sign(true),
            Attribute::Label(label),
            Attribute::Id(id),
        ];
        let (public, _private) = session
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(|e| {
                format!(
                    "cannot generate a P-256 key on {}: {}",
                    self.label,
                    describe(&e)
                )
            })?;
        read_public(&session, public, KeyKind::Ec(ec::Curve::P256))
    }
}

/// The key types cosign signs with that tokens hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256 or P-384.
    Ec(ec::Curve),
    /// RSA (its size is checked when its public key is read: 2048 to 4096 bits).
    Rsa,
}

impl KeyKind {
    /// The ABI algorithm: every type signs SHA-256 digests, as cosign signs with a token's key.
    pub fn algorithm(self) -> &'static str {
        use sigmirror_plugin_abi::wire::{
            ALGORITHM_ECDSA_P256_SHA256, ALGORITHM_ECDSA_P384_SHA256, ALGORITHM_RSA_PKCS1_SHA256,
        };
        match self {
            KeyKind::Ec(ec::Curve::P256) => ALGORITHM_ECDSA_P256_SHA256,
            KeyKind::Ec(ec::Curve::P384) => ALGORITHM_ECDSA_P384_SHA256,
            KeyKind::Rsa => ALGORITHM_RSA_PKCS1_SHA256,
        }
    }
}

/// The type of a key object, refusing types cosign does not sign with, naming what they are.
fn key_kind(session: &Session, key: ObjectHandle, uri: &Pkcs11Uri) -> Result<KeyKind, String> {
    let attributes = session
        .get_attributes(
            key,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::Modulus,
            ],
        )
        .map_err(|e| format!("cannot read the key's attributes: {}", describe(&e)))?;
    let mut key_type = None;
    let mut params = None;
    let mut modulus_bits = None;
    for attribute in attributes {
        match attribute {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::Modulus(m) => {
                let significant = m.iter().skip_while(|b| **b == 0).count();
                modulus_bits = Some(significant * 8);
            }
            _ => {}
        }
    }
    match key_type {
        Some(t) if t == KeyType::RSA => match modulus_bits {
            Some(bits) if (2048..=4096).contains(&bits) => Ok(KeyKind::Rsa),
            Some(bits) => Err(format!(
                "unsupported key type for {}: RSA of {bits} bits (2048 to 4096 are accepted)",
                uri.key_name()
            )),
            None => Err(format!("the RSA key {} has no CKA_MODULUS", uri.key_name())),
        },
        Some(t) if t == KeyType::EC => params
            .as_deref()
            .and_then(ec::Curve::from_params)
            .map(KeyKind::Ec)
            .ok_or_else(|| {
                format!(
                    "unsupported key type for {}: the EC key is not on curve P-256 or P-384",
                    uri.key_name()
                )
            }),
        Some(t) => Err(format!(
            "unsupported key type {t} for {}: cosign signs with EC P-256, P-384 and RSA keys",
            uri.key_name()
        )),
        None => Err(format!("the key {} has no CKA_KEY_TYPE", uri.key_name())),
    }
}

/// The PKIX public key of a public key object of type `kind`.
fn read_public(
    session: &Session,
    handle: ObjectHandle,
    kind: KeyKind,
) -> Result<PublicKey, String> {
    let wanted: &[AttributeType] = match kind {
        KeyKind::Ec(_) => &[AttributeType::EcPoint],
        KeyKind::Rsa => &[AttributeType::Modulus, AttributeType::PublicExponent],
    };
    let attributes = session
        .get_attributes(handle, wanted)
        .map_err(|e| format!("cannot read the public key: {}", describe(&e)))?;
    let (mut point, mut modulus, mut exponent) = (None, None, None);
    for attribute in attributes {
        match attribute {
            Attribute::EcPoint(p) => point = Some(p),
            Attribute::Modulus(m) => modulus = Some(m),
            Attribute::PublicExponent(e) => exponent = Some(e),
            _ => {}
        }
    }
    match (kind, point, modulus, exponent) {
        (KeyKind::Ec(curve), Some(point), _, _) => ec::public_key_from_ec_point(curve, &point),
        (KeyKind::Rsa, _, Some(n), Some(e)) => ec::rsa_public_key(&n, &e),
        (KeyKind::Ec(_), ..) => Err("the public key object has no CKA_EC_POINT".into()),
        (KeyKind::Rsa, ..) => {
            Err("the public key object has no CKA_MODULUS or CKA_PUBLIC_EXPONENT".into())
        }
    }
}
