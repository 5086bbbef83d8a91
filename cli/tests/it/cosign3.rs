//! cosign 3's own format: signatures and attestations stored as Sigstore bundles in OCI 1.1
//! referrers (here through the fallback tag: the Debian registry has no referrers API). cosign 3
//! signs and attests with a key and a signing config without services (no log); sigmirror
//! verifies online, then from the store with the registry stopped; another key fails.

use std::process::Command;

use sigmirror_tests::registry::TestRegistry;
use sigmirror_tests::{run, tool};

use crate::{Setup, setup};

pub(crate) fn cosign3(s: &Setup, args: &[&str]) -> sigmirror_tests::Run {
    run(
        Command::new(tool("cosign3"))
            .current_dir(s.dir.path())
            .env("HOME", s.dir.path())
            .env("COSIGN_PASSWORD", "pw")
            .args(args),
        None,
    )
}

/// `sc.json`: a signing config without any service, so that cosign 3 signs with the key alone
/// and uploads to no log.
fn write_keyed_signing_config(s: &Setup) {
    cosign3(
        s,
        &[
            "signing-config",
            "create",
            "--no-default-fulcio",
            "--no-default-rekor",
            "--no-default-oidc",
            "--no-default-tsa",
            "--out",
            "sc.json",
        ],
    )
    .ok();
}

/// cosign 3's `verify` or `verify-attestation` of `image` with `cosign.pub`, on a plain-HTTP
/// registry and without a log; `extra` goes before the image.
pub(crate) fn cosign3_verify(
    s: &Setup,
    command: &str,
    image: &str,
    extra: &[&str],
) -> sigmirror_tests::Run {
    cosign3(s, &crate::judge_args(command, "cosign.pub", image, extra))
}

/// A `tree` listing as its header and its sorted entries (an artifact line with its layers).
fn tree_entries(listing: &str) -> (String, Vec<String>) {
    let mut lines = listing.lines();
    let header = lines.next().unwrap_or_default().to_owned();
    let mut entries: Vec<String> = vec![];
    for line in lines {
        match entries.last_mut() {
            Some(entry) if line.starts_with("   ") => {
                entry.push('\n');
                entry.push_str(line);
            }
            _ => entries.push(line.to_owned()),
        }
    }
    entries.sort();
    (header, entries)
}

