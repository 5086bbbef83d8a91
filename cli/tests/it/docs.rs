//! The guides in docs/ are run: every transcript (`$ command` followed by what it printed) is
//! replayed in one shell per guide, and what the command prints now must be what the guide
//! shows, so a guide cannot drift from the tool (issue: "The mirror tells the truth").
//!
//! A guide states the world its examples ran in with directives in HTML comments, invisible when
//! the Markdown is rendered:
//!
//! - `<!-- doc-test: registry ADDR -->` starts a registry that the guide calls `ADDR`;
//! - `<!-- doc-test: image REF [index] [seed=S] -->` pushes an image (an index of linux/amd64
//!   and linux/arm64 with `index`) to a registry started that way, its content made from `S`
//!   (default: the last part of REF), so the same seed gives the same digests;
//! - `<!-- doc-test: port ADDR -->` maps `ADDR` to a free loopback port (for a server the guide
//!   starts);
//! - `<!-- doc-test: stop ADDR -->` stops it (a source registry gone);
//! - `<!-- doc-test: keyless-image REF -->` pushes an image and signs it keyless with a private
//!   Sigstore instance (`tests/peers/private_sigstore.py`), as `sigmirror_tests` signs for the
//!   keyless tests; `<!-- doc-test: keyless-blob FILE BUNDLE ROOT -->` writes FILE, signs it so
//!   into the Sigstore bundle BUNDLE and saves the instance's trusted root as ROOT;
//!   `<!-- doc-test: tuf-repository URL ROOT -->` publishes that instance's
//!   trusted root in a TUF repository the guide calls `URL`, its first root saved as `ROOT`;
//! - `<!-- doc-test: trickle ADDR -->` starts a registry that sends manifests one byte at a time;
//! - `<!-- doc-test: path DOC-PATH -->` maps an absolute path of the guide (`/mnt/sigs`) into
//!   the test's folder (created; anything mounted there is unmounted when the guide ends);
//! - `<!-- doc-test: home DOC-PATH -->` maps the guide's home folder to the shell's (the
//!   test's folder);
//! - `<!-- doc-test: name DOC-TEXT WORK-PATH -->` maps a path the guide shows (`/var/tmp/x`)
//!   to one under the test's folder;
//! - `<!-- doc-test: run COMMAND -->` runs a setup command the reader need not see (it must
//!   succeed);
//! - `<!-- doc-test: skip REASON -->` leaves out the next transcript line (say why: a cloud
//!   service that cannot run here).
//!
//! Outputs are compared line by line after the parts that differ between runs are masked: hex
//! digests and other hex runs, base64 text (signatures), and numbers (sizes, times, pids); the
//! lines are compared as a set, for images transferred concurrently report in the order they
//! finish. With
//! `SIGMIRROR_DOCS_UPDATE=1` the guides are rewritten with what the commands print instead, to
//! be reviewed as a diff.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use sigmirror_tests::TestDir;
use sigmirror_tests::fake_registry::{FakeRegistry, Lie};
use sigmirror_tests::private_sigstore::PrivateSigstore;
use sigmirror_tests::registry::TestRegistry;

/// One piece of a guide, in order.
#[derive(Debug)]
enum Piece {
    /// `$ command` (continuation lines joined) and the output shown under it: the lines
    /// between `first` and `end` (0-based, end exclusive).
    Step {
        line: usize,
        command: String,
        first: usize,
        end: usize,
    },
    /// A `doc-test:` directive.
    Directive { line: usize, words: Vec<String> },
}

/// The pieces of a guide.
fn pieces(lines: &[&str]) -> Vec<Piece> {
    let mut out = vec![];
    let mut in_block = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("```") {
            in_block = !in_block;
            i += 1;
            continue;
        }
        if !in_block {
            if let Some(rest) = line.trim().strip_prefix("<!-- doc-test:") {
                let body = rest.trim_end_matches("-->").trim();
                out.push(Piece::Directive {
                    line: i + 1,
                    words: split_directive(body),
                });
            }
            i += 1;
            continue;
        }
        let Some(command) = line.strip_prefix("$ ") else {
            i += 1;
            continue;
        };
        let mut command = command.to_owned();
        let start = i;
        while command.ends_with('\\') && i + 1 < lines.len() {
            i += 1;
            command.push('\n');
            command.push_str(lines[i]);
        }
        let first = i + 1;
        let mut end = first;
        while end < lines.len() && !lines[end].starts_with("$ ") && !lines[end].starts_with("```") {
            end += 1;
        }
        out.push(Piece::Step {
            line: start + 1,
            command,
            first,
            end,
        });
        i = end;
    }
    out
}

