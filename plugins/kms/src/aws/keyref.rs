//! Parsing `awskms://[ENDPOINT]/KEY`, with the key forms cosign accepts: a key id (UUID, or
//! `mrk-…` for multi-region keys), `alias/NAME`, a key ARN or an alias ARN.

/// A parsed `awskms://` reference.
#[derive(Debug, PartialEq, Eq)]
pub struct AwsKeyRef {
    /// `HOST[:PORT]` between `awskms://` and the key; `None` when empty (`awskms:///…`).
    pub endpoint: Option<String>,
    /// What KMS calls take as `KeyId`: the id, `alias/NAME` or the ARN.
    pub key_id: String,
    /// `alias/NAME` when the reference names an alias (the form keys are created with).
    pub alias: Option<String>,
    /// The region of an ARN; it is where the key lives, so it beats `AWS_REGION`.
    pub arn_region: Option<String>,
}

const USAGE: &str = "expected awskms://[ENDPOINT]/KEY where KEY is a key id, alias/NAME, or a key \
                     or alias ARN";

fn valid_alias_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with("aws/")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'))
}

fn valid_key_id(id: &str) -> bool {
    let id = id.strip_prefix("mrk-").unwrap_or(id);
    !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl AwsKeyRef {
    /// Parses `raw`, naming what is wrong.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let rest = raw
            .get(..9)
            .filter(|p| p.eq_ignore_ascii_case("awskms://"))
            .map(|_| &raw[9..])
            .ok_or_else(|| format!("{raw:?} is not an awskms:// reference"))?;
        let (endpoint, key) = rest
            .split_once('/')
            .ok_or_else(|| format!("invalid key reference {raw:?}: {USAGE}"))?;
        let endpoint = (!endpoint.is_empty()).then(|| endpoint.to_owned());
        let mut parsed = AwsKeyRef {
            endpoint,
            key_id: key.to_owned(),
            alias: None,
            arn_region: None,
        };
        if let Some(name) = key.strip_prefix("alias/") {
            if !valid_alias_name(name) {
                return Err(format!("invalid alias in {raw:?}: {USAGE}"));
            }
            parsed.alias = Some(key.to_owned());
        } else if key.starts_with("arn:") {
            // arn:PARTITION:kms:REGION:ACCOUNT:key/ID or …:alias/NAME
            let parts: Vec<&str> = key.splitn(6, ':').collect();
            let [_, partition, service, region, account, resource] = parts[..] else {
                return Err(format!("invalid ARN in {raw:?}: {USAGE}"));
            };
            let ok = partition.starts_with("aws")
                && service == "kms"
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(format!("invalid ARN in {raw:?}: {USAGE}"));
            }
            if let Some(name) = resource.strip_prefix("alias/") {
                if !valid_alias_name(name) {
                    return Err(format!("invalid alias ARN in {raw:?}: {USAGE}"));
                }
                parsed.alias = Some(resource.to_owned());
            } else if !resource.strip_prefix("key/").is_some_and(valid_key_id) {
                return Err(format!("invalid ARN in {raw:?}: {USAGE}"));
            }
            parsed.arn_region = Some(region.to_owned());
        } else if !valid_key_id(key) {
            return Err(format!("invalid key reference {raw:?}: {USAGE}"));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forms() {
        let a = AwsKeyRef::parse("awskms:///alias/release").unwrap();
        assert_eq!(a.endpoint, None);
        assert_eq!(a.key_id, "alias/release");
        assert_eq!(a.alias.as_deref(), Some("alias/release"));

        let k = AwsKeyRef::parse("awskms://localhost:4566/1234abcd-12ab-34cd-56ef-1234567890ab")
            .unwrap();
        assert_eq!(k.endpoint.as_deref(), Some("localhost:4566"));
        assert_eq!(k.alias, None);

        let arn = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
        let k = AwsKeyRef::parse(&format!("awskms:///{arn}")).unwrap();
        assert_eq!(k.key_id, arn);
        assert_eq!(k.arn_region.as_deref(), Some("eu-west-1"));

        let k = AwsKeyRef::parse("awskms:///arn:aws:kms:us-east-1:111122223333:alias/ci").unwrap();
        assert_eq!(k.alias.as_deref(), Some("alias/ci"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "awskms://",
            "awskms:///",
            "awskms:///alias/",
            "awskms:///not a key",
            "awskms:///arn:aws:s3:::bucket",
            "hashivault://x",
        ] {
            assert!(AwsKeyRef::parse(bad).is_err(), "{bad}");
        }
    }
}
