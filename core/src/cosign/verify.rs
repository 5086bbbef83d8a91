//! Verifying image signatures (FORMATS.md §2.6, §3.2): find the `.sig` image of the digest,
//! check each layer's signature over its payload bytes with the key, then the payload's claims.
//! Succeeds only if at least one signature passes every check; otherwise every candidate's
//! reason is reported.

use std::collections::BTreeMap;

use serde_json::Value;

use super::image::ImageManifest;
use super::payload::{self, ParsedPayload};
use super::{Attachment, SIGNATURE_ANNOTATION, attachment_ref, max_attachment_size};
use crate::b64;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::reference::ImageRef;
use crate::source::{Source, resolve};

/// A signature that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// The parsed payload.
    pub parsed: ParsedPayload,
    /// Digest of the signature layer.
    pub layer_digest: String,
}

/// The outcome of verifying one image.
#[derive(Debug, Clone)]
pub struct Verification {
    /// `repo@digest` that was verified.
    pub image: ImageRef,
    /// Every signature that verified (at least one).
    pub signatures: Vec<VerifiedSignature>,
}

/// Verifies the signatures of `image` (a tag is resolved once) with `key`; `annotations` must
/// all appear in a payload's optional map for it to count.
pub async fn verify_image<S: Source>(
    source: &S,
    key: &PublicKey,
    image: &ImageRef,
    annotations: &BTreeMap<String, Value>,
) -> Result<Verification> {
    let manifest = resolve(source, image).await?;
    let digest = manifest.digest;
    let pinned = image.with_digest(&digest);
    let sig_ref = attachment_ref(image, &digest, Attachment::Signature)?;
    let sig_manifest = source
        .get_manifest(&sig_ref)
        .await?
        .ok_or_else(|| Error::NoSignatures {
            reference: pinned.to_string(),
        })?;
    let sig_image = ImageManifest::parse(&sig_manifest.bytes, &sig_ref.to_string())?;
    if sig_image.layers.is_empty() {
        return Err(Error::NoSignatures {
            reference: pinned.to_string(),
        });
    }
    let limit = max_attachment_size();
    let mut verified = vec![];
    let mut reasons = vec![];
    for (index, layer) in sig_image.layers.iter().enumerate() {
        let outcome = async {
            let sig_b64 = layer
                .annotation(SIGNATURE_ANNOTATION)
                .filter(|s| !s.is_empty())
                .ok_or("no signature annotation")?;
            let signature = b64::decode_lenient(sig_b64.as_bytes())
                .map_err(|e| format!("signature annotation is not base64: {e}"))?;
            if layer.size > limit {
                return Err(format!(
                    "payload of {} bytes exceeds the attachment limit",
                    layer.size
                ));
            }
            let payload = source
                .get_blob(&sig_ref, &layer.digest, limit)
                .await
                .map_err(|e| format!("cannot fetch payload: {e}"))?;
            key.verify_digest(&Sha256Digest::of(&payload), &signature)
                .map_err(|e| e.to_string())?;
            let parsed = payload::parse(&payload).map_err(|e| e.to_string())?;
            parsed.check_claims(&digest, annotations)?;
            Ok::<_, String>(VerifiedSignature {
                payload,
                parsed,
                layer_digest: layer.digest.clone(),
            })
        }
        .await;
        match outcome {
            Ok(v) => verified.push(v),
            Err(reason) => reasons.push(format!("signature {}: {reason}", index + 1)),
        }
    }
    if verified.is_empty() {
        return Err(Error::NoValidSignatures {
            reference: pinned.to_string(),
            reasons,
        });
    }
    Ok(Verification {
        image: pinned,
        signatures: verified,
    })
}