#[test]
fn cosign_3_bundle_signatures_and_attestations_verify_online_and_offline() {
    let mut s = setup("cosign3/app");
    crate::generate_other_key_pair(&s.dir);
    write_keyed_signing_config(&s);
    let signing = [
        "--key",
        "cosign.key",
        "--signing-config",
        "sc.json",
        "--allow-http-registry",
        "-y",
    ];
    cosign3(&s, &[&["sign"][..], &signing, &[&s.image]].concat()).ok();
    s.dir.write("pred.json", r#"{"buildType":"cosign3-test"}"#);
    cosign3(
        &s,
        &[
            &["attest"][..],
            &signing,
            &[
                "--predicate",
                "pred.json",
                "--type",
                "https://example.com/t/v1",
                &s.image,
            ],
        ]
        .concat(),
    )
    .ok();
    // cosign 3 itself accepts what it wrote (the judge of the format).
    cosign3_verify(&s, "verify", &s.image, &[]).ok();

    let out = s.sm(&["verify", "--key", "cosign.pub", &s.image]).ok();
    let printed: serde_json::Value = serde_json::from_str(out.stdout_text().trim()).unwrap();
    assert_eq!(
        printed[0]["critical"]["type"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    assert_eq!(
        printed[0]["critical"]["image"]["docker-manifest-digest"],
        s.digest.as_str()
    );
    // What cosign 3 prints for the same image, as JSON.
    let theirs = cosign3_verify(&s, "verify", &s.image, &[]).ok();
    let theirs: Vec<serde_json::Value> = serde_json::from_str(theirs.stdout_text().trim()).unwrap();
    // cosign 3 also counts the attestation bundle (any key-signed statement about the image) as
    // a signature; sigmirror counts only statements of the signing predicate type.
    let theirs: Vec<serde_json::Value> = theirs
        .into_iter()
        .filter(|p| p["critical"]["type"] == "https://sigstore.dev/cosign/sign/v1")
        .collect();
    assert_eq!(printed, serde_json::Value::Array(theirs));
    let out = s
        .sm(&[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "https://example.com/t/v1",
            "-o",
            "statement",
            &s.image,
        ])
        .ok();
    assert!(
        out.stdout_text().contains("cosign3-test"),
        "{}",
        out.stdout_text()
    );
    s.sm(&["verify", "--key", "other.pub", &s.image])
        .fails_with("does not verify");
    s.sm(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--type",
        "https://example.com/other/v1",
        &s.image,
    ])
    .fails_with("predicate type");

    // `tree` lists the bundles as cosign 3 does (cosign 3's order varies between runs: the
    // entries are compared as a set).
    let ours = s.sm(&["tree", &s.image]).ok().stdout_text();
    let theirs = cosign3(&s, &["tree", "--allow-http-registry", &s.image])
        .ok()
        .stdout_text();
    assert_eq!(tree_entries(&ours), tree_entries(&theirs));
    assert!(
        ours.contains("https://sigstore.dev/cosign/sign/v1 artifacts via OCI referrer"),
        "{ours}"
    );

    // `download` prints the bundles themselves, as cosign 3 does (cosign 3 prints every bundle
    // for either kind; sigmirror those of the kind asked for).
    let theirs = cosign3(
        &s,
        &["download", "signature", "--allow-http-registry", &s.image],
    )
    .ok()
    .stdout_text();
    for kind in ["signature", "attestation"] {
        let ours = s.sm(&["download", kind, &s.image]).ok().stdout_text();
        assert_eq!(ours.lines().count(), 1, "{ours}");
        assert!(
            theirs.lines().any(|l| l == ours.trim_end()),
            "{ours}\n{theirs}"
        );
    }

    // Copied to a second registry (no referrers API either): the bundles and a fallback tag
    // index for them arrive, so cosign 3 verifies the copy.
    let second = TestRegistry::start();
    let copied = format!("{}:v1", second.image("cosign3/copy"));
    s.sm(&["copy", &s.image, &copied]).ok();
    cosign3_verify(&s, "verify", &copied, &[]).ok();
    cosign3_verify(
        &s,
        "verify-attestation",
        &copied,
        &["--type", "https://example.com/t/v1"],
    )
    .ok();

    // Pulled with its referrers; verified from the store alone.
    let store = s.dir.join("store");
    let sm_store = |args: &[&str]| {
        run(
            crate::sigmirror(&s.dir)
                .env("SIGMIRROR_STORE", &store)
                .args(args),
            None,
        )
    };
    sm_store(&["pull", &s.image]).ok();
    s.reg.stop();
    sm_store(&["verify", "--offline", "--key", "cosign.pub", &s.image]).ok();
    sm_store(&[
        "verify-attestation",
        "--offline",
        "--key",
        "cosign.pub",
        "--type",
        "https://example.com/t/v1",
        &s.image,
    ])
    .ok();
    sm_store(&["verify", "--offline", "--key", "other.pub", &s.image])
        .fails_with("does not verify");
    assert_eq!(
        sm_store(&["tree", "--offline", &s.image])
            .ok()
            .stdout_text(),
        ours
    );

    // Saved to an OCI layout and loaded into another store: the bundles come along.
    let layout = s.dir.join("layout");
    sm_store(&[
        "save",
        "--offline",
        "--dir",
        layout.to_str().unwrap(),
        &s.image,
    ])
    .ok();
    let other_store = s.dir.join("other-store");
    let sm_other = |args: &[&str]| {
        run(
            crate::sigmirror(&s.dir)
                .env("SIGMIRROR_STORE", &other_store)
                .args(args),
            None,
        )
    };
    sm_other(&["store", "load", "--dir", layout.to_str().unwrap()]).ok();
    sm_other(&["verify", "--offline", "--key", "cosign.pub", &s.image]).ok();
    sm_other(&[
        "verify-attestation",
        "--offline",
        "--key",
        "cosign.pub",
        "--type",
        "https://example.com/t/v1",
        &s.image,
    ])
    .ok();

    // The mounted view lists the bundles, decoded, and the trusted key verifies the signature.
    sm_store(&["trust", "add", "cosign.pub", "--name", "ops"]).ok();
    let point = s.dir.join("mnt");
    let mount = crate::fuse::Mounted::start(&s.dir, &point);
    let tag = point.join(s.reg.addr()).join("cosign3/app/_tags/v1");
    let predicate_types: Vec<String> = (1..=2)
        .map(|n| std::fs::read_to_string(tag.join(format!("bundles/{n}/predicate-type"))).unwrap())
        .collect();
    assert!(
        predicate_types.contains(&"https://sigstore.dev/cosign/sign/v1\n".to_owned()),
        "{predicate_types:?}"
    );
    assert!(
        predicate_types.contains(&"https://example.com/t/v1\n".to_owned()),
        "{predicate_types:?}"
    );
    assert!(tag.join("bundles/1/bundle.json").is_file());
    assert!(tag.join("bundles/1/statement.json").is_file());
    assert!(tag.join("verified/ops").exists());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tag.join("verification.json")).unwrap()).unwrap();
    let signature_bundle = report["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["signature"] == true)
        .unwrap();
    assert_eq!(
        signature_bundle["keys"]["ops"]["verified"], true,
        "{report}"
    );
    drop(mount);

    // Pushed from the store to the second registry: cosign 3 verifies there too.
    let pushed = format!("{}:v1", second.image("mirror/cosign3/app"));
    sm_store(&["push", "--to", &second.image("mirror"), &s.image]).ok();
    cosign3_verify(&s, "verify", &pushed, &[]).ok();
}

#[test]
fn sigmirror_writes_cosign_3_bundles_that_cosign_3_verifies() {
    let s = setup("cosign3/written");
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        &s.image,
    ])
    .ok();
    s.dir
        .write("pred.json", r#"{"buildType":"written-by-sigmirror"}"#);
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        "--predicate",
        "pred.json",
        "--type",
        "https://example.com/t/v1",
        &s.image,
    ])
    .ok();
    cosign3_verify(&s, "verify", &s.image, &[]).ok();
    cosign3_verify(
        &s,
        "verify-attestation",
        &s.image,
        &["--type", "https://example.com/t/v1"],
    )
    .ok();
    // Not a .sig image: cosign 2 does not find it (that is what the default format is for).
    s.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &s.image,
    ])
    .fails_with("no signatures found");
    s.sm(&["verify", "--key", "cosign.pub", &s.image]).ok();
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        "-a",
        "k=v",
        &s.image,
    ])
    .fails_with("no place");

    // Blobs: the Sigstore bundle v0.3 cosign 3 writes.
    s.dir.write("a.txt", b"a blob");
    s.sm(&[
        "sign-blob",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        "--bundle",
        "a.sigstore.json",
        "a.txt",
    ])
    .ok();
    s.sm(&[
        "attest-blob",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        "--bundle",
        "a.att.json",
        "--predicate",
        "pred.json",
        "a.txt",
    ])
    .ok();
    let blob_judge = ["--key", "cosign.pub", "--insecure-ignore-tlog"];
    cosign3(
        &s,
        &[
            &["verify-blob"][..],
            &blob_judge,
            &["--bundle", "a.sigstore.json", "a.txt"],
        ]
        .concat(),
    )
    .ok();
    cosign3(
        &s,
        &[
            &["verify-blob-attestation"][..],
            &blob_judge,
            &["--bundle", "a.att.json", "a.txt"],
        ]
        .concat(),
    )
    .ok();
    s.dir.write("b.txt", b"another blob");
    cosign3(
        &s,
        &[
            &["verify-blob"][..],
            &blob_judge,
            &["--bundle", "a.sigstore.json", "b.txt"],
        ]
        .concat(),
    )
    .fails_with("");
}

