//! YAML files (kubeconfigs, policy and sync files; JSON is YAML too) read into
//! `serde_json::Value`, so their readers walk one value type and can deserialize it with serde.
//! Behind the `yaml` feature: only the crates that read YAML pay for the parser.

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn convert(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(convert).collect()),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                map.insert(key, convert(v));
            }
            Value::Object(map)
        }
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

/// The first document of `text` (an empty file is `null`).
pub fn parse(text: &str) -> Result<Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    Ok(docs.first().map(convert).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kubeconfig_shapes() {
        let v = parse(
            "apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://x:6443\n    \
             insecure-skip-tls-verify: true\nusers: [{name: u, user: {token: \"abc\"}}]\n",
        )
        .unwrap();
        assert_eq!(v["clusters"][0]["cluster"]["server"], "https://x:6443");
        assert_eq!(
            v["clusters"][0]["cluster"]["insecure-skip-tls-verify"],
            true
        );
        assert_eq!(v["users"][0]["user"]["token"], "abc");
        assert_eq!(parse("").unwrap(), Value::Null);
        assert!(parse("a: [").is_err());
    }
}
