//! X.509 certificates as Sigstore uses them: Fulcio's short-lived signing certificates (their
//! identity in the SAN, the OIDC issuer and CI claims in Fulcio's extensions), the CA and
//! timestamp-authority chains of a trusted root, and path validation at a given time (the
//! signing time, not now), with Go's `crypto/x509` rules that sigstore-go relies on.

use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

use super::der_util;
use super::error::{Error, Result};
use super::keys::{PublicKey, SignatureHash};
use super::time::Instant;

/// Fulcio's extension OIDs (`1.3.6.1.4.1.57264.1.*`).
pub mod oid {
    use const_oid::ObjectIdentifier;

    /// OIDC issuer, raw string (deprecated, still written).
    pub const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
    /// GitHub workflow trigger, raw string.
    pub const GITHUB_WORKFLOW_TRIGGER: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.2");
    /// GitHub workflow SHA, raw string.
    pub const GITHUB_WORKFLOW_SHA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.3");
    /// GitHub workflow name, raw string.
    pub const GITHUB_WORKFLOW_NAME: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.4");
    /// GitHub workflow repository, raw string.
    pub const GITHUB_WORKFLOW_REPOSITORY: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.5");
    /// GitHub workflow ref, raw string.
    pub const GITHUB_WORKFLOW_REF: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.6");
    /// The otherName SAN type for username identities.
    pub const OTHER_NAME_SAN: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
    /// OIDC issuer, DER UTF8String.
    pub const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
    /// The embedded SCT list (RFC 6962).
    pub const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
    /// Extended key usage: code signing.
    pub const KP_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    /// Extended key usage: time stamping.
    pub const KP_TIME_STAMPING: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
    /// Extended key usage: any.
    pub const ANY_EXTENDED_KEY_USAGE: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.5.29.37.0");
}

/// The names of Fulcio's v2 extensions (`.8` to `.22`), for the summary users read.
const V2_CLAIMS: &[(&str, &str)] = &[
    ("1.3.6.1.4.1.57264.1.9", "Build Signer URI"),
    ("1.3.6.1.4.1.57264.1.10", "Build Signer Digest"),
    ("1.3.6.1.4.1.57264.1.11", "Runner Environment"),
    ("1.3.6.1.4.1.57264.1.12", "Source Repository URI"),
    ("1.3.6.1.4.1.57264.1.13", "Source Repository Digest"),
    ("1.3.6.1.4.1.57264.1.14", "Source Repository Ref"),
    ("1.3.6.1.4.1.57264.1.15", "Source Repository Identifier"),
    ("1.3.6.1.4.1.57264.1.16", "Source Repository Owner URI"),
    (
        "1.3.6.1.4.1.57264.1.17",
        "Source Repository Owner Identifier",
    ),
    ("1.3.6.1.4.1.57264.1.18", "Build Config URI"),
    ("1.3.6.1.4.1.57264.1.19", "Build Config Digest"),
    ("1.3.6.1.4.1.57264.1.20", "Build Trigger"),
    ("1.3.6.1.4.1.57264.1.21", "Run Invocation URI"),
    (
        "1.3.6.1.4.1.57264.1.22",
        "Source Repository Visibility At Signing",
    ),
];

/// The extensions whose meaning path validation knows (Go's list); any other critical
/// extension makes a certificate unusable.
const HANDLED_CRITICAL: &[&str] = &[
    "2.5.29.15", // key usage
    "2.5.29.17", // subject alternative name
    "2.5.29.19", // basic constraints
    "2.5.29.30", // name constraints
    "2.5.29.32", // certificate policies
    "2.5.29.35", // authority key identifier
    "2.5.29.14", // subject key identifier
    "2.5.29.37", // extended key usage
];