/// `oras`, the referrers judge, against the test registries (plain HTTP).
fn oras(s: &Setup, args: &[&str]) -> sigmirror_tests::Run {
    run(
        Command::new(tool("oras"))
            .current_dir(s.dir.path())
            .env("HOME", s.dir.path())
            .args(args),
        None,
    )
}

#[test]
fn oras_discovers_what_sigmirror_writes_and_sigmirror_carries_what_oras_attaches() {
    let s = setup("oras/app");
    let signed = s
        .sm(&[
            "sign",
            "--key",
            "cosign.key",
            "--new-bundle-format",
            &s.image,
        ])
        .ok();
    let referrer = signed
        .stderr
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_owned())
        .unwrap();
    let listing = oras(&s, &["discover", "--plain-http", &s.image])
        .ok()
        .stdout_text();
    assert!(
        listing.contains("application/vnd.dev.sigstore.bundle.v0.3+json"),
        "{listing}"
    );
    assert!(listing.contains(&referrer), "{listing}");

    s.dir.write("sbom.txt", b"an sbom oras attached");
    oras(
        &s,
        &[
            "attach",
            "--plain-http",
            "--artifact-type",
            "application/vnd.example.sbom",
            &s.image,
            "sbom.txt",
        ],
    )
    .ok();
    let second = TestRegistry::start();
    let copied = format!("{}:v1", second.image("oras/copy"));
    s.sm(&["copy", &s.image, &copied]).ok();
    let listing = oras(&s, &["discover", "--plain-http", &copied])
        .ok()
        .stdout_text();
    assert!(
        listing.contains("application/vnd.example.sbom"),
        "{listing}"
    );
    assert!(listing.contains(&referrer), "{listing}");
    // The copy still verifies, and carries the same referrer digests.
    s.sm(&["verify", "--key", "cosign.pub", &copied]).ok();
}

