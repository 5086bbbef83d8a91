//! How the store's repositories are named by the registry. The store keeps each image under the
//! registry it came from (`127.0.0.1:5077/team/app`, `index.docker.io/library/alpine`), as the
//! FUSE view shows it. A repository name in the distribution API cannot hold `:`, so the port
//! separator is written `-`: `127.0.0.1:5077/team/app` is served as `127.0.0.1-5077/team/app`
//! (pull it as `SERVE_HOST:PORT/127.0.0.1-5077/team/app:v1`). Names the spec does not allow are
//! not served.

/// The served name of a store repository, if the spec allows it.
pub fn served_name(store_repo: &str) -> Option<String> {
    let (host, path) = store_repo.split_once('/')?;
    let name = format!("{}/{path}", host.replacen(':', "-", 1));
    is_valid_name(&name).then_some(name)
}

/// Whether `name` is a repository name of the distribution spec: `/`-separated components of
/// lower-case letters and digits, joined inside a component by `.`, `_`, `__` or dashes.
pub fn is_valid_name(name: &str) -> bool {
    name.len() <= 255 && !name.is_empty() && name.split('/').all(is_valid_component)
}

fn is_valid_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = component.chars().collect();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__`, or one or more `-`, between alphanumerics.
        let start = i;
        match bytes[i] {
            '.' => i += 1,
            '_' => {
                i += 1;
                if bytes.get(i) == Some(&'_') {
                    i += 1;
                }
            }
            '-' => {
                while bytes.get(i) == Some(&'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !bytes.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

/// Whether `tag` is a tag of the spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_repositories_map_to_names_the_spec_allows() {
        assert_eq!(
            served_name("127.0.0.1:5077/team/app").as_deref(),
            Some("127.0.0.1-5077/team/app")
        );
        assert_eq!(
            served_name("index.docker.io/library/alpine").as_deref(),
            Some("index.docker.io/library/alpine")
        );
        for bad in [
            "Registry/App",
            "host/a..b",
            "host/-a",
            "host/a_",
            "host//a",
            "nohost",
        ] {
            assert_eq!(served_name(bad), None, "{bad}");
        }
        assert!(is_valid_name("a/b__c/d-e--f/g.h"));
        assert!(!is_valid_name("a/b___c"));
        assert!(is_valid_tag("v1.0_rc-2") && is_valid_tag("sha256-abc.sig"));
        assert!(!is_valid_tag(".hidden") && !is_valid_tag("a/b") && !is_valid_tag(""));
    }
}
