//! cosign's environment variables for flags (issue: "A true drop-in for cosign", item 1):
//! `COSIGN_<FLAG>` sets any flag; the command line wins.

use sigmirror_tests::run;

use crate::{generate_other_key_pair, setup, sigmirror};

#[test]
fn every_flag_reads_its_cosign_variable_and_the_command_line_wins() {
    let s = setup("env/app");
    generate_other_key_pair(&s.dir);
    let with = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = sigmirror(&s.dir);
        cmd.env("COSIGN_PASSWORD", "pw").args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        run(&mut cmd, None)
    };
    with(&[("COSIGN_KEY", "cosign.key")], &["sign", &s.image]).ok();
    // The real cosign accepts what was signed with the key from the environment.
    s.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &s.image,
    ])
    .ok();
    with(&[("COSIGN_KEY", "cosign.pub")], &["verify", &s.image]).ok();
    with(&[("COSIGN_KEY", "other.pub")], &["verify", &s.image]).fails_with("does not verify");
    with(
        &[("COSIGN_KEY", "other.pub")],
        &["verify", "--key", "cosign.pub", &s.image],
    )
    .ok();
    // Options with values, and booleans.
    s.dir.write("artifact.txt", "release\n");
    with(
        &[
            ("COSIGN_KEY", "cosign.key"),
            ("COSIGN_OUTPUT_SIGNATURE", "artifact.sig"),
        ],
        &["sign-blob", "artifact.txt"],
    )
    .ok();
    assert!(s.dir.join("artifact.sig").is_file());
    with(
        &[
            ("COSIGN_KEY", "cosign.pub"),
            ("COSIGN_SIGNATURE", "artifact.sig"),
        ],
        &["verify-blob", "artifact.txt"],
    )
    .ok();
    with(
        &[("COSIGN_TLOG_UPLOAD", "true"), ("COSIGN_KEY", "cosign.key")],
        &["sign", &s.image],
    )
    .fails_with("tlog");
    // The help says which variable each flag reads.
    let help = with(&[], &["verify", "--help"]).ok().stdout_text();
    assert!(help.contains("[env: COSIGN_KEY=]"), "{help}");
}