/// `registry 127.0.0.1:5077` → words; `run …` and `skip …` keep the rest of the line whole.
fn split_directive(body: &str) -> Vec<String> {
    match body.split_once(' ') {
        Some((verb @ ("run" | "skip"), rest)) => vec![verb.to_owned(), rest.trim().to_owned()],
        _ => body.split_whitespace().map(str::to_owned).collect(),
    }
}

/// A shell that keeps its folder and variables from one command to the next, as a reader's
/// terminal does; stderr is merged into stdout in the order written.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

const END: &str = "<<<doc-test-end";

impl Shell {
    fn start(dir: &Path, path: &str) -> Shell {
        let mut child = Command::new("bash")
            .args(["--norc", "--noprofile"])
            .current_dir(dir)
            .env("PATH", path)
            .env("HOME", dir)
            .env("SIGMIRROR_PLUGIN_PATH", sigmirror_tests::plugin_dir())
            .env_remove("COSIGN_PASSWORD")
            .env_remove("SIGMIRROR_STORE")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bash");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        writeln!(stdin, "exec 2>&1").expect("write to bash");
        Shell {
            child,
            stdin,
            stdout,
        }
    }

    /// Runs `command`; returns its exit status and its output lines.
    fn run(&mut self, command: &str) -> (i32, Vec<String>) {
        // stdin is the shell's command stream: a command reads /dev/null unless it says
        // otherwise (`printf pw | …`), so a prompt cannot swallow the next commands.
        writeln!(
            self.stdin,
            "{{ {command}\n}} </dev/null\n__s=$?; printf '\\n{END} %d\\n' \"$__s\""
        )
        .expect("write to bash");
        self.stdin.flush().expect("flush");
        let mut lines = vec![];
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("read bash output");
            assert!(n > 0, "bash ended during {command:?}: {lines:?}");
            let line = line.trim_end_matches('\n').to_owned();
            if let Some(status) = line.strip_prefix(END) {
                // The marker's leading newline ends the command's last line, or is a line of
                // its own when the command ended with one.
                if lines.last().is_some_and(String::is_empty) {
                    lines.pop();
                }
                return (status.trim().parse().expect("status"), lines);
            }
            lines.push(line);
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a guide's examples ran against, and how its names map to this run's.
struct World {
    dir: TestDir,
    /// Registries by the address the guide gives them.
    registries: Vec<(String, TestRegistry)>,
    fakes: Vec<FakeRegistry>,
    /// The private Sigstore instance keyless images are signed with, made on first need.
    sigstore: Option<PrivateSigstore>,
    /// TUF repositories publishing its trusted root.
    tuf: Vec<crate::tuf::Repo>,
    /// `(as the guide writes it, as this run has it)`, longest first when applied.
    names: Vec<(String, String)>,
}

impl World {
    fn new() -> World {
        World {
            dir: TestDir::new(),
            registries: vec![],
            fakes: vec![],
            sigstore: None,
            tuf: vec![],
            names: vec![],
        }
    }

    fn map(&mut self, doc: &str, actual: &str) {
        self.names.retain(|(d, _)| d != doc);
        self.names.push((doc.to_owned(), actual.to_owned()));
        self.names
            .sort_by_key(|(d, a)| std::cmp::Reverse(d.len().max(a.len())));
    }

    /// The guide's text with this run's names.
    fn to_actual(&self, text: &str) -> String {
        self.names
            .iter()
            .fold(text.to_owned(), |t, (doc, actual)| t.replace(doc, actual))
    }

    /// This run's text with the guide's names.
    fn to_doc(&self, text: &str) -> String {
        let mut by_actual = self.names.clone();
        by_actual.sort_by_key(|(_, a)| std::cmp::Reverse(a.len()));
        by_actual
            .iter()
            .fold(text.to_owned(), |t, (doc, actual)| t.replace(actual, doc))
    }

    /// Lazily unmounts whatever a guide left mounted under its mapped paths (a stale mount
    /// included), so the test's folder can be removed.
    fn unmount_all(&self) {
        for (doc, actual) in &self.names {
            if doc.starts_with('/') && Path::new(actual).starts_with(self.dir.path()) {
                let _ = Command::new("umount")
                    .args(["-l", actual])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    fn directive(&mut self, shell: &mut Shell, doc: &str, line: usize, words: &[String]) {
        let at = format!("{doc}:{line}");
        match words
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["registry", addr] => {
                let registry = TestRegistry::start();
                self.map(addr, registry.addr());
                // As `serve` names its repositories.
                self.map(
                    &addr.replacen(':', "-", 1),
                    &registry.addr().replacen(':', "-", 1),
                );
                self.registries.push(((*addr).to_owned(), registry));
            }
            ["port", addr] => {
                let free = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port");
                self.map(addr, &free.to_string());
            }
            ["stop", addr] => {
                let (_, registry) = self
                    .registries
                    .iter_mut()
                    .find(|(doc, _)| doc == addr)
                    .unwrap_or_else(|| panic!("{at}: no registry {addr}"));
                registry.stop();
            }
            ["trickle", addr] => {
                let fake = FakeRegistry::start(Lie::Trickle);
                let actual = fake.image();
                let host = actual.split('/').next().expect("host").to_owned();
                self.map(addr, &host);
                self.fakes.push(fake);
            }
            ["image", reference, options @ ..] => {
                let actual = self.to_actual(reference);
                // The content is made from the seed: the same seed, the same digests.
                let seed = options
                    .iter()
                    .find_map(|o| o.strip_prefix("seed="))
                    .unwrap_or_else(|| reference.rsplit('/').next().expect("name"));
                if options.contains(&"index") {
                    sigmirror_tests::oci::push_index(&actual, seed);
                } else {
                    sigmirror_tests::oci::push_image(&actual, seed);
                }
            }
            ["home", doc_path] => {
                let home = self.dir.path().to_str().expect("UTF-8 path").to_owned();
                self.map(doc_path, &home);
            }
            ["name", doc_text, work_path] => {
                let actual = self.dir.join(work_path);
                self.map(doc_text, actual.to_str().expect("UTF-8 path"));
            }
            ["keyless-image", reference] => {
                let actual = self.to_actual(reference);
                let seed = reference.rsplit('/').next().expect("name");
                let digest = sigmirror_tests::oci::push_image(&actual, seed);
                let repo = actual.rsplit_once(':').expect("a tag").0.to_owned();
                let sigstore = self.sigstore.get_or_insert_with(PrivateSigstore::init);
                crate::keyless::sign_image(sigstore, &self.dir, &actual, &repo, &digest, &[]);
            }
            ["keyless-blob", file, bundle, root] => {
                let sigstore = self.sigstore.get_or_insert_with(PrivateSigstore::init);
                let input = self.dir.write(file, format!("{file}\n"));
                let out = self.dir.join(bundle);
                sigstore.sign(
                    "sign-blob",
                    &input,
                    &["--out", out.to_str().expect("UTF-8")],
                );
                std::fs::copy(sigstore.trusted_root(), self.dir.join(root)).expect("copy root");
            }
            ["tuf-repository", url, pinned_root] => {
                let sigstore = self.sigstore.get_or_insert_with(PrivateSigstore::init);
                let repo = crate::tuf::new_repo(&sigstore.trusted_root());
                std::fs::copy(repo.root(), self.dir.join(pinned_root)).expect("copy the root");
                let actual = repo.server.url();
                self.map(url, actual.trim_end_matches('/'));
                self.tuf.push(repo);
            }
            ["path", doc_path] => {
                let actual = self.dir.join(doc_path.trim_start_matches('/'));
                std::fs::create_dir_all(&actual).expect("create mapped path");
                self.map(doc_path, actual.to_str().expect("UTF-8 path"));
            }
            ["run", command] => {
                let command = self.to_actual(command);
                let (status, output) = shell.run(&command);
                assert_eq!(status, 0, "{at}: setup {command:?} failed: {output:#?}");
            }
            ["skip", _reason] => {}
            other => panic!("{at}: unknown doc-test directive {other:?}"),
        }
    }
}

/// Whatever a guide mounted is unmounted, also when a step failed.
impl Drop for World {
    fn drop(&mut self) {
        self.unmount_all();
    }
}

/// A line with what varies between runs masked: hex runs of 12 or more, base64 text of 40 or
/// more, and numbers. Trailing spaces are dropped.
fn mask(line: &str) -> String {
    let mut out = String::new();
    let line = mask_times(line);
    let chars: Vec<char> = line.trim_end().chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let word_end = |pred: &dyn Fn(char) -> bool| {
            let mut j = i;
            while j < chars.len() && pred(chars[j]) {
                j += 1;
            }
            j
        };
        let b64 = word_end(&|c: char| c.is_ascii_alphanumeric() || "+/=".contains(c));
        let hex = word_end(&|c: char| c.is_ascii_hexdigit());
        let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if starts_word
            && hex - i >= 12
            && (hex == chars.len() || !chars[hex].is_ascii_alphanumeric())
        {
            out.push_str("<hex>");
            i = hex;
        } else if starts_word && b64 - i >= 40 {
            out.push_str("<base64>");
            i = b64;
        } else if starts_word && chars[i].is_ascii_digit() {
            out.push('N');
            i = word_end(&|c: char| c.is_ascii_digit() || c == '.');
        } else if chars[i].is_ascii_alphanumeric() {
            // The rest of a word whose start is kept (`sha256`, `v1`).
            let end = word_end(&|c: char| c.is_ascii_alphanumeric());
            out.extend(&chars[i..end]);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// RFC 3339 times (`2026-12-01T00:48:07Z`, fractions and offsets too) replaced by `<time>`:
/// the hour follows a `T`, so the number masking, which starts at word boundaries, would not
/// reach it.
fn mask_times(line: &str) -> String {
    let b = line.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let fits = |at: usize| {
        b.len() >= at + shape.len()
            && shape.iter().enumerate().all(|(k, &c)| match c {
                b'd' => b[at + k].is_ascii_digit(),
                other => b[at + k] == other,
            })
    };
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if fits(i) {
            let mut end = i + shape.len();
            while end < b.len() && (b[end].is_ascii_digit() || b"+-:.Z".contains(&b[end])) {
                end += 1;
            }
            out.push_str("<time>");
            i = end;
        } else {
            let c = line[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Whether a guide shows this output for a command that fails.
fn shows_failure(shown: &[&str]) -> bool {
    shown.iter().any(|l| l.starts_with("Error: "))
}

/// Replays the guide `name` (under docs/); with `SIGMIRROR_DOCS_UPDATE=1` rewrites it with what
/// the commands print.
fn replay(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("read the guide");
    let lines: Vec<&str> = text.lines().collect();
    let mut world = World::new();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sigmirror"));
    let path_var = format!(
        "{}:{}",
        bin.parent().expect("bin folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut shell = Shell::start(world.dir.path(), &path_var);
    let update = std::env::var_os("SIGMIRROR_DOCS_UPDATE").is_some();
    let mut rewritten: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    // Replacement of shown output, applied from the end so line numbers stay valid.
    let mut replacements: Vec<(usize, usize, Vec<String>)> = vec![];
    let mut failures = vec![];
    let mut skip_next = false;
    let mut ran = 0;
    for piece in pieces(&lines) {
        match piece {
            Piece::Directive { line, words } => {
                skip_next = words.first().is_some_and(|w| w == "skip");
                world.directive(&mut shell, name, line, &words);
            }
            Piece::Step {
                line,
                command,
                first,
                end,
            } => {
                if std::mem::take(&mut skip_next) {
                    continue;
                }
                ran += 1;
                // A comment after the command is the reader's, not the shell's.
                let (status, output) = shell.run(&world.to_actual(&command));
                let output: Vec<String> = output.iter().map(|l| world.to_doc(l)).collect();
                let shown: Vec<&str> = lines[first..end]
                    .iter()
                    .copied()
                    .filter(|l| !l.trim().is_empty())
                    .collect();
                let printed: Vec<&String> =
                    output.iter().filter(|l| !l.trim().is_empty()).collect();
                // Sorted: images transferred concurrently report in the order they finish.
                let masked = |lines: &mut dyn Iterator<Item = &str>| {
                    let mut m: Vec<String> = lines.map(mask).collect();
                    m.sort();
                    m
                };
                let same = masked(&mut shown.iter().copied())
                    == masked(&mut printed.iter().map(|l| l.as_str()));
                let status_ok = (status != 0) == shows_failure(&shown);
                if update && !same {
                    // Keep the guide's blank lines only where the output has them.
                    replacements.push((first, end, output.clone()));
                } else if !same || !status_ok {
                    failures.push(format!(
                        "{name}:{line}: $ {command}\n  exit status {status} (the guide shows {})\n  \
                         the guide shows:\n{}\n  it printed:\n{}",
                        if shows_failure(&shown) { "a failure" } else { "success" },
                        shown.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"),
                        printed.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"),
                    ));
                }
                let printed_failure = printed.iter().any(|l| l.starts_with("Error: "));
                if update && (status != 0) != printed_failure {
                    failures.push(format!(
                        "{name}:{line}: $ {command}: exit status {status}: {output:#?}"
                    ));
                }
            }
        }
    }
    drop(shell);
    assert!(ran > 0, "{name} has no transcript to run");
    if update && !replacements.is_empty() {
        for (first, end, output) in replacements.into_iter().rev() {
            rewritten.splice(first..end, output);
        }
        let mut new_text = rewritten.join("\n");
        new_text.push('\n');
        std::fs::write(&path, new_text).expect("rewrite the guide");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn masking_hides_what_varies_between_runs_and_nothing_else() {
    assert_eq!(
        mask("pulled 2 image(s): 10 manifest(s), 4.2 KiB written, in 0.22 s  "),
        "pulled N image(s): N manifest(s), N KiB written, in N s"
    );
    assert_eq!(
        mask(
            "127.0.0.1:5077/team/app:sha256-42e42d8fd442b1ff851b62f6af67778202ffc61f4bd1734113e3053eafdd10d2.sig"
        ),
        "N:N/team/app:sha256-<hex>.sig"
    );
    assert_eq!(
        mask(
            r#"{"Base64Signature":"MEYCIQDKupQl0Y+AfI7gEpJQC9iiQlJsmolq0X7M1dzHXZvEqQIhAKU5Ut=="}"#
        ),
        r#"{"Base64Signature":"<base64>"}"#
    );
    assert_ne!(
        mask("Error: no signatures"),
        mask("Error: no valid signatures")
    );
    assert_eq!(
        mask("complete\t2026-12-01T01:10:22Z (expires 2026-12-02T00:10:13.5+01:00)"),
        mask("complete\t2025-01-31T23:59:59Z (expires 2025-02-01T09:00:00Z)")
    );
}

#[test]
fn transcripts_are_read_with_their_continuations_and_outputs() {
    let text = "intro\n<!-- doc-test: registry 127.0.0.1:5077 -->\n```\n$ a \\\n  --b\nout 1\n\nout 2\n$ c\n```\n$ not in a block\n";
    let lines: Vec<&str> = text.lines().collect();
    let got = pieces(&lines);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        matches!(&got[0], Piece::Directive { words, .. } if words == &["registry", "127.0.0.1:5077"])
    );
    assert!(
        matches!(&got[1], Piece::Step { command, first: 5, end: 8, .. } if command == "a \\\n  --b")
    );
    assert!(matches!(&got[2], Piece::Step { command, first: 9, end: 9, .. } if command == "c"));
}

#[test]
fn images_guide() {
    replay("images.md");
}

#[test]
fn keys_and_blobs_guide() {
    replay("keys-and-blobs.md");
}

#[test]
fn mirror_guide() {
    replay("mirror.md");
}

#[test]
fn attestations_guide() {
    replay("attestations.md");
}

#[test]
fn fuse_guide() {
    replay("fuse.md");
}

#[test]
fn plugin_abi_guide() {
    replay("plugin-abi.md");
}

/// The `sigmirror` command lines of a guide that are not transcripts: usage forms with
/// placeholders (`IMAGE`, `FILE`), and commands against services that cannot run here (cloud
/// KMS, a public registry). Continuation lines are joined; comments are dropped.
fn usage_lines(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("```") {
            i += 1;
            continue;
        }
        let start = i + 1;
        let end = (start..lines.len())
            .find(|&j| lines[j].starts_with("```"))
            .unwrap_or(lines.len());
        i = end + 1;
        // Transcripts are replayed, outputs and all.
        if lines[start..end].iter().any(|l| l.starts_with("$ ")) {
            continue;
        }
        let mut pending: Option<(usize, String)> = None;
        for (j, line) in lines.iter().enumerate().take(end).skip(start) {
            let line = line.split(" # ").next().unwrap_or_default().trim_end();
            let (first, mut joined) = match pending.take() {
                Some((first, so_far)) => (first, format!("{so_far} {}", line.trim())),
                None => (j + 1, line.trim().to_owned()),
            };
            if joined.ends_with('\\') {
                joined.pop();
                pending = Some((first, joined));
                continue;
            }
            // A command line: `sigmirror …`, after any `VAR=value` words.
            let command = joined
                .split_whitespace()
                .find(|w| !w.contains('=') || w.starts_with('-'));
            if command == Some("sigmirror") {
                out.push((first, joined));
            }
        }
    }
    out
}

/// Every `sigmirror` command line in the guides and the README that is not a transcript names
/// a subcommand that exists and only flags it has (checked against its `--help`): a renamed or
/// removed flag cannot linger in a usage form either. (The transcripts are run above; what
/// these lines do is run by the tests of each capability: kms.rs, pkcs11.rs, k8s.rs,
/// keyless.rs, tuf.rs.)
#[test]
fn usage_forms_name_only_commands_and_flags_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.push(root.join("README.md"));
    let mut problems = vec![];
    let mut checked = 0;
    for guide in guides {
        let text = std::fs::read_to_string(&guide).expect("read guide");
        for (line, command) in usage_lines(&text) {
            let words: Vec<&str> = command.split_whitespace().collect();
            let Some(at) = words.iter().position(|w| *w == "sigmirror") else {
                continue;
            };
            let args: Vec<String> = words[at + 1..]
                .iter()
                .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_owned())
                .collect();
            // The subcommand path: the words before the first flag that are lower-case names.
            let path: Vec<&str> = args
                .iter()
                .take_while(|a| {
                    !a.starts_with('-')
                        && a.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
                .take(3)
                .map(String::as_str)
                .collect();
            let help = std::process::Command::new(env!("CARGO_BIN_EXE_sigmirror"))
                .args(&path)
                .arg("--help")
                .output()
                .expect("run sigmirror --help");
            let where_ = format!("{}:{line}: {command}", guide.display());
            if !help.status.success() {
                problems.push(format!(
                    "{where_}\n  {}",
                    String::from_utf8_lossy(&help.stderr)
                        .lines()
                        .next()
                        .unwrap_or_default()
                ));
                continue;
            }
            let help = String::from_utf8_lossy(&help.stdout).into_owned();
            for arg in &args {
                let flag = arg.split('=').next().unwrap_or_default();
                let known = if let Some(long) = flag.strip_prefix("--") {
                    long.is_empty()
                        || help.contains(&format!("--{long} "))
                        || help.contains(&format!("--{long}\n"))
                        || help.contains(&format!("--{long}["))
                        || help.contains(&format!("--{long}="))
                        || help.contains(&format!("--{long} <"))
                } else if flag.len() == 2 && flag.starts_with('-') {
                    help.contains(&format!("{flag}, "))
                } else {
                    true
                };
                if !known {
                    problems.push(format!("{where_}\n  no flag {flag}"));
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} usage lines found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn air_gap_guide() {
    replay("air-gap.md");
}

#[test]
fn sync_guide() {
    replay("sync.md");
}

#[test]
fn keyless_guide() {
    replay("keyless.md");
}

#[test]
fn serve_guide() {
    replay("serve.md");
}
