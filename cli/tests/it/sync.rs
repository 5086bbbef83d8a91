//! `sync CONFIG` end to end: two sources and three targets on real registries; what fails its
//! policy reaches no target, with the reason in the report; `--retry-failed` after the signer
//! fixes a tag; `--dry-run` writes nothing; the copies are judged by the real cosign.

use serde_json::Value;
use sigmirror_tests::oci::push_image;
use sigmirror_tests::registry::TestRegistry;
use sigmirror_tests::run;

use crate::{generate_other_key_pair, setup};

/// The report's outcome per image.
fn outcomes(report: &Value) -> std::collections::BTreeMap<String, (String, String)> {
    report["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|e| {
            (
                e["image"].as_str().unwrap().to_owned(),
                (
                    e["outcome"].as_str().unwrap().to_owned(),
                    e["details"].to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn sync_admits_only_what_verifies_into_every_target_and_retries_what_failed() {
    let s = setup("sync/seed");
    let dst = TestRegistry::start();
    generate_other_key_pair(&s.dir);
    let app = s.reg.image("sync/app");
    let tool = s.reg.image("sync/tool");
    let attest = |image: &str| s.attest(image);
    for tag in ["v0.9.0-rc", "v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"] {
        push_image(&format!("{app}:{tag}"), &format!("sync-app-{tag}"));
    }
    for tag in ["v0.9.0-rc", "v1.0.0"] {
        s.sm(&["sign", "--key", "cosign.key", &format!("{app}:{tag}")])
            .ok();
        attest(&format!("{app}:{tag}"));
    }
    // v1.1.0 unsigned; v1.2.0 signed by a key the policy does not trust; v1.3.0 signed but
    // without the attestation the policy requires.
    s.sm(&["sign", "--key", "other.key", &format!("{app}:v1.2.0")])
        .ok();
    s.sm(&["sign", "--key", "cosign.key", &format!("{app}:v1.3.0")])
        .ok();
    for tag in ["1", "2", "3"] {
        push_image(&format!("{tool}:{tag}"), &format!("sync-tool-{tag}"));
        s.sm(&["sign", "--key", "cosign.key", &format!("{tool}:{tag}")])
            .ok();
    }
    s.dir
        .write("release.yaml", "keys:\n  release: cosign.pub\n");
    s.dir.write(
        "sync.yaml",
        format!(
            "sources:\n\
             - repository: {app}\n  exclude: '-rc$'\n  policy:\n    keys: {{release: cosign.pub}}\n    \
             attestations: [https://example.com/t/v1]\n\
             - repository: {tool}\n  newest: 2\n  policy: release.yaml\n\
             targets:\n- store: mirror\n- registry: {}/mirror\n- layout: carry\n",
            dst.addr()
        ),
    );
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", "sync.yaml", "--progress", "none", "--json"];
        args.extend_from_slice(extra);
        s.sm(&args)
    };
    let report_of = |run: &sigmirror_tests::Run| -> Value {
        serde_json::from_str(&run.stdout_text()).expect("report json")
    };

    let first = sync(&[]).fails_with("3 of 6 images were refused or failed");
    let seen = outcomes(&report_of(&first));
    let outcome = |tag: &str| seen[&format!("{app}:{tag}")].clone();
    assert_eq!(outcome("v1.0.0").0, "copied", "{seen:?}");
    assert_eq!(outcome("v1.1.0").0, "refused");
    assert!(outcome("v1.1.0").1.contains("no signature"), "{seen:?}");
    assert_eq!(outcome("v1.2.0").0, "refused");
    assert!(
        outcome("v1.2.0")
            .1
            .contains("does not verify with this key"),
        "{seen:?}"
    );
    assert_eq!(outcome("v1.3.0").0, "refused");
    assert!(
        outcome("v1.3.0")
            .1
            .contains("no verified attestation of type https://example.com/t/v1"),
        "{seen:?}"
    );
    assert!(!seen.contains_key(&format!("{app}:v0.9.0-rc")), "excluded");
    assert!(
        !seen.contains_key(&format!("{tool}:1")),
        "only the newest 2"
    );
    assert_eq!(seen[&format!("{tool}:2")].0, "copied");
    assert_eq!(seen[&format!("{tool}:3")].0, "copied");
    assert!(first.stderr.contains("refused"), "{}", first.stderr);
    // The report file says the same.
    let written: Value =
        serde_json::from_slice(&std::fs::read(s.dir.join("sync-report.json")).unwrap()).unwrap();
    assert_eq!(outcomes(&written), seen);

    // Every target holds what was admitted, and nothing else.
    let listed = s
        .sm(&["store", "ls", "--store", "mirror"])
        .ok()
        .stdout_text();
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            format!("{app}:v1.0.0").as_str(),
            format!("{tool}:2").as_str(),
            format!("{tool}:3").as_str()
        ],
        "{listed}"
    );
    s.verify_offline("mirror", "cosign.pub", &format!("{app}:v1.0.0"))
        .ok();
    let copied = format!("{}/mirror/sync/app", dst.addr());
    s.cosign_verify("verify", "cosign.pub", &format!("{copied}:v1.0.0"), &[])
        .ok();
    s.cosign_verify(
        "verify-attestation",
        "cosign.pub",
        &format!("{copied}:v1.0.0"),
        &["--type", "https://example.com/t/v1"],
    )
    .ok();
    for refused in ["v1.1.0", "v1.2.0", "v1.3.0"] {
        let (status, _, _) = sigmirror_tests::peers::curl_headers(
            &format!(
                "http://{}/v2/mirror/sync/app/manifests/{refused}",
                dst.addr()
            ),
            &[],
        );
        assert_eq!(status, 404, "{refused} reached the registry");
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(s.dir.join("carry/index.json")).unwrap()).unwrap();
    let layout_names = index.to_string();
    assert!(
        layout_names.contains("v1.0.0") && !layout_names.contains("v1.1.0"),
        "{layout_names}"
    );
    run(
        std::process::Command::new(sigmirror_tests::tool("skopeo"))
            .arg("inspect")
            .arg(format!(
                "oci:{}:{app}:v1.0.0",
                s.dir.join("carry").display()
            )),
        None,
    )
    .ok();

    // A second run moves nothing new.
    let again = outcomes(&report_of(&sync(&[]).fails_with("3 of 6")));
    assert_eq!(again[&format!("{app}:v1.0.0")].0, "up-to-date", "{again:?}");
    assert_eq!(again[&format!("{tool}:3")].0, "up-to-date", "{again:?}");

    // The signer fixes v1.1.0; only the refused and failed images are tried again.
    s.sm(&["sign", "--key", "cosign.key", &format!("{app}:v1.1.0")])
        .ok();
    attest(&format!("{app}:v1.1.0"));
    std::fs::copy(s.dir.join("sync-report.json"), s.dir.join("before.json")).unwrap();
    let retried = sync(&["--retry-failed", "before.json"]).fails_with("2 of 3");
    let retried = outcomes(&report_of(&retried));
    assert_eq!(retried.len(), 3, "only what was refused: {retried:?}");
    assert_eq!(retried[&format!("{app}:v1.1.0")].0, "copied", "{retried:?}");
    assert_eq!(retried[&format!("{app}:v1.2.0")].0, "refused");
    s.cosign_verify("verify", "cosign.pub", &format!("{copied}:v1.1.0"), &[])
        .ok();

    // A dry run verifies but writes nothing to the targets.
    push_image(&format!("{app}:v1.4.0"), "sync-app-v1.4.0");
    s.sm(&["sign", "--key", "cosign.key", &format!("{app}:v1.4.0")])
        .ok();
    attest(&format!("{app}:v1.4.0"));
    let dry = outcomes(&report_of(
        &sync(&["--dry-run"]).fails_with("refused or failed"),
    ));
    assert_eq!(dry[&format!("{app}:v1.4.0")].0, "admitted", "{dry:?}");
    let listed = s
        .sm(&["store", "ls", "--store", "mirror"])
        .ok()
        .stdout_text();
    assert!(!listed.contains("v1.4.0"), "{listed}");

    // A sync file that cannot be used is refused by name before anything moves.
    s.dir.write(
        "bad.yaml",
        format!(
            "sources:\n- repository: {app}:v1.0.0\n  policy: release.yaml\ntargets:\n- store: x\n"
        ),
    );
    s.sm(&["sync", "bad.yaml"])
        .fails_with("without a tag or digest");
    s.dir.write("bad.yaml", "sources: []\ntargets: []\n");
    s.sm(&["sync", "bad.yaml"])
        .fails_with("at least one source and one target");
    assert!(!s.dir.join("x").exists());
}

/// A sync killed (-9) at several moments, then run again, completes: every image in the
/// targets, the stores whole (`store fsck`).
#[test]
fn a_sync_killed_at_any_moment_completes_on_the_next_run() {
    let s = setup("sync/killed-seed");
    let repo = s.reg.image("sync/killed");
    let tags: Vec<String> = (1..=6).map(|i| format!("v{i}")).collect();
    for tag in &tags {
        let image = format!("{repo}:{tag}");
        push_image(&image, &format!("sync-killed-{tag}"));
        s.sm(&["sign", "--key", "cosign.key", &image]).ok();
    }
    s.dir.write(
        "sync.yaml",
        format!(
            "sources:\n- repository: {repo}\n  policy:\n    keys: {{release: cosign.pub}}\n\
             targets:\n- store: mirror\n- layout: carry\n"
        ),
    );
    for delay in [0u64, 40, 120, 300] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sigmirror"))
            .current_dir(s.dir.path())
            .env("HOME", s.dir.path())
            .args(["sync", "--progress", "none", "sync.yaml"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let done = s
        .sm(&["sync", "--progress", "none", "--json", "sync.yaml"])
        .ok();
    let report: Value = serde_json::from_str(&done.stdout_text()).unwrap();
    let seen = outcomes(&report);
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(
        seen.values()
            .all(|(o, _)| o == "copied" || o == "up-to-date"),
        "{seen:?}"
    );
    let listed = s
        .sm(&["store", "ls", "--store", "mirror"])
        .ok()
        .stdout_text();
    for tag in &tags {
        assert!(
            listed.contains(&format!("{repo}:{tag}\t")),
            "{tag}: {listed}"
        );
    }
    s.sm(&["store", "fsck", "--store", "mirror"]).ok();
    s.sm(&["store", "fsck", "--store", ".sigmirror-sync"]).ok();
    run(
        std::process::Command::new(sigmirror_tests::tool("skopeo"))
            .arg("inspect")
            .arg(format!("oci:{}:{repo}:v6", s.dir.join("carry").display())),
        None,
    )
    .ok();
}
