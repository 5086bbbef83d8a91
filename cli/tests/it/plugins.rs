//! The `plugins` command and plugin selection by key reference.

use sigmirror_tests::{TestDir, run};

use crate::sigmirror;

#[test]
fn lists_plugins_with_schemes_and_reports_broken_ones() {
    let dir = TestDir::new();
    let extra = TestDir::new();
    extra.write(
        "libsigmirror_signer_bogus.so",
        "this is not a shared library",
    );
    let plugin_path =
        std::env::join_paths([extra.path().to_path_buf(), sigmirror_tests::plugin_dir()]).unwrap();
    let out = run(
        sigmirror(&dir)
            .arg("plugins")
            .env("SIGMIRROR_PLUGIN_PATH", plugin_path),
        None,
    )
    .ok();
    let text = out.stdout_text();
    let file_line = text
        .lines()
        .find(|l| l.starts_with("file\t"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(file_line.contains("schemes file,env"), "{file_line}");
    assert!(file_line.contains("abi 1"), "{file_line}");
    let failed = text
        .lines()
        .find(|l| l.starts_with("failed\t"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(failed.contains("libsigmirror_signer_bogus.so"), "{failed}");
}

#[test]
fn key_reference_without_a_plugin_is_a_clear_error() {
    let dir = TestDir::new();
    dir.write("blob", "x");
    run(
        sigmirror(&dir).args(["sign-blob", "--key", "nokms://alias/x", "blob"]),
        None,
    )
    .fails_with("no signer plugin serves \"nokms\"");
    // Plugin errors reach the user with the plugin's name.
    run(
        sigmirror(&dir).args(["sign-blob", "--key", "testing://error-on-call", "blob"]),
        None,
    )
    .fails_with("testing plugin: deliberate error in");
    run(
        sigmirror(&dir).args(["sign-blob", "--key", "testing://panic-on-new", "blob"]),
        None,
    )
    .fails_with("panicked");
}
