//! The host survives every way a plugin can misbehave, with a clear error each time.

use std::path::{Path, PathBuf};
use std::process::Command;

use sigmirror_plugin_abi::host::{Plugin, PluginError};
use sigmirror_plugin_abi::wire::{AlgorithmResult, InstanceConfig, Method, Request};
use sigmirror_signer::Discovery;
use sigmirror_tests::{TestDir, plugin_path, run, tool};

fn testing_instance(mode: &str) -> Result<sigmirror_plugin_abi::host::Instance, PluginError> {
    let plugin = Plugin::load(&plugin_path("testing")).expect("load testing plugin");
    plugin.instance(&InstanceConfig::new(&format!("testing://{mode}"), None))
}

fn default_algorithm(
    instance: &sigmirror_plugin_abi::host::Instance,
) -> Result<String, PluginError> {
    instance
        .call_json::<AlgorithmResult>(&Request::new(Method::DefaultAlgorithm))
        .map(|r| r.algorithm)
}

#[test]
fn file_plugin_announces_itself() {
    let plugin = Plugin::load(&plugin_path("file")).unwrap();
    assert_eq!(plugin.name(), "file");
    assert_eq!(plugin.schemes(), ["file", "env"]);
    assert_eq!(plugin.abi_version(), sigmirror_plugin_abi::ABI_VERSION);
    assert!(plugin.needs_password());
    // Opening a key that does not exist is an error from the plugin, not a crash.
    let err = plugin
        .instance(&InstanceConfig::new("/nonexistent/cosign.key", Some(b"")))
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cosign.key"), "{err}");
}

#[test]
fn panic_in_new_instance_is_caught() {
    let err = testing_instance("panic-on-new").expect_err("must fail");
    assert!(
        matches!(&err, PluginError::Call { message, .. } if message.contains("plugin panicked: deliberate panic")),
        "{err}"
    );
}

#[test]
fn error_in_new_instance_is_reported() {
    let err = testing_instance("error-on-new").expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "testing plugin: deliberate error in new_instance"
    );
}

#[test]
fn panic_in_call_is_caught_and_the_next_call_works() {
    let instance = testing_instance("panic-on-call").unwrap();
    let err = default_algorithm(&instance).unwrap_err();
    assert!(
        matches!(&err, PluginError::Panic { message, .. } if message.contains("deliberate panic in call")),
        "{err}"
    );
    assert_eq!(default_algorithm(&instance).unwrap(), "after-panic");
}

#[test]
fn errors_and_malformed_results_are_reported() {
    let instance = testing_instance("error-on-call").unwrap();
    let err = default_algorithm(&instance).unwrap_err();
    assert_eq!(
        err.to_string(),
        "testing plugin: deliberate error in defaultAlgorithm"
    );
    let instance = testing_instance("bad-result").unwrap();
    let err = default_algorithm(&instance).unwrap_err();
    assert!(
        err.to_string()
            .contains("malformed result for defaultAlgorithm"),
        "{err}"
    );
    let instance = testing_instance("ok").unwrap();
    let err = instance.call(&Request::new(Method::PublicKey)).unwrap_err();
    assert!(
        err.to_string().contains("publicKey is not supported"),
        "{err}"
    );
}

#[test]
fn one_instance_serves_many_threads() {
    let instance = testing_instance("ok").unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    assert!(default_algorithm(&instance).unwrap().starts_with("call-"));
                }
            });
        }
    });
    // 400 calls were counted by the plugin: the next one is number 400.
    assert_eq!(default_algorithm(&instance).unwrap(), "call-400");
}

/// Copies the testing plugin to a fresh path so the dynamic loader opens it anew (and runs its
/// entry point again, reading `SIGMIRROR_TESTING_ABI` at that moment).
fn fresh_copy(dir: &TestDir, name: &str) -> PathBuf {
    let path = dir.join(format!("libsigmirror_signer_{name}.so"));
    std::fs::copy(plugin_path("testing"), &path).unwrap();
    path
}

/// Runs inside a child process (see `broken_handshakes_are_refused`), because the handshake
/// mode is an environment variable and changing the environment of a multi-threaded test
/// process is unsound.
#[test]
fn handshake_child() {
    let Ok(expect) = std::env::var("SIGMIRROR_TESTING_EXPECT") else {
        return;
    };
    let dir = TestDir::new();
    let err = Plugin::load(&fresh_copy(&dir, "child")).expect_err("must be refused");
    let text = err.to_string();
    match expect.as_str() {
        "null" => assert!(
            matches!(
                err,
                PluginError::AbiMismatch {
                    plugin_abi: None,
                    ..
                }
            ),
            "{text}"
        ),
        "wrong" => {
            assert!(
                matches!(
                    err,
                    PluginError::AbiMismatch {
                        plugin_abi: Some(999),
                        ..
                    }
                ),
                "{text}"
            );
            assert!(text.contains("speaks ABI version 999"), "{text}");
        }
        "small" => assert!(matches!(err, PluginError::BadTable { .. }), "{text}"),
        other => panic!("unknown expectation {other}"),
    }
}

