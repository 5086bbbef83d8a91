//! Signed certificate timestamps embedded in a Fulcio certificate (RFC 6962 §3.3): each is a CT
//! log's promise to publish the precertificate. A certificate passes when at least one SCT from a
//! CT log of the trusted root verifies over the precertificate its issuer made.

use super::certificate::{Certificate, oid};
use super::der_util;
use super::error::{Error, Result};
use super::keys::{HashAlgorithm, SignatureHash};
use super::time::Instant;
use super::trusted_root::TrustedRoot;

/// One SCT of the TLS-encoded list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    /// The log's ID.
    pub log_id: [u8; 32],
    /// When the log saw the precertificate (milliseconds since the epoch).
    pub timestamp_ms: u64,
    /// The SCT's extensions, signed as they are.
    pub extensions: Vec<u8>,
    /// Hash algorithm (4 = SHA-256).
    pub hash_algorithm: u8,
    /// Signature algorithm (3 = ECDSA, 1 = RSA).
    pub signature_algorithm: u8,
    /// The signature.
    pub signature: Vec<u8>,
}

/// A TLS reader over bytes.
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<usize> {
        let b = self.take(2)?;
        Some(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// Parses the SCT list extension's value: an OCTET STRING holding the TLS
/// `SignedCertificateTimestampList`.
pub fn parse_list(extension_value: &[u8]) -> Result<Vec<Sct>> {
    let bad = |what: &str| Error::Sct {
        reason: format!("malformed SCT list: {what}"),
    };
    let octets = der_util::read(extension_value, 0)
        .filter(|t| t.tag == 0x04 && t.end == extension_value.len())
        .ok_or_else(|| bad("not an OCTET STRING"))?;
    let mut list = Tls(octets.content(extension_value));
    let mut entries = Tls(list.vec16().ok_or_else(|| bad("truncated"))?);
    if !list.0.is_empty() {
        return Err(bad("trailing bytes"));
    }
    let mut out = vec![];
    while !entries.0.is_empty() {
        let mut sct = Tls(entries.vec16().ok_or_else(|| bad("truncated SCT"))?);
        let parse = |sct: &mut Tls<'_>| -> Option<Sct> {
            if sct.u8()? != 0 {
                return None; // only v1 exists
            }
            let log_id: [u8; 32] = sct.take(32)?.try_into().ok()?;
            let timestamp_ms = sct.u64()?;
            let extensions = sct.vec16()?.to_vec();
            let hash_algorithm = sct.u8()?;
            let signature_algorithm = sct.u8()?;
            let signature = sct.vec16()?.to_vec();
            sct.0.is_empty().then_some(Sct {
                log_id,
                timestamp_ms,
                extensions,
                hash_algorithm,
                signature_algorithm,
                signature,
            })
        };
        out.push(parse(&mut sct).ok_or_else(|| bad("invalid SCT"))?);
    }
    Ok(out)
}

/// The bytes a CT log signs for a precertificate entry (RFC 6962 §3.2 `digitally-signed`).
fn signed_data(sct: &Sct, issuer_key_hash: &[u8; 32], precert_tbs: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8, 0u8]; // v1, certificate_timestamp
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
    out.extend_from_slice(issuer_key_hash);
    let len = precert_tbs.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(precert_tbs);
    out.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    out.extend_from_slice(&sct.extensions);
    out
}

/// Checks that at least one embedded SCT of `leaf` (issued by `issuer`) verifies with a CT log
/// of the trusted root at its own time; returns the IDs of the logs that verified.
pub fn verify_embedded(
    leaf: &Certificate,
    issuer: &Certificate,
    trust: &TrustedRoot,
) -> Result<Vec<[u8; 32]>> {
    let value = leaf.extension(&oid::SCT_LIST).ok_or_else(|| Error::Sct {
        reason: "the certificate has no embedded SCTs".into(),
    })?;
    let scts = parse_list(value)?;
    let tbs = leaf.precertificate_tbs().ok_or_else(|| Error::Sct {
        reason: "cannot rebuild the precertificate".into(),
    })?;
    let issuer_key_hash = super::bytes::sha256(issuer.spki_der());
    let mut verified: Vec<[u8; 32]> = vec![];
    let mut why = vec![];
    for sct in &scts {
        if verified.contains(&sct.log_id) {
            continue;
        }
        let Some(log) = trust.ctlog(&sct.log_id) else {
            why.push(format!(
                "SCT from log {} that the trusted root does not list",
                super::bytes::hex(&sct.log_id)
            ));
            continue;
        };
        if !log
            .valid_for
            .contains(Instant::from_unix_millis(sct.timestamp_ms))
        {
            why.push(format!(
                "SCT from log {} made outside the log key's validity",
                log.log_id_hex()
            ));
            continue;
        }
        if sct.hash_algorithm != 4 {
            why.push("SCT hash is not SHA-256".into());
            continue;
        }
        let data = signed_data(sct, &issuer_key_hash, &tbs);
        match log.key.verify(
            &data,
            &sct.signature,
            SignatureHash::Hashed(HashAlgorithm::Sha256),
        ) {
            Ok(()) => verified.push(sct.log_id),
            Err(_) => why.push(format!(
                "SCT from log {} has an invalid signature",
                log.log_id_hex()
            )),
        }
    }
    if verified.is_empty() {
        return Err(Error::Sct {
            reason: if why.is_empty() {
                "no SCT in the certificate".into()
            } else {
                why.join("; ")
            },
        });
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parsing_refuses_truncation() {
        let mut sct = vec![0u8];
        sct.extend([7u8; 32]);
        sct.extend(5u64.to_be_bytes());
        sct.extend([0, 2, 0xaa, 0xbb]);
        sct.extend([4, 3, 0, 1, 0x30]);
        let mut list = (sct.len() as u16).to_be_bytes().to_vec();
        list.extend(&sct);
        let mut tls = ((list.len()) as u16).to_be_bytes().to_vec();
        tls.extend(&list);
        let ext = der_util::wrap(0x04, &tls);
        let parsed = parse_list(&ext).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].extensions, [0xaa, 0xbb]);
        assert_eq!(parsed[0].timestamp_ms, 5);
        let truncated = der_util::wrap(0x04, &tls[..tls.len() - 1]);
        assert!(parse_list(&truncated).is_err());
    }
}
