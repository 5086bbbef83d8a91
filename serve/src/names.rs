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
    is_valid_repository_path(&name).then_some(name)
}

pub use sigmirror_oci::reference::{is_valid_repository_path, is_valid_tag};

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
        assert!(is_valid_repository_path("a/b__c/d-e--f/g.h"));
        assert!(!is_valid_repository_path("a/b___c"));
        assert!(is_valid_tag("v1.0_rc-2") && is_valid_tag("sha256-abc.sig"));
        assert!(!is_valid_tag(".hidden") && !is_valid_tag("a/b") && !is_valid_tag(""));
    }
}