/// A parsed certificate that keeps its original bytes.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    cert: x509_cert::Certificate,
    /// The TBSCertificate as it appears in `der` (what the issuer signed).
    tbs: std::ops::Range<usize>,
    /// The SubjectPublicKeyInfo as it appears in `der`.
    spki: std::ops::Range<usize>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field(
                "subject",
                &self.cert.tbs_certificate().subject().to_string(),
            )
            .field("issuer", &self.cert.tbs_certificate().issuer().to_string())
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::Certificate {
        reason: reason.into(),
    }
}

/// The TBS and SPKI ranges of a certificate's DER.
fn raw_parts(der: &[u8]) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let outer = der_util::read(der, 0)?;
    if outer.end != der.len() {
        return None;
    }
    let tbs = der_util::read(der, outer.content)?;
    let fields = der_util::children(der, &tbs)?;
    // [0] version is optional; then serial, signature, issuer, validity, subject, spki.
    let skip = usize::from(fields.first()?.tag == 0xa0);
    let spki = fields.get(skip + 5)?;
    Some((tbs.start..tbs.end, spki.start..spki.end))
}

impl Certificate {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| malformed(format!("not an X.509 certificate: {e}")))?;
        let (tbs, spki) =
            raw_parts(der).ok_or_else(|| malformed("not a DER certificate (trailing bytes?)"))?;
        Ok(Certificate {
            der: der.to_vec(),
            cert,
            tbs,
            spki,
        })
    }

    /// Parses every `CERTIFICATE` block of PEM text, in order.
    pub fn from_pem_chain(pem: &[u8]) -> Result<Vec<Self>> {
        let blocks = crate::pem::decode_all(pem).map_err(|e| malformed(e.to_string()))?;
        blocks
            .into_iter()
            .filter(|b| b.label == "CERTIFICATE")
            .map(|b| Self::from_der(&b.der))
            .collect()
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.der)
    }

    /// The TBSCertificate bytes the issuer signed.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// The SubjectPublicKeyInfo bytes.
    pub fn spki_der(&self) -> &[u8] {
        &self.der[self.spki.clone()]
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_spki_der(self.spki_der())
    }

    /// The subject's distinguished name, as text.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// The issuer's distinguished name, as text.
    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    fn subject_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .subject()
            .to_der()
            .unwrap_or_default()
    }

    /// The issuer name as DER (to match a CMS signer's IssuerAndSerialNumber).
    pub fn issuer_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .issuer()
            .to_der()
            .unwrap_or_default()
    }

    /// The serial number's bytes.
    pub fn serial(&self) -> &[u8] {
        self.cert.tbs_certificate().serial_number().as_bytes()
    }

    /// notBefore.
    pub fn not_before(&self) -> Instant {
        Instant::from_unix_duration(
            self.cert
                .tbs_certificate()
                .validity()
                .not_before
                .to_unix_duration(),
        )
    }

    /// notAfter.
    pub fn not_after(&self) -> Instant {
        Instant::from_unix_duration(
            self.cert
                .tbs_certificate()
                .validity()
                .not_after
                .to_unix_duration(),
        )
    }

    /// Whether `t` is inside `notBefore..=notAfter`.
    pub fn valid_at(&self, t: Instant) -> bool {
        self.not_before() <= t && t <= self.not_after()
    }

    /// The raw value (inside the OCTET STRING) of the extension `oid`, if present once.
    pub fn extension(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate()
            .extensions()?
            .iter()
            .rev()
            .find(|e| e.extn_id == *oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .ok()
            .flatten()
            .map(|(_, bc)| bc)
    }

    /// Whether basic constraints say this is a CA.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints().is_some_and(|bc| bc.ca)
    }

    /// Whether the certificate is self-issued and self-signed (a root).
    pub fn is_self_signed(&self) -> bool {
        self.subject_der() == self.issuer_der()
            && self
                .public_key()
                .is_ok_and(|key| self.verify_signed_by(&key).is_ok())
    }

    /// The extended key usages, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<(bool, Vec<ObjectIdentifier>)> {
        self.cert
            .tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .ok()
            .flatten()
            .map(|(critical, eku)| (critical, eku.0))
    }

    fn key_usage(&self) -> Option<KeyUsage> {
        self.cert
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .ok()
            .flatten()
            .map(|(_, ku)| ku)
    }

    /// The critical extensions path validation does not know.
    fn unhandled_critical(&self) -> Vec<String> {
        self.cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .filter(|e| e.critical && !HANDLED_CRITICAL.contains(&e.extn_id.to_string().as_str()))
            .map(|e| e.extn_id.to_string())
            .collect()
    }

    /// Checks that the issuer's key made this certificate's signature, with the hash its
    /// signature algorithm names.
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<()> {
        let algorithm = self.cert.signature_algorithm().oid;
        let hash = SignatureHash::of_signature_algorithm(&algorithm)
            .ok_or_else(|| malformed(format!("unsupported signature algorithm {algorithm}")))?;
        let signature = self
            .cert
            .signature()
            .as_bytes()
            .ok_or_else(|| malformed("signature is not a whole number of bytes"))?;
        issuer.verify(self.tbs_der(), signature, hash)
    }

    /// The identity sigstore-go reads: the first URI SAN, else the first email SAN, else
    /// Fulcio's username otherName.
    pub fn identity(&self) -> Option<String> {
        let names = self.subject_alt_names();
        let uri = names.iter().find_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        });
        let email = || {
            names.iter().find_map(|n| match n {
                GeneralName::Rfc822Name(e) => Some(e.to_string()),
                _ => None,
            })
        };
        uri.or_else(email).or_else(|| {
            names.iter().find_map(|n| match n {
                GeneralName::OtherName(o) if o.type_id == oid::OTHER_NAME_SAN => {
                    der::asn1::Utf8StringRef::try_from(&o.value)
                        .ok()
                        .map(|s| s.to_string())
                }
                _ => None,
            })
        })
    }

    /// Every SAN as text: DNS names, emails, IP addresses, URIs, then username otherNames (what
    /// cosign's classic verification matches against).
    pub fn all_identities(&self) -> Vec<String> {
        let names = self.subject_alt_names();
        let mut out = vec![];
        for n in &names {
            if let GeneralName::DnsName(d) = n {
                out.push(d.to_string());
            }
        }
        for n in &names {
            if let GeneralName::Rfc822Name(e) = n {
                out.push(e.to_string());
            }
        }
        for n in &names {
            if let GeneralName::IpAddress(ip) = n {
                let b = ip.as_bytes();
                if let Ok(v4) = <[u8; 4]>::try_from(b) {
                    out.push(std::net::Ipv4Addr::from(v4).to_string());
                } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                    out.push(std::net::Ipv6Addr::from(v6).to_string());
                }
            }
        }
        for n in &names {
            if let GeneralName::UniformResourceIdentifier(u) = n {
                out.push(u.to_string());
            }
        }
        out.extend(self.identity().filter(|i| !out.contains(i)));
        out
    }

    fn subject_alt_names(&self) -> Vec<GeneralName> {
        self.cert
            .tbs_certificate()
            .get_extension::<SubjectAltName>()
            .ok()
            .flatten()
            .map(|(_, san)| san.0)
            .unwrap_or_default()
    }

    /// The OIDC issuer: `.1` (raw) or `.8` (UTF8String), the later one in the certificate
    /// winning, as sigstore-go reads it.
    pub fn oidc_issuer(&self) -> Option<String> {
        let mut issuer = None;
        for e in self
            .cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
        {
            if e.extn_id == oid::ISSUER_V1 {
                issuer = String::from_utf8(e.extn_value.as_bytes().to_vec()).ok();
            } else if e.extn_id == oid::ISSUER_V2 {
                issuer = utf8_string(e.extn_value.as_bytes());
            }
        }
        issuer
    }

    /// The OIDC issuer as cosign's classic path reads it: `.1` only.
    pub fn oidc_issuer_v1(&self) -> Option<String> {
        self.extension(&oid::ISSUER_V1)
            .and_then(|v| String::from_utf8(v.to_vec()).ok())
    }

    /// A raw-string (v1) Fulcio extension.
    pub fn v1_claim(&self, oid: &ObjectIdentifier) -> Option<String> {
        self.extension(oid)
            .and_then(|v| String::from_utf8(v.to_vec()).ok())
    }

    /// What a person wants to know about a signing certificate, one `key: value` per line.
    pub fn summary(&self) -> String {
        let mut lines = vec![
            format!("Subject: {}", self.subject()),
            format!("Issuer: {}", self.issuer()),
            format!("Not before: {}", self.not_before()),
            format!("Not after: {}", self.not_after()),
        ];
        if let Some(id) = self.identity() {
            lines.push(format!("Identity: {id}"));
        }
        if let Some(iss) = self.oidc_issuer() {
            lines.push(format!("OIDC issuer: {iss}"));
        }
        for (oid_text, name) in [
            ("1.3.6.1.4.1.57264.1.2", "GitHub Workflow Trigger"),
            ("1.3.6.1.4.1.57264.1.3", "GitHub Workflow SHA"),
            ("1.3.6.1.4.1.57264.1.4", "GitHub Workflow Name"),
            ("1.3.6.1.4.1.57264.1.5", "GitHub Workflow Repository"),
            ("1.3.6.1.4.1.57264.1.6", "GitHub Workflow Ref"),
        ] {
            let oid = ObjectIdentifier::new_unwrap(oid_text);
            if let Some(v) = self.v1_claim(&oid) {
                lines.push(format!("{name}: {v}"));
            }
        }
        for (oid_text, name) in V2_CLAIMS {
            let oid = ObjectIdentifier::new_unwrap(oid_text);
            if let Some(v) = self.extension(&oid).and_then(utf8_string) {
                lines.push(format!("{name}: {v}"));
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// The TBSCertificate with the SCT-list extension cut out: the precertificate the CT log
    /// signed (RFC 6962 §3.2). `None` if the certificate carries no SCT list.
    pub fn precertificate_tbs(&self) -> Option<Vec<u8>> {
        let der = &self.der;
        let tbs = der_util::read(der, self.tbs.start)?;
        let fields = der_util::children(der, &tbs)?;
        let ext_wrapper = fields.iter().find(|f| f.tag == 0xa3)?;
        let ext_seq = der_util::read(der, ext_wrapper.content)?;
        let extensions = der_util::children(der, &ext_seq)?;
        let sct_oid = oid::SCT_LIST.to_der().ok()?;
        let mut kept = Vec::new();
        let mut removed = false;
        for ext in &extensions {
            let inner = der_util::children(der, ext)?;
            if inner.first()?.bytes(der) == sct_oid.as_slice() {
                removed = true;
            } else {
                kept.extend_from_slice(ext.bytes(der));
            }
        }
        if !removed {
            return None;
        }
        let new_ext = der_util::wrap(0xa3, &der_util::wrap(0x30, &kept));
        let mut content = Vec::new();
        for f in &fields {
            if f.start == ext_wrapper.start {
                content.extend_from_slice(&new_ext);
            } else {
                content.extend_from_slice(f.bytes(der));
            }
        }
        Some(der_util::wrap(0x30, &content))
    }
}

/// A DER UTF8String's text, refusing anything else (trailing bytes included).
fn utf8_string(value: &[u8]) -> Option<String> {
    der::asn1::Utf8StringRef::from_der(value)
        .ok()
        .map(|s| s.to_string())
}

/// What path validation requires of a chain's extended key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing code (Fulcio).
    CodeSigning,
    /// Time stamping (RFC 3161 authorities).
    TimeStamping,
}

impl Purpose {
    fn oid(self) -> ObjectIdentifier {
        match self {
            Purpose::CodeSigning => oid::KP_CODE_SIGNING,
            Purpose::TimeStamping => oid::KP_TIME_STAMPING,
        }
    }
}

/// Validates the path from `leaf` through `intermediates` to `root` at time `at`, as Go's
/// `x509.Certificate.Verify` does for sigstore-go: every certificate valid at `at`, each issuer
/// a CA allowed to sign certificates and to have this many CAs below it, each signature made by
/// the next key, no unknown critical extension, and the purpose allowed along the whole chain
/// (a certificate without an EKU extension allows any). Returns the chain, leaf first.
pub fn verify_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    root: &Certificate,
    at: Instant,
    purpose: Purpose,
) -> Result<Vec<Certificate>> {
    let chain_error = |reason: String| Error::Chain { reason };
    let mut chain = vec![leaf.clone()];
    let mut current = leaf.clone();
    // Linear chains only (every Sigstore chain is): at most the intermediates, then the root.
    for _ in 0..=intermediates.len() {
        let issuer_name = current.issuer_der();
        if current.issuer_der() == root.subject_der()
            && current.verify_signed_by(&root.public_key()?).is_ok()
        {
            chain.push(root.clone());
            return check_path(&chain, at, purpose).map(|()| chain);
        }
        let next = intermediates
            .iter()
            .find(|i| {
                i.subject_der() == issuer_name
                    && !chain.contains(i)
                    && i.public_key()
                        .is_ok_and(|k| current.verify_signed_by(&k).is_ok())
            })
            .ok_or_else(|| {
                chain_error(format!(
                    "no certificate of the trusted root issued {:?} (issuer {:?})",
                    current.subject(),
                    current.issuer()
                ))
            })?;
        chain.push(next.clone());
        current = next.clone();
    }
    Err(chain_error(format!(
        "no path from {:?} to the trusted root {:?}",
        leaf.subject(),
        root.subject()
    )))
}

