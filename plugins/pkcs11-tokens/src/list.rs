//! Listing tokens and the `pkcs11:` URIs of their keys (`sigmirror pkcs11-tool`, as
//! `cosign pkcs11-tool` does).

use cryptoki::context::Pkcs11;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::error::{Error, Result};
use crate::uri::percent_encode;

/// A token as `list-tokens` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenListing {
    /// Its slot.
    pub slot_id: u64,
    /// Label (trailing blanks removed, as everywhere below).
    pub label: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
}

/// A key as `list-keys-uris` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListing {
    /// Its label (`object=`), if it has one.
    pub label: Option<String>,
    /// Its id bytes (`id=`).
    pub id: Vec<u8>,
    /// The URI that names it, without the PIN.
    pub uri: String,
}

/// Every token of the module.
pub fn tokens(ctx: &Pkcs11) -> Result<Vec<TokenListing>> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(Error::token("cannot list PKCS#11 slots"))?;
    slots
        .into_iter()
        .map(|slot| {
            let info = ctx.get_token_info(slot).map_err(Error::token(format!(
                "cannot read the token in slot {}",
                slot.id()
            )))?;
            Ok(TokenListing {
                slot_id: slot.id(),
                label: info.label().trim_end().to_owned(),
                manufacturer: info.manufacturer_id().trim_end().to_owned(),
                model: info.model().trim_end().to_owned(),
                serial: info.serial_number().trim_end().to_owned(),
            })
        })
        .collect()
}

/// The label and id of a key object.
fn label_and_id(session: &Session, key: ObjectHandle) -> Result<(Option<String>, Vec<u8>)> {
    let mut label = None;
    let mut id = vec![];
    for attribute in session
        .get_attributes(key, &[AttributeType::Label, AttributeType::Id])
        .map_err(Error::token("cannot read key attributes"))?
    {
        match attribute {
            Attribute::Label(l) => label = Some(String::from_utf8_lossy(&l).into_owned()),
            Attribute::Id(i) => id = i,
            _ => {}
        }
    }
    Ok((label, id))
}

/// The keys on the token in `slot_id`, with the URIs that name them: private keys when a PIN
/// is given (logging in), public keys otherwise. `module_path` goes into each URI.
pub fn key_uris(
    ctx: &Pkcs11,
    module_path: &str,
    slot_id: u64,
    pin: Option<&str>,
) -> Result<Vec<KeyListing>> {
    let slot = Slot::try_from(slot_id).map_err(Error::token("invalid slot id"))?;
    let info = ctx
        .get_token_info(slot)
        .map_err(Error::token(format!("no token in slot {slot_id}")))?;
    let token = info.label().trim_end().to_owned();
    let session = ctx.open_ro_session(slot).map_err(Error::token(format!(
        "cannot open a session on token {token:?}"
    )))?;
    let class = match pin.filter(|p| !p.is_empty()) {
        Some(pin) => {
            session
                .login(UserType::User, Some(&AuthPin::from(pin)))
                .map_err(Error::token(format!(
                    "cannot log in to token {token:?} (wrong PIN?)"
                )))?;
            ObjectClass::PRIVATE_KEY
        }
        None => ObjectClass::PUBLIC_KEY,
    };
    let keys = session
        .find_objects(&[Attribute::Class(class)])
        .map_err(Error::token("cannot search the token"))?;
    let module = percent_encode(module_path.as_bytes()).replace("%2f", "/");
    keys.into_iter()
        .map(|key| {
            let (label, id) = label_and_id(&session, key)?;
            let mut uri = format!(
                "pkcs11:token={};slot-id={slot_id}",
                percent_encode(token.as_bytes())
            );
            if !id.is_empty() {
                uri.push_str(&format!(";id={}", percent_encode(&id)));
            }
            if let Some(label) = &label {
                uri.push_str(&format!(";object={}", percent_encode(label.as_bytes())));
            }
            uri.push_str(&format!("?module-path={module}"));
            Ok(KeyListing { label, id, uri })
        })
        .collect()
}
