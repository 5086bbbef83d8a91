//! Test certificates made with openssl: a CA, and a server and a client certificate it signs.
//! Files in the given folder: `ca.crt`, `ca.key`, `server.crt`, `server.key` (for IP
//! 127.0.0.1), `client.crt`, `client.key`.

use std::path::Path;
use std::process::Command;

use crate::{run, tool};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
pub fn make_certs(dir: &Path) {
    let openssl = |args: &[&str]| {
        run(
            Command::new(tool("openssl")).current_dir(dir).args(args),
            None,
        )
        .ok();
    };
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n")
        .expect("write openssl extension file");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n")
        .expect("write openssl extension file");
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ca.key",
    ]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        "/CN=test-ca",
        "-days",
        "1",
        "-out",
        "ca.crt",
    ]);
    for who in ["server", "client"] {
        let key = format!("{who}.key");
        let csr = format!("{who}.csr");
        let crt = format!("{who}.crt");
        let ext = format!("{who}.ext");
        openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key,
        ]);
        openssl(&[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN={who}"),
            "-out",
            &csr,
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ]);
    }
}