/// The checks of [`verify_path`] on a built chain, leaf first and root last.
fn check_path(chain: &[Certificate], at: Instant, purpose: Purpose) -> Result<()> {
    let chain_error = |reason: String| Error::Chain { reason };
    for (depth, cert) in chain.iter().enumerate() {
        if !cert.valid_at(at) {
            return Err(if depth == 0 {
                Error::OutsideValidity {
                    signed_at: at.to_string(),
                    not_before: cert.not_before().to_string(),
                    not_after: cert.not_after().to_string(),
                }
            } else {
                chain_error(format!(
                    "{:?} is valid {}..{}, not at {at}",
                    cert.subject(),
                    cert.not_before(),
                    cert.not_after()
                ))
            });
        }
        let unknown = cert.unhandled_critical();
        if !unknown.is_empty() {
            return Err(chain_error(format!(
                "{:?} has unknown critical extensions {}",
                cert.subject(),
                unknown.join(", ")
            )));
        }
        if let Some((_, ekus)) = cert.extended_key_usage()
            && !ekus.contains(&purpose.oid())
            && !ekus.contains(&oid::ANY_EXTENDED_KEY_USAGE)
        {
            return Err(chain_error(format!(
                "{:?} is not for {purpose:?}",
                cert.subject()
            )));
        }
        if depth > 0 {
            if !cert.is_ca() {
                return Err(chain_error(format!("{:?} is not a CA", cert.subject())));
            }
            if cert.key_usage().is_some_and(|ku| !ku.key_cert_sign()) {
                return Err(chain_error(format!(
                    "{:?} may not sign certificates",
                    cert.subject()
                )));
            }
            // CAs below this one: depth - 1 (the leaf is not counted).
            if let Some(limit) = cert
                .basic_constraints()
                .and_then(|bc| bc.path_len_constraint)
                && depth - 1 > usize::from(limit)
            {
                return Err(chain_error(format!(
                    "{:?} allows {limit} CAs below it, the chain has {}",
                    cert.subject(),
                    depth - 1
                )));
            }
        }
    }
    Ok(())
}