#[test]
fn broken_handshakes_are_refused() {
    for mode in ["null", "wrong", "small"] {
        let out = run(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "loader::handshake_child", "--nocapture"])
                .env("SIGMIRROR_TESTING_ABI", mode)
                .env("SIGMIRROR_TESTING_EXPECT", mode),
            None,
        );
        assert_eq!(
            out.code,
            0,
            "mode {mode}: {}\n{}",
            out.stderr,
            out.stdout_text()
        );
        assert!(
            out.stdout_text().contains("1 passed"),
            "mode {mode} ran: {}",
            out.stdout_text()
        );
    }
}

/// A real ELF shared library that lacks the entry symbol, built with the system C compiler.
fn library_without_entry(dir: &Path) -> PathBuf {
    let src = dir.join("nosym.c");
    std::fs::write(&src, "int not_a_sigmirror_plugin = 1;\n").unwrap();
    let lib = dir.join("libsigmirror_signer_nosym.so");
    run(
        Command::new(tool("gcc"))
            .args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(&src),
        None,
    )
    .ok();
    lib
}

#[test]
fn libraries_without_entry_or_not_libraries_at_all_are_refused() {
    let dir = TestDir::new();
    let lib = library_without_entry(dir.path());
    let err = Plugin::load(&lib).unwrap_err();
    assert!(matches!(err, PluginError::NoEntry { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no symbol sigmirror_signer_entry_v1"),
        "{err}"
    );
    let text = dir.write("libsigmirror_signer_text.so", "not ELF");
    let err = Plugin::load(&text).unwrap_err();
    assert!(matches!(err, PluginError::Open { .. }), "{err}");
}

#[test]
fn discovery_reports_failures_first_name_wins_and_selects_by_scheme() {
    let first = TestDir::new();
    let second = TestDir::new();
    std::fs::copy(
        plugin_path("file"),
        first.join("libsigmirror_signer_file.so"),
    )
    .unwrap();
    std::fs::copy(
        plugin_path("file"),
        second.join("libsigmirror_signer_file.so"),
    )
    .unwrap();
    fresh_copy(&second, "testing");
    library_without_entry(second.path());
    second.write("unrelated.so", "ignored: not named like a plugin");
    let found = Discovery::search(&[
        first.path().to_path_buf(),
        second.path().to_path_buf(),
        "/nonexistent".into(),
    ]);
    let names: Vec<&str> = found.plugins.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["file", "testing"]);
    assert!(
        found.plugins[0].path().starts_with(first.path()),
        "first folder wins"
    );
    assert_eq!(found.shadowed.len(), 1);
    assert_eq!(found.failures.len(), 1, "{:?}", found.failures);
    let key = sigmirror_cosign::keyref::KeyRef::parse("cosign.key").unwrap();
    assert_eq!(found.for_key(&key).unwrap().name(), "file");
    let env_key = sigmirror_cosign::keyref::KeyRef::parse("env://X").unwrap();
    assert_eq!(found.for_key(&env_key).unwrap().name(), "file");
    let missing = sigmirror_cosign::keyref::KeyRef::parse("awskms:///alias/x").unwrap();
    let err = found.for_key(&missing).unwrap_err().to_string();
    assert!(
        err.contains("awskms") && err.contains(&first.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn plugins_others_could_change_are_refused_by_name() {
    use std::os::unix::fs::PermissionsExt;
    let refused = |dirs: &[PathBuf]| {
        let found = Discovery::search(dirs);
        assert!(found.plugins.is_empty(), "loaded {:?}", found.plugins.len());
        found
            .failures
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    // A file every user can write.
    let dir = TestDir::new();
    let file = fresh_copy(&dir, "writable");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let why = refused(&[dir.path().to_path_buf()]);
    assert!(
        why.contains(&file.display().to_string()) && why.contains("writable by every user"),
        "{why}"
    );
    // A folder every user can write.
    let dir = TestDir::new();
    fresh_copy(&dir, "infolder");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let why = refused(&[dir.path().to_path_buf()]);
    assert!(why.contains("writable by every user"), "{why}");
    // A file owned by another user.
    let dir = TestDir::new();
    let file = fresh_copy(&dir, "foreign");
    run(Command::new("chown").arg("4321").arg(&file), None).ok();
    let why = refused(&[dir.path().to_path_buf()]);
    assert!(why.contains("owned by another user (uid 4321)"), "{why}");
    // A relative folder (it would depend on where the command runs): `tests` exists in the
    // folder cargo runs this test in.
    let why = refused(&[PathBuf::from("tests")]);
    assert!(why.contains("relative path"), "{why}");
}
