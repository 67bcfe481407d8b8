//! Python tools from PyPI for the tests: a virtualenv per tool under the target
//! directory, installed with a pinned requirement on first use and reused afterwards.
//! Used by the schema run (`tests/schema.rs`), the local Amazon SNS
//! (`tests/conformance/moto.rs`) and the email tests' SMTP server (`tests/email/`).
//!
//! Needs `python3` with `venv` (Debian: `python3-venv`) and PyPI on the first run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The python of the virtualenv `name` under the target directory, installing
/// `requirement` into a fresh one first if there is none yet. The venv is built under a
/// temporary name and renamed into place, so an interrupted install is never mistaken
/// for a finished one. A venv's console scripts keep the temporary path in their `#!`
/// line: run them as `python <venv>/bin/<script>`.
pub fn python(name: &str, requirement: &str) -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let py = dir.join("bin").join("python");
    if py.exists() {
        return Ok(py);
    }
    let probe = Command::new("python3")
        .arg("-c")
        .arg("import venv, ensurepip")
        .output();
    match probe {
        Err(e) => {
            return Err(format!(
            "python3 is needed to install {requirement} and was not found ({e}); install python3"
        ))
        }
        Ok(o) if !o.status.success() => {
            return Err(format!(
                "python3 cannot make virtualenvs (install python3-venv): {}",
                String::from_utf8_lossy(&o.stderr)
            ))
        }
        Ok(_) => {}
    }
    let tmp = dir.with_file_name(format!("{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.parent().unwrap()).map_err(|e| e.to_string())?;
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&tmp),
        "python3 -m venv",
    )?;
    run(
        Command::new(tmp.join("bin").join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ]),
        &format!("pip install {requirement}"),
    )?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        // Another process finished first: use its venv.
        Err(_) if py.exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(format!("cannot move the virtualenv into place: {e}")),
    }
    Ok(py)
}
