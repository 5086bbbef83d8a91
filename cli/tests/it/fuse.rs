//! The mirror as a real FUSE mount (CI runs as root with /dev/fuse): the tree, exact contents
//! and sizes, symlinks, verification files, EROFS, hostile names, live updates, signals and
//! stale mounts.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sigmirror_tests::oci::{push_image, push_index};
use sigmirror_tests::registry::TestRegistry;
use sigmirror_tests::{Run, TestDir, run};

use crate::{generate_key_pair, sigmirror};

pub(crate) struct Mounted {
    child: Option<Child>,
    point: PathBuf,
}

fn mounted(point: &Path) -> bool {
    let wanted = point.canonicalize().unwrap_or(point.to_path_buf());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(wanted.to_str().unwrap()))
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Mounted {
    /// `sigmirror mount --foreground` as a child, until the mount is there.
    pub(crate) fn start(dir: &TestDir, point: &Path) -> Mounted {
        std::fs::create_dir_all(point).unwrap();
        let child = sigmirror(dir)
            .args(["mount", "--foreground"])
            .arg(point)
            .env("SIGMIRROR_STORE", dir.join("store"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the mount", || mounted(point));
        Mounted {
            child: Some(child),
            point: point.to_path_buf(),
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        run(
            Command::new("kill").args(["-TERM", &child.id().to_string()]),
            None,
        )
        .ok();
        let status = child.wait().unwrap();
        wait_for("the unmount", || !mounted(&self.point));
        status
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if mounted(&self.point) {
            let _ = Command::new("umount").arg("-l").arg(&self.point).status();
        }
    }
}

struct Setup {
    reg: TestRegistry,
    dir: TestDir,
    image: String,
    index: String,
    children: Vec<String>,
}

impl Setup {
    fn sm(&self, args: &[&str]) -> Run {
        run(
            sigmirror(&self.dir)
                .args(args)
                .env("COSIGN_PASSWORD", "pw")
                .env("SIGMIRROR_STORE", self.dir.join("store")),
            None,
        )
    }
}

fn setup() -> Setup {
    let reg = TestRegistry::start();
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    crate::generate_other_key_pair(&dir);
    let image = format!("{}:v1", reg.image("team/app"));
    let (index, children) = push_index(&image, "fuse");
    let s = Setup {
        reg,
        dir,
        image,
        index,
        children,
    };
    s.sm(&["sign", "--key", "cosign.key", "-a", "env=prod", &s.image])
        .ok();
    s.dir.write("pred.json", r#"{"buildType":"fuse-test"}"#);
    s.sm(&crate::attest_args(&s.image)).ok();
    s.sm(&["pull", &s.image]).ok();
    s.sm(&["trust", "add", "cosign.pub", "--name", "ops"]).ok();
    s.sm(&["trust", "add", "other.pub", "--name", "other"]).ok();
    s
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn the_view_shows_exact_content_and_verification() {
    let s = setup();
    let point = s.dir.join("mnt");
    let mut m = Mounted::start(&s.dir, &point);
    let repo = point.join(s.reg.addr()).join("team/app");
    // Tags are symlinks to digest folders.
    let tag = repo.join("_tags/v1");
    assert_eq!(
        std::fs::read_link(&tag).unwrap(),
        PathBuf::from(format!("../_digests/{}", s.index))
    );
    // The manifest is byte for byte what the registry serves.
    let served =
        sigmirror_tests::http_get(&format!("http://{}/v2/team/app/manifests/v1", s.reg.addr()));
    assert_eq!(std::fs::read(tag.join("manifest.json")).unwrap(), served);
    // Platforms of the index link to the children.
    let platform = tag.join("platforms/linux-amd64");
    assert_eq!(
        std::fs::read_link(&platform).unwrap(),
        PathBuf::from(format!("../../{}", s.children[0]))
    );
    assert!(platform.join("manifest.json").is_file());
    // The payload is exactly the signed bytes.
    let payload = std::fs::read(tag.join("signatures/1/payload.json")).unwrap();
    let generated = s
        .sm(&["generate", "--offline", "-a", "env=prod", &s.image])
        .ok()
        .stdout;
    assert_eq!(payload, generated);
    let signature = std::fs::read_to_string(tag.join("signatures/1/signature")).unwrap();
    s.dir.write("payload.json", &payload);
    s.sm(&[
        "verify-blob",
        "--key",
        "cosign.pub",
        "--signature",
        &signature,
        "payload.json",
    ])
    .ok();
    let ann: Value =
        serde_json::from_slice(&std::fs::read(tag.join("signatures/1/annotations.json")).unwrap())
            .unwrap();
    assert_eq!(
        ann["dev.cosignproject.cosign/signature"],
        signature.as_str()
    );
    // The statement is the decoded DSSE payload.
    let envelope: Value =
        serde_json::from_slice(&std::fs::read(tag.join("attestations/1/envelope.json")).unwrap())
            .unwrap();
    let decoded =
        sigmirror_cosign::b64::decode_lenient(envelope["payload"].as_str().unwrap().as_bytes())
            .unwrap();
    assert_eq!(
        std::fs::read(tag.join("attestations/1/statement.json")).unwrap(),
        decoded
    );
    assert_eq!(
        std::fs::read_to_string(tag.join("attestations/1/predicate-type"))
            .unwrap()
            .trim(),
        "https://example.com/t/v1"
    );
    let predicate: Value =
        serde_json::from_slice(&std::fs::read(tag.join("attestations/1/predicate.json")).unwrap())
            .unwrap();
    assert_eq!(predicate["buildType"], "fuse-test");
    // verified/<key> for the key that signed, not for the other one.
    assert!(tag.join("verified/ops").exists());
    assert!(!tag.join("verified/other").exists());
    let report: Value =
        serde_json::from_slice(&std::fs::read(tag.join("verification.json")).unwrap()).unwrap();
    assert_eq!(report["verifiedBy"], serde_json::json!(["ops"]));
    assert_eq!(report["signatures"][0]["keys"]["other"]["verified"], false);
    // The unsigned child verifies with no key.
    assert!(
        std::fs::read_dir(platform.join("verified"))
            .unwrap()
            .next()
            .is_none()
    );
    // Every file's size in stat is exact; permissions are read-only.
    let mut files = vec![];
    walk(&point, &mut files);
    assert!(files.len() > 20, "{} files", files.len());
    for f in &files {
        let meta = std::fs::symlink_metadata(f).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        assert_eq!(
            meta.len(),
            std::fs::read(f).unwrap().len() as u64,
            "{}",
            f.display()
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o444, "{}", f.display());
    }
    assert_eq!(
        std::fs::metadata(&repo).unwrap().permissions().mode() & 0o777,
        0o555
    );
    // Raw blobs.
    let hex = s.index.trim_start_matches("sha256:");
    assert_eq!(
        std::fs::read(point.join("_blobs/sha256").join(hex)).unwrap(),
        served
    );
    assert!(m.terminate().success());
}

#[test]
fn writes_are_refused_with_erofs() {
    let s = setup();
    let point = s.dir.join("mnt");
    let _m = Mounted::start(&s.dir, &point);
    let tag = point.join(s.reg.addr()).join("team/app/_tags/v1");
    let erofs =
        |r: std::io::Result<()>| assert_eq!(r.unwrap_err().raw_os_error(), Some(30), "EROFS");
    erofs(std::fs::write(tag.join("new-file"), "x"));
    erofs(
        std::fs::OpenOptions::new()
            .write(true)
            .open(tag.join("manifest.json"))
            .map(|_| ()),
    );
    erofs(std::fs::remove_file(tag.join("manifest.json")));
    erofs(std::fs::rename(
        tag.join("manifest.json"),
        tag.join("renamed"),
    ));
    erofs(std::fs::create_dir(tag.join("dir")));
    erofs(std::fs::set_permissions(
        tag.join("manifest.json"),
        std::fs::Permissions::from_mode(0o777),
    ));
    erofs(std::os::unix::fs::symlink("/etc/passwd", tag.join("link")));
}

#[test]
fn tampered_signatures_do_not_count_and_hostile_names_stay_inside() {
    let s = setup();
    // A second image with only a tampered signature.
    let forged = format!("{}:v1", s.reg.image("team/forged"));
    push_image(&forged, "forged");
    let payload = s.sm(&["generate", &forged]).ok().stdout;
    s.dir.write("p.json", &payload);
    let sig = s
        .sm(&["sign-blob", "--key", "cosign.key", "p.json"])
        .ok()
        .stdout_text();
    let mut raw = sigmirror_cosign::b64::decode_lenient(sig.trim().as_bytes()).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    s.dir.write("bad.sig", sigmirror_cosign::b64::encode(&raw));
    s.sm(&[
        "attach",
        "signature",
        "--payload",
        "p.json",
        "--signature",
        "bad.sig",
        &forged,
    ])
    .ok();
    // An index whose platform fields try to escape the folder.
    let hostile_index = format!("{}:v1", s.reg.image("team/hostile"));
    sigmirror_tests::oci::push_index_with_platform(
        &hostile_index,
        "hostile",
        "../../../etc",
        "x/../../y",
    );
    s.sm(&["pull", &forged, &hostile_index]).ok();

    let point = s.dir.join("mnt");
    let _m = Mounted::start(&s.dir, &point);
    let forged_tag = point.join(s.reg.addr()).join("team/forged/_tags/v1");
    assert!(forged_tag.join("signatures/1/payload.json").is_file());
    assert!(
        !forged_tag.join("verified/ops").exists(),
        "a tampered signature must not verify"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(forged_tag.join("verification.json")).unwrap())
            .unwrap();
    let reason = report["signatures"][0]["keys"]["ops"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("invalid signature"), "{reason}");
    // Every name in the hostile index's folder is a plain name, and nothing points outside
    // the mount.
    let platforms = point
        .join(s.reg.addr())
        .join("team/hostile/_tags/v1/platforms");
    for entry in std::fs::read_dir(&platforms).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains('/') && name != ".." && name != ".",
            "{name:?}"
        );
        let target = std::fs::canonicalize(entry.path()).unwrap();
        assert!(
            target.starts_with(point.canonicalize().unwrap()),
            "{} escapes",
            target.display()
        );
    }
}

#[test]
fn pulls_show_up_while_mounted_and_sigterm_unmounts() {
    let s = setup();
    let point = s.dir.join("mnt");
    let mut m = Mounted::start(&s.dir, &point);
    let later = format!("{}:v2", s.reg.image("team/later"));
    push_image(&later, "later");
    s.sm(&["sign", "--key", "cosign.key", &later]).ok();
    s.sm(&["pull", &later]).ok();
    let tag = point.join(s.reg.addr()).join("team/later/_tags/v2");
    wait_for("the new pull in the view", || {
        tag.join("verified/ops").exists()
    });
    // A trust change shows up as well.
    s.sm(&["trust", "rm", "ops"]).ok();
    wait_for("the trust change", || {
        !tag.join("verified/ops").exists() && tag.join("manifest.json").exists()
    });
    assert!(m.terminate().success());
}

#[test]
fn a_stale_mount_is_detected_with_a_clear_message() {
    let s = setup();
    let point = s.dir.join("mnt");
    let mut m = Mounted::start(&s.dir, &point);
    // kill -9: the kernel keeps the mount, with nobody serving it.
    let mut child = m.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let err = std::fs::metadata(point.join(s.reg.addr())).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(107), "ENOTCONN");
    let out = s.sm(&["mount", "--foreground", point.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("stale mount") && out.stderr.contains("umount -l"),
        "{}",
        out.stderr
    );
    run(Command::new("umount").arg("-l").arg(&point), None).ok();
    // Cleared: mounting works again (detached this time), and `umount` ends it.
    s.sm(&["mount", point.to_str().unwrap()]).ok();
    assert!(point.join(s.reg.addr()).is_dir());
    run(Command::new("umount").arg(&point), None).ok();
    wait_for("the unmount", || !mounted(&point));
    // The detached server notices and exits, even right after mounting.
    wait_for("the detached mount process to exit", || {
        serving_processes(&point) == 0
    });
}

/// Processes whose command line names `point` (the mount servers for it).
fn serving_processes(point: &Path) -> usize {
    let needle = point.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmd| {
            let text = String::from_utf8_lossy(cmd).replace('\0', " ");
            text.contains("mount --foreground") && text.contains(&needle)
        })
        .count()
}
