//! A minimal AWS Signature Version 4 signer for KMS's JSON API (POST, no query string).
//!
//! Why in-tree: the official `aws-sigv4` crate adds 17 crates and needs a newer compiler; this
//! follows the project's DEPENDENCIES.md appendix, whose output was checked byte-identical to
//! aws-sigv4 1.6.4 for a KMS `TrentService.Sign` request.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// One request to sign.
pub struct SigningInput<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// `host[:port]` exactly as sent in the `Host` header.
    pub host: &'a str,
    /// The URL path, already URI-encoded (`/` for KMS).
    pub path: &'a str,
    /// Extra headers to sign (lower- or mixed-case names); `host` and `x-amz-date` are added.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body.
    pub body: &'a [u8],
    /// AWS region, e.g. `us-east-1`.
    pub region: &'a str,
    /// Signing name of the service: `kms`.
    pub service: &'a str,
}

fn hmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|e| format!("HMAC key rejected: {e}"))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Authorization` header value for `input`, signed at `amz_date` (`YYYYMMDDTHHMMSSZ`) on
/// `date` (`YYYYMMDD`), both UTC.
pub fn authorization(
    input: &SigningInput<'_>,
    access_key_id: &str,
    secret_access_key: &str,
    amz_date: &str,
    date: &str,
) -> Result<String, String> {
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    headers.push(("host".into(), input.host.into()));
    headers.push(("x-amz-date".into(), amz_date.into()));
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        input.method,
        input.path,
        hex(&Sha256::digest(input.body))
    );
    let scope = format!("{date}/{}/{}/aws4_request", input.region, input.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let secret = zeroize::Zeroizing::new(format!("AWS4{secret_access_key}"));
    let k_date = hmac(secret.as_bytes(), date.as_bytes())?;
    let k_region = hmac(&k_date, input.region.as_bytes())?;
    let k_service = hmac(&k_region, input.service.as_bytes())?;
    let k_signing = hmac(&k_service, b"aws4_request")?;
    let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes())?);
    Ok(format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    ))
}

/// `(amz_date, date)` in UTC for `t`, without a date crate (Howard Hinnant's civil_from_days).
pub fn amz_dates(t: std::time::SystemTime) -> (String, String) {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, sod) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let date = format!("{y:04}{m:02}{d:02}");
    (
        format!(
            "{date}T{:02}{:02}{:02}Z",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        ),
        date,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_are_utc_civil_dates() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(
            amz_dates(t),
            ("20231114T221320Z".to_owned(), "20231114".to_owned())
        );
    }

    /// The expected value was computed with botocore's `SigV4Auth` (the signer moto checks
    /// requests with) for the same request, credentials and time.
    #[test]
    fn signature_matches_botocore() {
        let input = SigningInput {
            method: "POST",
            host: "kms.us-east-1.amazonaws.com",
            path: "/",
            headers: &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "TrentService.Sign"),
            ],
            body: b"{}",
            region: "us-east-1",
            service: "kms",
        };
        let a = authorization(
            &input,
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20231114T221320Z",
            "20231114",
        )
        .unwrap();
        assert_eq!(
            a,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/kms/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=c9b48bb8bcedd5e4c16bc46f09ab88164e63744b5f199e18c0726612ec596cbc"
        );
    }
}
