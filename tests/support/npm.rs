//! npm packages the tests run (Prism, Twilio's Node SDK, playwright-core), each pinned
//! and installed once into its own folder under the target's tmp dir; a marker file
//! holding the package spec says the install finished, so a new pin installs again.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether `tool --version` runs.
pub fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The `node_modules` of `<target tmp>/<dir>` holding `package` (`name@version`),
/// installed there if it is not yet; `needed_by` says, when Node.js or npm is missing,
/// which tests need it.
pub fn install(dir: &str, package: &str, needed_by: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let modules = dir.join("node_modules");
    let marker = dir.join(".installed");
    let name = package.rsplit_once('@').map_or(package, |(n, _)| n);
    if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == package)
        && modules.join(name).exists()
    {
        return modules;
    }
    assert!(
        runs("node") && runs("npm"),
        "{needed_by} need Node.js and npm: install nodejs and npm (Debian/Ubuntu: \
         apt-get install -y nodejs npm) and run the tests again; {package} itself is \
         installed from the npm registry on first use."
    );
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .arg(package)
        .stdin(Stdio::null())
        .output()
        .expect("npm could not be run");
    assert!(
        out.status.success() && modules.join(name).exists(),
        "npm install {package} into {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&marker, package).unwrap();
    modules
}
