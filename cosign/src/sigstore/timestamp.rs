//! RFC 3161 timestamps: a timestamp authority's signed statement that a signature existed at a
//! time. Parsed from the DER `TimeStampResp` and checked as sigstore-go (through the
//! timestamp-authority library) checks it: granted status, the CMS signature over the signed
//! attributes, the message digest of the TSTInfo, the signer's chain to a trusted authority at the
//! timestamp's own time, the imprint of the signature, the authority's validity window.

use const_oid::ObjectIdentifier;
use der::Decode;

use super::certificate::{Certificate, Purpose, oid, verify_path};
use super::der_util::{self, Tlv};
use super::error::{Error, Result};
use super::keys::{HashAlgorithm, SignatureHash};
use super::time::Instant;
use super::trusted_root::{CertificateAuthority, TrustedRoot};

const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ID_CT_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const ID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const ID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";

fn bad(reason: impl Into<String>) -> Error {
    Error::Timestamp {
        reason: reason.into(),
    }
}

/// A parsed timestamp token.
struct Token {
    /// The TSTInfo bytes (eContent), which the messageDigest attribute covers.
    tst_info: Vec<u8>,
    /// Certificates embedded in the token.
    certificates: Vec<Certificate>,
    /// The signer's issuer name (DER) and serial number.
    sid: (Vec<u8>, Vec<u8>),
    digest_algorithm: HashAlgorithm,
    /// The signed attributes with the SET tag, as signed.
    signed_attrs: Vec<u8>,
    message_digest: Vec<u8>,
    signing_time: Option<Instant>,
    signature_algorithm: ObjectIdentifier,
    signature: Vec<u8>,
    imprint_algorithm: HashAlgorithm,
    imprint: Vec<u8>,
    gen_time: Instant,
}

fn kids(buf: &[u8], tlv: &Tlv) -> Result<Vec<Tlv>> {
    der_util::children(buf, tlv).ok_or_else(|| bad("malformed DER"))
}

fn expect(tlv: Option<&Tlv>, tag: u8, what: &str) -> Result<Tlv> {
    tlv.copied()
        .filter(|t| t.tag == tag)
        .ok_or_else(|| bad(format!("malformed {what}")))
}

fn oid_of(buf: &[u8], tlv: &Tlv) -> Result<ObjectIdentifier> {
    ObjectIdentifier::from_der(tlv.bytes(buf)).map_err(|_| bad("malformed OID"))
}

/// The OID of an AlgorithmIdentifier SEQUENCE.
fn algorithm_oid(buf: &[u8], tlv: &Tlv) -> Result<ObjectIdentifier> {
    let parts = kids(buf, tlv)?;
    oid_of(buf, &expect(parts.first(), 0x06, "algorithm identifier")?)
}

