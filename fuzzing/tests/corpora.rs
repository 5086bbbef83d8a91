//! Replays every kept fuzz input on the stable toolchain: the corpora that `cargo fuzz` grew
//! (minimised), and every input that once crashed a target (`fuzzing/crashes/<target>/`), so
//! a fixed bug stays fixed without nightly.

use std::path::Path;

#[test]
fn every_kept_input_runs_cleanly_through_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ran = 0;
    for (name, target) in sigmirror_fuzzing::TARGETS {
        let mut inputs = 0;
        for folder in ["corpus", "crashes"] {
            let dir = root.join(folder).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("corpus entry").path();
                let data = std::fs::read(&path).expect("corpus file");
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{name}: {} panics", path.display());
                inputs += 1;
            }
        }
        assert!(
            inputs > 0,
            "{name}: no corpus kept in fuzzing/corpus/{name}"
        );
        ran += inputs;
    }
    eprintln!("{ran} kept inputs replayed");
}