#[test]
fn the_referrers_api_is_used_where_a_registry_has_it() {
    // `s.reg` has no referrers API; `api` has it (a stand-in in front of a real registry).
    let s = setup("plain/app");
    let api = sigmirror_tests::peers::ReferrersRegistry::start();
    let image = format!("{}:v1", api.image("api/app"));
    let digest = sigmirror_tests::oci::push_image(&image, "referrers-api");
    let fallback_tag = |reg: &TestRegistry, repo: &str| {
        let url = format!("http://{}/v2/{repo}/tags/list", reg.addr());
        String::from_utf8(sigmirror_tests::http_get(&url))
            .unwrap()
            .contains(&digest.replace(':', "-"))
    };
    write_keyed_signing_config(&s);
    // cosign 3 signs through the API: no fallback tag; sigmirror finds the bundle through it.
    cosign3(
        &s,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--signing-config",
            "sc.json",
            "--allow-http-registry",
            "-y",
            &image,
        ],
    )
    .ok();
    assert!(!fallback_tag(&api.upstream, "api/app"));
    s.sm(&["verify", "--key", "cosign.pub", &image]).ok();
    // sigmirror's own bundle: the registry lists it, so sigmirror writes no fallback tag either.
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        "--predicate",
        "cosign.pub",
        &image,
    ])
    .ok();
    assert!(!fallback_tag(&api.upstream, "api/app"));
    cosign3_verify(&s, "verify-attestation", &image, &[]).ok();
    // From the API registry to one without it: the fallback index is written there.
    let copied = format!("{}:v1", s.reg.image("plain/copied"));
    s.sm(&["copy", &image, &copied]).ok();
    assert!(fallback_tag(&s.reg, "plain/copied"));
    cosign3_verify(&s, "verify", &copied, &[]).ok();
    // And back into the API registry: its API lists them.
    let back = format!("{}:v1", api.image("api/back"));
    s.sm(&["copy", &copied, &back]).ok();
    assert!(!fallback_tag(&api.upstream, "api/back"));
    cosign3_verify(&s, "verify", &back, &[]).ok();
    s.sm(&["verify", "--key", "cosign.pub", &back]).ok();
}

