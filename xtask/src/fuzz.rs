//! `cargo xtask fuzz`: the contract fuzzer. Schemathesis, pinned with everything it needs in
//! `xtask/fuzz/requirements.txt` and installed into `target/fuzz-venv`, reads `/openapi.json`
//! from a throwaway server (whose TMDB is a fake on 127.0.0.1, so the `/moviesTMDB` routes
//! answer as with TMDB rather than 503) and sends generated requests, valid and invalid, to
//! every operation. It fails on a 5xx, on a status, content type or body the document does not
//! declare, on a valid token refused, and on an operation never called. `xtask/fuzz/hooks.py`
//! gives every request the admin's token and says how logout and generation jobs are kept from
//! spoiling the run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::sample;
use crate::server::{self, Server};

/// Schemathesis' checks, then the two defined in xtask/fuzz/hooks.py.
const CHECKS: &[&str] = &[
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "valid_token_accepted",
    EVERY_OPERATION,
];

/// The check that every operation was called: left out when ARGS select some operations.
const EVERY_OPERATION: &str = "EveryOperationTested";

/// Cases per operation in the fuzzing phase (and scenarios in the stateful one); the examples
/// and coverage phases come on top. About 5,000 requests, 90 s on 2 cores; pass
/// `--max-examples N` to go further.
const MAX_EXAMPLES: u32 = 100;

/// A fixed seed: a failure shows up again on the next run. Pass `--seed N` to explore.
const SEED: u32 = 1;

pub fn fuzz(extra: &[String]) -> Result<(), String> {
    let schemathesis = install_schemathesis()?;
    let binary = server::build()?;
    let mut server = Server::start(&binary, "fuzz")?;
    let token = server.login()?;
    sample::add(&mut server, &token)?;
    let mut cmd = Command::new(&schemathesis);
    cmd.args(schemathesis_args(&server.url(""), extra))
        .env("SCHEMATHESIS_HOOKS", crate::workspace_root().join("xtask/fuzz/hooks.py"))
        .env("FUZZ_BASE_URL", server.url(""))
        .env("FUZZ_TOKEN", &token)
        .env("FUZZ_USERNAME", &server.admin.username)
        .env("FUZZ_PASSWORD", &server.admin.password)
        // Hypothesis keeps scratch files in the working directory: not in the repository.
        .current_dir(server.dir());
    println!("==> {}", crate::display(&cmd));
    let started = Instant::now();
    let outcome = crate::run(&mut cmd);
    println!("==> fuzz: schemathesis ran for {} s", started.elapsed().as_secs());
    match outcome {
        Ok(()) => server.check_running(),
        Err(e) => Err(server.failure(&e)),
    }
}

/// `schemathesis run` on the server at `base_url` with our settings; `extra` comes last, so its
/// options win.
fn schemathesis_args(base_url: &str, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        format!("{base_url}/openapi.json"),
        // The document names no server: requests need the absolute base.
        "--url".into(),
        base_url.into(),
        "--checks".into(),
        checks(extra),
        // Stateful: sequences along links schemathesis infers (an id from one answer used in
        // the next request); about 15 s.
        "--phases".into(),
        "examples,coverage,fuzzing,stateful".into(),
        "--max-examples".into(),
        MAX_EXAMPLES.to_string(),
        "--seed".into(),
        SEED.to_string(),
        // No example database: each run starts from the seed alone.
        "--generation-database".into(),
        "none".into(),
        "--request-timeout".into(),
        "30".into(),
    ];
    args.extend_from_slice(extra);
    args
}

/// The `--checks` value: all of [`CHECKS`], but [`EVERY_OPERATION`] only when `extra` does not
/// narrow the run to some operations (`--include-path /movies`, `--exclude-method DELETE`...).
fn checks(extra: &[String]) -> String {
    let narrowed = extra.iter().any(|arg| {
        (arg.starts_with("--include-") || arg.starts_with("--exclude-"))
            && !arg.starts_with("--exclude-checks")
    });
    let kept = CHECKS.iter().filter(|check| !(narrowed && **check == EVERY_OPERATION));
    kept.copied().collect::<Vec<_>>().join(",")
}