fn parse(resp: &[u8]) -> Result<Token> {
    let top = der_util::read(resp, 0)
        .filter(|t| t.tag == 0x30 && t.end == resp.len())
        .ok_or_else(|| bad("not a DER TimeStampResp"))?;
    let parts = kids(resp, &top)?;
    let status_info = expect(parts.first(), 0x30, "status")?;
    let status = expect(kids(resp, &status_info)?.first(), 0x02, "status")?;
    if status.content(resp) != [0] {
        return Err(bad("the authority did not grant the timestamp"));
    }
    let content_info = expect(parts.get(1), 0x30, "token")?;
    let ci = kids(resp, &content_info)?;
    if oid_of(resp, &expect(ci.first(), 0x06, "content type")?)?.to_string() != ID_SIGNED_DATA {
        return Err(bad("the token is not CMS SignedData"));
    }
    let explicit = expect(ci.get(1), 0xa0, "token content")?;
    let signed_data = expect(kids(resp, &explicit)?.first(), 0x30, "SignedData")?;
    let sd = kids(resp, &signed_data)?;
    let encap = expect(sd.get(2), 0x30, "encapsulated content")?;
    let ec = kids(resp, &encap)?;
    if oid_of(resp, &expect(ec.first(), 0x06, "content type")?)?.to_string() != ID_CT_TST_INFO {
        return Err(bad("the token does not hold a TSTInfo"));
    }
    let econtent_wrapper = expect(ec.get(1), 0xa0, "TSTInfo")?;
    let econtent = expect(kids(resp, &econtent_wrapper)?.first(), 0x04, "TSTInfo")?;
    let tst_info = econtent.content(resp).to_vec();
    let mut rest = sd[3..].iter();
    let mut next = rest.next();
    let mut certificates = vec![];
    if let Some(t) = next.filter(|t| t.tag == 0xa0) {
        for c in kids(resp, t)? {
            certificates
                .push(Certificate::from_der(c.bytes(resp)).map_err(|e| bad(e.to_string()))?);
        }
        next = rest.next();
    }
    if next.is_some_and(|t| t.tag == 0xa1) {
        next = rest.next();
    }
    let signer_infos = expect(next, 0x31, "signer infos")?;
    let infos = kids(resp, &signer_infos)?;
    if infos.len() != 1 {
        return Err(bad(format!("{} signers, expected one", infos.len())));
    }
    let si = kids(resp, &infos[0])?;
    let sid = expect(si.get(1), 0x30, "signer identifier")?;
    let sid_parts = kids(resp, &sid)?;
    let issuer = expect(sid_parts.first(), 0x30, "signer issuer")?;
    let serial = expect(sid_parts.get(1), 0x02, "signer serial")?;
    let digest_oid = algorithm_oid(resp, &expect(si.get(2), 0x30, "digest algorithm")?)?;
    let digest_algorithm = HashAlgorithm::from_oid(&digest_oid)
        .ok_or_else(|| bad(format!("unsupported digest algorithm {digest_oid}")))?;
    let attrs = expect(si.get(3), 0xa0, "signed attributes")?;
    let mut signed_attrs = attrs.bytes(resp).to_vec();
    signed_attrs[0] = 0x31;
    let mut message_digest = None;
    let mut signing_time = None;
    for attr in kids(resp, &attrs)? {
        let a = kids(resp, &attr)?;
        let kind = oid_of(resp, &expect(a.first(), 0x06, "attribute")?)?.to_string();
        let values = expect(a.get(1), 0x31, "attribute values")?;
        let value = kids(resp, &values)?.first().copied();
        match kind.as_str() {
            ID_MESSAGE_DIGEST => {
                message_digest = Some(
                    expect(value.as_ref(), 0x04, "message digest")?
                        .content(resp)
                        .to_vec(),
                );
            }
            ID_SIGNING_TIME => {
                let v = value.ok_or_else(|| bad("empty signing time"))?;
                let text =
                    std::str::from_utf8(v.content(resp)).map_err(|_| bad("bad signing time"))?;
                signing_time = match v.tag {
                    0x18 => Instant::parse_generalized_time(text),
                    0x17 => {
                        // UTCTime YYMMDDHHMMSSZ: years 50-99 are 19xx.
                        let year: u32 = text
                            .get(..2)
                            .and_then(|y| y.parse().ok())
                            .ok_or_else(|| bad("bad signing time"))?;
                        let century = if year >= 50 { "19" } else { "20" };
                        Instant::parse_generalized_time(&format!("{century}{text}"))
                    }
                    _ => None,
                };
                if signing_time.is_none() {
                    return Err(bad("bad signing time"));
                }
            }
            _ => {}
        }
    }
    let signature_algorithm =
        algorithm_oid(resp, &expect(si.get(4), 0x30, "signature algorithm")?)?;
    let signature = expect(si.get(5), 0x04, "signature")?.content(resp).to_vec();

    // TSTInfo
    let info_top = der_util::read(&tst_info, 0)
        .filter(|t| t.tag == 0x30 && t.end == tst_info.len())
        .ok_or_else(|| bad("malformed TSTInfo"))?;
    let info = kids(&tst_info, &info_top)?;
    let imprint = expect(info.get(2), 0x30, "message imprint")?;
    let imprint_parts = kids(&tst_info, &imprint)?;
    let imprint_oid = algorithm_oid(
        &tst_info,
        &expect(imprint_parts.first(), 0x30, "imprint algorithm")?,
    )?;
    let imprint_algorithm = HashAlgorithm::from_oid(&imprint_oid)
        .ok_or_else(|| bad(format!("weak or unknown imprint hash {imprint_oid}")))?;
    let hashed = expect(imprint_parts.get(1), 0x04, "hashed message")?
        .content(&tst_info)
        .to_vec();
    if hashed.is_empty() {
        return Err(bad("empty hashed message"));
    }
    let gen_tlv = expect(info.get(4), 0x18, "genTime")?;
    let gen_time = std::str::from_utf8(gen_tlv.content(&tst_info))
        .ok()
        .and_then(Instant::parse_generalized_time)
        .ok_or_else(|| bad("malformed genTime"))?;
    Ok(Token {
        certificates,
        sid: (issuer.bytes(resp).to_vec(), serial.content(resp).to_vec()),
        digest_algorithm,
        signed_attrs,
        message_digest: message_digest.ok_or_else(|| bad("no message digest attribute"))?,
        signing_time,
        signature_algorithm,
        signature,
        imprint_algorithm,
        imprint: hashed,
        gen_time,
        tst_info,
    })
}

