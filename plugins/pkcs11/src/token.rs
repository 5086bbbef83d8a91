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

    /// The one private key the URI names, checked to be EC P-256.
    fn private_key(&self, session: &Session, uri: &Pkcs11Uri) -> Result<ObjectHandle, String> {
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
        check_p256(session, key, uri)?;
        Ok(key)
    }

    /// The public key the URI names, read from its public key object.
    pub fn public_key(&self, uri: &Pkcs11Uri) -> Result<PublicKey, String> {
        let session = self.session()?;
        let mut found = Self::find(&session, uri, ObjectClass::PUBLIC_KEY)?;
        if found.is_empty() && self.logged_in {
            // Some tokens keep only the private object under the label; its CKA_ID finds the
            // public half.
            let private = self.private_key(&session, uri)?;
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
        check_p256(&session, handle, uri)?;
        read_public(&session, handle)
    }

    /// Signs a SHA-256 digest with CKM_ECDSA; returns ASN.1 DER.
    pub fn sign(&self, uri: &Pkcs11Uri, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
        let session = self.session()?;
        let key = self.private_key(&session, uri)?;
        let raw = session
            .sign(&Mechanism::Ecdsa, key, digest)
            .map_err(|e| format!("signing on {} failed: {}", self.label, describe(&e)))?;
        ec::der_signature(&raw)
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
        read_public(&session, public)
    }
}

/// Refuses keys that are not EC on P-256, naming what they are.
fn check_p256(session: &Session, key: ObjectHandle, uri: &Pkcs11Uri) -> Result<(), String> {
    let attributes = session
        .get_attributes(key, &[AttributeType::KeyType, AttributeType::EcParams])
        .map_err(|e| format!("cannot read the key's attributes: {}", describe(&e)))?;
    let mut key_type = None;
    let mut params = None;
    for attribute in attributes {
        match attribute {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::EcParams(p) => params = Some(p),
            _ => {}
        }
    }
    match key_type {
        Some(t) if t == KeyType::EC => {}
        Some(t) => {
            return Err(format!(
                "unsupported key type {t} for {}: sigmirror signs with EC P-256 keys",
                uri.key_name()
            ));
        }
        None => return Err(format!("the key {} has no CKA_KEY_TYPE", uri.key_name())),
    }
    if params.as_deref() != Some(&ec::P256_PARAMS[..]) {
        return Err(format!(
            "unsupported key type for {}: the EC key is not on curve P-256",
            uri.key_name()
        ));
    }
    Ok(())
}

/// The PKIX public key of a public key object.
fn read_public(session: &Session, handle: ObjectHandle) -> Result<PublicKey, String> {
    let attributes = session
        .get_attributes(handle, &[AttributeType::EcPoint])
        .map_err(|e| format!("cannot read CKA_EC_POINT: {}", describe(&e)))?;
    match attributes.into_iter().next() {
        Some(Attribute::EcPoint(point)) => ec::public_key_from_ec_point(&point),
        _ => Err("the public key object has no CKA_EC_POINT".into()),
    }
}
