//! A throwaway CA and a server certificate for 127.0.0.1 and `localhost` signed by it,
//! made with `openssl` for each test that needs TLS (the SMTP relay's and the SMSC's; the
//! gateway trusts the CA through `tls_ca_file`), and a second CA that vouches for
//! nothing here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway CA and a server certificate for 127.0.0.1 and `localhost` signed by it,
/// and a second CA that vouches for nothing here.
pub struct Certs {
    /// The CA that signed the server's certificate (PEM).
    pub ca: PathBuf,
    /// Another CA.
    pub other_ca: PathBuf,
    /// The server's key and certificate (PEM).
    pub key: PathBuf,
    pub cert: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the TLS tests make their certificates with `openssl`, which must be on PATH");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ca(dir: &Path, name: &str) -> PathBuf {
    let subj = format!("/CN={name}");
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &subj,
            "-keyout",
            &key,
            "-out",
            &pem,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(pem)
}

/// Makes the certificates in a fresh temporary directory.
pub fn certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca_pem = ca(d, "ca");
    let other_ca = ca(d, "other");
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    Certs {
        ca: ca_pem,
        other_ca,
        key: d.join("server.key"),
        cert: d.join("server.pem"),
        _dir: dir,
    }
}
