//! Where AWS settings come from, in the order the AWS SDKs read them (the subset that makes
//! sense for a signing tool): environment variables first, then the shared `credentials` and
//! `config` files of the selected profile. Instance roles, SSO and web identity are not read;
//! the error says so.

use std::collections::HashMap;
use std::path::PathBuf;

use zeroize::Zeroizing;

/// Static credentials for SigV4.
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    // Never print the secret or the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn home_file(env_name: &str, default: &str) -> Option<PathBuf> {
    env(env_name).map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(default))
    })
}

fn profile() -> String {
    env("AWS_PROFILE").unwrap_or_else(|| "default".into())
}

/// The sections of an INI file (`[name]`, `key = value`, `#`/`;` comments), or empty if the
/// file is missing.
fn read_ini(path: Option<PathBuf>) -> HashMap<String, HashMap<String, Zeroizing<String>>> {
    let mut sections: HashMap<String, HashMap<String, Zeroizing<String>>> = HashMap::new();
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return sections;
    };
    let text = Zeroizing::new(text);
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_owned());
            continue;
        }
        if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(k.trim().to_owned(), Zeroizing::new(v.trim().to_owned()));
        }
    }
    sections
}

/// The settings of the current profile from the shared credentials file and the config file
/// (where the section is `[profile NAME]`, except `[default]`); the credentials file wins.
fn profile_settings() -> HashMap<String, Zeroizing<String>> {
    let name = profile();
    let config_section = if name == "default" {
        name.clone()
    } else {
        format!("profile {name}")
    };
    let mut merged = read_ini(home_file("AWS_CONFIG_FILE", ".aws/config"))
        .remove(&config_section)
        .unwrap_or_default();
    merged.extend(
        read_ini(home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"))
            .remove(&name)
            .unwrap_or_default(),
    );
    merged
}

/// Credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else
/// from the profile `AWS_PROFILE` (or `default`).
pub fn credentials() -> Result<Credentials, String> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Credentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
        });
    }
    let mut settings = profile_settings();
    match (
        settings.remove("aws_access_key_id"),
        settings.remove("aws_secret_access_key"),
    ) {
        (Some(id), Some(secret)) => Ok(Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret,
            session_token: settings.remove("aws_session_token"),
        }),
        _ => Err(format!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put them in \
             profile {:?} of ~/.aws/credentials (instance roles, SSO and web identity are not \
             supported by this build)",
            profile()
        )),
    }
}

/// The region: from the key's ARN if it names one, else `AWS_REGION`, `AWS_DEFAULT_REGION`, the
/// profile's `region`.
pub fn region(from_arn: Option<&str>) -> Result<String, String> {
    if let Some(region) = from_arn {
        return Ok(region.to_owned());
    }
    env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile_settings().remove("region").map(|r| r.to_string()))
        .ok_or_else(|| {
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in ~/.aws/config), \
             or use a key ARN"
                .to_owned()
        })
}

/// The KMS endpoint URL: the key reference's `awskms://HOST[:PORT]/…` (HTTPS, as cosign),
/// else `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, else the public regional endpoint.
pub fn endpoint(from_ref: Option<&str>, region: &str) -> String {
    if let Some(host) = from_ref {
        return format!("https://{host}/");
    }
    if let Some(url) = env("AWS_ENDPOINT_URL_KMS").or_else(|| env("AWS_ENDPOINT_URL")) {
        return url;
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://kms.{region}.{suffix}/")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ini_sections_and_comments() {
        let dir = std::env::temp_dir().join(format!("sigmirror-kms-ini-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("credentials");
        std::fs::write(
            &path,
            "# comment\n[default]\naws_access_key_id = AKID\n; other\n[profile x]\nregion=eu-west-1\n",
        )
        .unwrap();
        let ini = read_ini(Some(path));
        assert_eq!(ini["default"]["aws_access_key_id"].as_str(), "AKID");
        assert_eq!(ini["profile x"]["region"].as_str(), "eu-west-1");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint(Some("kms.example:4566"), "us-east-1"),
            "https://kms.example:4566/"
        );
        assert_eq!(
            endpoint(None, "cn-north-1").ends_with("amazonaws.com.cn/"),
            env("AWS_ENDPOINT_URL_KMS")
                .or_else(|| env("AWS_ENDPOINT_URL"))
                .is_none()
        );
    }
}