/// The hash the signer used, from the signature algorithm or (for a bare key algorithm) the
/// digest algorithm.
fn signature_hash(token: &Token) -> Result<SignatureHash> {
    use const_oid::db::rfc5912::{ID_EC_PUBLIC_KEY, RSA_ENCRYPTION};
    match token.signature_algorithm {
        ID_EC_PUBLIC_KEY | RSA_ENCRYPTION => Ok(SignatureHash::Hashed(token.digest_algorithm)),
        other => SignatureHash::of_signature_algorithm(&other)
            .ok_or_else(|| bad(format!("unsupported signature algorithm {other}"))),
    }
}

/// Verifies one timestamp of `signature` against one authority; returns its time.
fn verify_with(token: &Token, signature: &[u8], tsa: &CertificateAuthority) -> Result<Instant> {
    let trusted_leaf = tsa.tsa_leaf();
    let mut candidates: Vec<&Certificate> = token.certificates.iter().collect();
    if candidates.is_empty() {
        candidates.extend(trusted_leaf);
    }
    let signer = candidates
        .into_iter()
        .find(|c| c.issuer_der() == token.sid.0 && c.serial() == token.sid.1.as_slice())
        .ok_or_else(|| bad("no certificate for the signer"))?;
    if token.digest_algorithm.digest(&token.tst_info) != token.message_digest {
        return Err(bad(
            "the message digest attribute does not match the TSTInfo",
        ));
    }
    if let Some(t) = token.signing_time
        && !signer.valid_at(t)
    {
        return Err(bad(format!("signed at {t}, outside the signer's validity")));
    }
    signer
        .public_key()?
        .verify(
            &token.signed_attrs,
            &token.signature,
            signature_hash(token)?,
        )
        .map_err(|_| bad("the authority's signature does not verify"))?;
    if let Some(leaf) = trusted_leaf
        && leaf != signer
    {
        return Err(bad(
            "the embedded signer is not the trusted root's timestamp authority",
        ));
    }
    let mut intermediates: Vec<Certificate> = tsa
        .intermediates()
        .iter()
        .filter(|c| Some(*c) != trusted_leaf)
        .cloned()
        .collect();
    intermediates.extend(token.certificates.iter().filter(|c| *c != signer).cloned());
    verify_path(
        signer,
        &intermediates,
        tsa.root(),
        token.gen_time,
        Purpose::TimeStamping,
    )?;
    if signer.is_ca() {
        return Err(bad("the signer is a CA"));
    }
    match signer.extended_key_usage() {
        Some((true, ekus)) if ekus == [oid::KP_TIME_STAMPING] => {}
        _ => {
            return Err(bad(
                "the signer's key usage is not only (critical) time stamping",
            ));
        }
    }
    if token.imprint_algorithm.digest(signature) != token.imprint {
        return Err(bad("the timestamp is for other bytes than this signature"));
    }
    if !tsa.valid_for.contains(token.gen_time) {
        return Err(bad(format!(
            "made at {}, outside the authority's validity {}",
            token.gen_time, tsa.valid_for
        )));
    }
    Ok(token.gen_time)
}

/// Verifies a DER `TimeStampResp` over `signature` with the timestamp authorities of the trusted
/// root; returns the time and the authority's URI. Each authority is tried in order.
pub fn verify(resp: &[u8], signature: &[u8], trust: &TrustedRoot) -> Result<(Instant, String)> {
    let token = parse(resp)?;
    let mut reasons = vec![];
    for tsa in &trust.timestamp_authorities {
        match verify_with(&token, signature, tsa) {
            Ok(t) => return Ok((t, tsa.uri.clone())),
            Err(e) => reasons.push(e.reason()),
        }
    }
    Err(bad(if reasons.is_empty() {
        "the trusted root has no timestamp authority".into()
    } else {
        reasons.join("; ")
    }))
}