#[test]
fn clean_removes_bundles_of_the_kind_asked_for_and_their_fallback_index() {
    let s = setup("cosign3/clean");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    s.sm(&[
        "sign",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        &s.image,
    ])
    .ok();
    s.sm(&[
        "attest",
        "--key",
        "cosign.key",
        "--new-bundle-format",
        "--predicate",
        "cosign.pub",
        &s.image,
    ])
    .ok();
    let tags = || {
        String::from_utf8(sigmirror_tests::http_get(&format!(
            "http://{}/v2/cosign3/clean/tags/list",
            s.reg.addr()
        )))
        .unwrap()
    };
    let out = s
        .sm(&["clean", "--type", "signature", "--force", &s.image])
        .ok();
    assert_eq!(out.stderr.matches("Removed").count(), 2, "{}", out.stderr);
    s.sm(&["verify", "--key", "cosign.pub", &s.image])
        .fails_with("no signatures");
    s.sm(&["verify-attestation", "--key", "cosign.pub", &s.image])
        .ok();
    assert!(tags().contains(&s.digest.replace(':', "-")), "{}", tags());
    s.sm(&["clean", "--force", &s.image]).ok();
    s.sm(&["verify-attestation", "--key", "cosign.pub", &s.image])
        .fails_with("no attestations");
    // The fallback index went with its last entry; only the image's tag is left.
    assert_eq!(
        tags(),
        r#"{"name":"cosign3/clean","tags":["v1"]}"#.to_owned() + "\n"
    );
    let tree = cosign3(&s, &["tree", "--allow-http-registry", &s.image])
        .ok()
        .stdout_text();
    assert!(
        tree.contains("No Supply Chain Security Related Artifacts"),
        "{tree}"
    );
}

#[test]
fn keyless_bundle_referrers_verify_as_cosign_3_verifies_them() {
    use sigmirror_tests::private_sigstore::{IDENTITY, ISSUER, PrivateSigstore};
    let s = setup("cosign3/keyless");
    let ps = PrivateSigstore::init();
    let root = ps.trusted_root().to_string_lossy().into_owned();
    // The image manifest's bytes are the statement's subject: a keyless cosign 3 signature,
    // made by the private instance, attached by oras as cosign 3 attaches it.
    let manifest = s.dir.write(
        "manifest.json",
        sigmirror_tests::http_get(&format!(
            "http://{}/v2/cosign3/keyless/manifests/{}",
            s.reg.addr(),
            s.digest
        )),
    );
    let attach = |case: &str, extra: &[&str]| {
        let bundle = s.dir.join(format!("{case}.sigstore.json"));
        let mut args = vec![
            "--out",
            bundle.to_str().unwrap(),
            "--predicate-type",
            "https://sigstore.dev/cosign/sign/v1",
        ];
        args.extend_from_slice(extra);
        ps.sign("attest-blob", &manifest, &args);
        let layer = format!(
            "{}:application/vnd.dev.sigstore.bundle.v0.3+json",
            bundle.file_name().unwrap().to_str().unwrap()
        );
        oras(
            &s,
            &[
                "attach",
                "--plain-http",
                "--artifact-type",
                "application/vnd.dev.sigstore.bundle.v0.3+json",
                "--annotation",
                "dev.sigstore.bundle.predicateType=https://sigstore.dev/cosign/sign/v1",
                "--annotation",
                "dev.sigstore.bundle.content=dsse-envelope",
                &s.image,
                &layer,
            ],
        )
        .ok();
    };
    let verdicts = |identity: &str| {
        let flags = [
            "--trusted-root",
            &root,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            ISSUER,
        ];
        (
            s.sm(&[&["verify"][..], &flags, &[&s.image]].concat()).code == 0,
            cosign3(
                &s,
                &[
                    &["verify", "--allow-http-registry"][..],
                    &flags,
                    &[&s.image],
                ]
                .concat(),
            )
            .code
                == 0,
        )
    };
    // Only a bundle from an untrusted CA: both refuse.
    attach("forged", &["--mutate", "untrusted-ca"]);
    assert_eq!(verdicts(IDENTITY), (false, false));
    // A good one beside it: both accept, for that identity only.
    attach("good", &[]);
    assert_eq!(verdicts(IDENTITY), (true, true));
    assert_eq!(verdicts("https://github.com/someone/else"), (false, false));
}