/// Makes `target/fuzz-venv` hold exactly the pinned packages, installing only when
/// requirements.txt differs from what was last installed; returns the `schemathesis` program.
fn install_schemathesis() -> Result<PathBuf, String> {
    let venv = crate::target_dir().join("fuzz-venv");
    let requirements = crate::workspace_root().join("xtask/fuzz/requirements.txt");
    let wanted = read(&requirements)?;
    let version = pinned_version(&wanted)
        .ok_or_else(|| format!("{} pins no schemathesis==VERSION", requirements.display()))?;
    let stamp = venv.join("xtask-requirements.txt");
    if !venv.join("bin/python").is_file() {
        // --clear: a venv whose interpreter went away (python3 upgraded) is rebuilt whole.
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "venv", "--clear"]).arg(&venv);
        println!("==> {}", crate::display(&cmd));
        crate::run(&mut cmd)
            .map_err(|e| format!("{e} (on Debian, `apt-get install python3-venv`)"))?;
    }
    if fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let mut cmd = Command::new(venv.join("bin/python"));
        cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r"])
            .arg(&requirements);
        println!("==> installing schemathesis {version}: {}", crate::display(&cmd));
        crate::run(&mut cmd)?;
        fs::write(&stamp, &wanted).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    }
    println!("==> schemathesis {version} in {}", venv.display());
    Ok(venv.join("bin/schemathesis"))
}

/// The version in the `schemathesis==VERSION` line of a requirements file.
fn pinned_version(requirements: &str) -> Option<&str> {
    requirements.lines().find_map(|line| line.trim().strip_prefix("schemathesis=="))
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_requirements_pin_a_schemathesis_4_and_every_other_package() {
        let text = read(&crate::workspace_root().join("xtask/fuzz/requirements.txt")).unwrap();
        let version = pinned_version(&text).expect("schemathesis is pinned");
        assert!(version.starts_with("4.") && version.split('.').count() == 3, "{version}");
        for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            assert!(line.contains("=="), "not pinned: {line}");
        }
    }

    #[test]
    fn the_pinned_version_is_read_from_its_own_line() {
        assert_eq!(
            pinned_version("# schemathesis==1\nhypothesis==6\nschemathesis==4.2.0\n"),
            Some("4.2.0")
        );
        assert_eq!(pinned_version("schemathesis>=4\n"), None);
    }

    #[test]
    fn the_hooks_define_every_check_that_is_not_schemathesis_own() {
        let hooks = read(&crate::workspace_root().join("xtask/fuzz/hooks.py")).unwrap();
        for check in &CHECKS[4..] {
            let defined = [format!("def {check}("), format!("class {check}:")];
            assert!(defined.iter().any(|d| hooks.contains(d.as_str())), "{check}");
        }
    }

    #[test]
    fn every_operation_is_required_unless_the_arguments_pick_some() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(checks(&[]).ends_with(",EveryOperationTested"));
        assert!(
            checks(&args(&["--exclude-checks", "not_a_server_error"])).contains(EVERY_OPERATION)
        );
        for filter in
            ["--include-path", "--exclude-method", "--include-path-regex", "--exclude-deprecated"]
        {
            let kept = checks(&args(&[filter, "x"]));
            assert!(
                !kept.contains(EVERY_OPERATION) && kept.contains("not_a_server_error"),
                "{filter}"
            );
        }
    }

    #[test]
    fn extra_arguments_come_after_ours_so_they_win() {
        let extra = ["--max-examples".to_string(), "200".to_string()];
        let args = schemathesis_args("http://127.0.0.1:1", &extra);
        assert_eq!(
            args[..4],
            ["run", "http://127.0.0.1:1/openapi.json", "--url", "http://127.0.0.1:1"]
        );
        assert_eq!(args[args.len() - 2..], extra);
        let checks = args.iter().position(|a| a == "--checks").unwrap();
        assert!(args[checks + 1].starts_with("not_a_server_error,"), "{}", args[checks + 1]);
        assert!(args.windows(2).any(|w| w == ["--seed", "1"]));
    }
}
