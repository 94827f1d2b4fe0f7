//! Developer tooling for the Movies & Characters workspace, in the style of
//! matklad's cargo-xtask: `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Few dependencies (serde_json, and ureq without TLS to talk to the server it
//! starts), so it compiles fast; `bench` adds the ones its load generator needs (tokio, hyper,
//! tokio-tungstenite, hdrhistogram, plotters), without their default features where they allow. Cargo is invoked through the `CARGO`
//! environment variable (fallback `cargo`) and always from the workspace root.
//! `fuzz` and `screenshots` run the server through [`server::Server`], which
//! also stops it; `bench` runs the release build. To add a subcommand, write a
//! `fn(&[String]) -> Result<(), String>` and add one entry to [`TASKS`].
//!
//! `tidy.rs` is not a task but the house rules as tests (every file opens with `//!`, no
//! `unwrap()` outside tests, ...), which `cargo test --workspace` runs.

mod bench;
mod dev;
mod fake_tmdb;
mod fuzz;
mod http;
mod openapi;
mod sample;
mod screenshots;
mod server;
mod tidy;

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// One subcommand: its name, a one-line description and the function running it.
struct Task {
    name: &'static str,
    /// What it takes after its name, as shown in the usage (e.g. `[ARGS]`); `None`: nothing.
    args: Option<&'static str>,
    about: &'static str,
    run: fn(&[String]) -> Result<(), String>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("name", &self.name).finish()
    }
}

/// Every subcommand, in the order shown by `cargo xtask help`.
const TASKS: &[Task] = &[
    Task {
        name: "ci",
        args: None,
        about: "run fmt --check, clippy -D warnings, the workspace tests and the domain example; stop at a failure",
        run: ci,
    },
    Task {
        name: "dev",
        args: Some("[SERVER ARGS]"),
        about: "run the server (debug build), rebuilt and restarted whenever a source changes",
        run: dev::dev,
    },
    Task {
        name: "fmt",
        args: None,
        about: "format the whole workspace (cargo fmt --all)",
        run: fmt,
    },
    Task {
        name: "openapi",
        args: None,
        about: "write the server's OpenAPI document to docs/openapi.json (movies-api openapi)",
        run: openapi::openapi,
    },
    Task {
        name: "fuzz",
        args: Some("[ARGS]"),
        about: "contract-fuzz a throwaway server with schemathesis; ARGS go to `schemathesis run`",
        run: fuzz::fuzz,
    },
    Task {
        name: "screenshots",
        args: None,
        about: "save /docs, /redoc and / of a throwaway server to docs/img/*.png with headless chromium",
        run: screenshots::screenshots,
    },
    Task {
        name: "bench",
        args: Some("[OPTIONS]"),
        about: "benchmark the release server (`--quick`: 2 s a scenario); `bench --help` for more",
        run: bench::bench,
    },
    Task {
        name: "floor",
        args: Some("KIND"),
        about: "the machine's floor with no server: `fanout` on plain TCP, SQLite's `writes`",
        run: bench::floor,
    },
    Task {
        name: "soak",
        args: Some("[ARGS]"),
        about: "mixed load and listeners for minutes (5xx, lost events, RSS); `soak --help`",
        run: bench::soak,
    },
    Task { name: "help", args: None, about: "print this usage text", run: help },
];

/// The checks `cargo xtask ci` runs, in order, as arguments to cargo. Quick and offline, for
/// before a push; `.ci/run` runs these, in this order, and the steps it marks `# CI only:` (the
/// domain docs, `cargo package`, `fuzz`). A test in `tidy.rs` holds the two lists together.
const CI_STEPS: &[&[&str]] = &[
    &["fmt", "--all", "--", "--check"],
    &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
    &["test", "--workspace"],
    // The domain crate as a downstream crate uses it, with no web framework or database.
    &["run", "-p", "movies-domain", "--example", "in_memory"],
];

/// What the command line asked for.
#[derive(Debug)]
enum Parsed {
    /// Run this task with these arguments.
    Task(&'static Task, Vec<String>),
    /// Refused: print this message and the usage to stderr, exit 2.
    Error(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match parse(&args) {
        Parsed::Task(task, args) => match (task.run)(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("xtask {}: {message}", task.name);
                ExitCode::FAILURE
            }
        },
        Parsed::Error(message) => {
            eprintln!("xtask: {message}\n");
            eprint!("{}", usage());
            ExitCode::from(2)
        }
    }
}

/// Maps the arguments after `cargo xtask` to a task. No argument, `-h` and
/// `--help` mean `help`; only tasks that declare `args` take further arguments.
fn parse(args: &[String]) -> Parsed {
    let Some(first) = args.first() else {
        return Parsed::Task(find("help").expect("help task exists"), Vec::new());
    };
    let name = match first.as_str() {
        "-h" | "--help" => "help",
        other => other,
    };
    let Some(task) = find(name) else {
        return Parsed::Error(format!("unknown command `{first}`"));
    };
    if args.len() > 1 && task.args.is_none() {
        return Parsed::Error(format!(
            "`{}` takes no arguments, got `{}`",
            task.name,
            args[1..].join(" ")
        ));
    }
    Parsed::Task(task, args[1..].to_vec())
}

fn find(name: &str) -> Option<&'static Task> {
    TASKS.iter().find(|task| task.name == name)
}

/// The usage text: one line per subcommand.
fn usage() -> String {
    let synopsis = |task: &Task| match task.args {
        Some(args) => format!("{} {args}", task.name),
        None => task.name.to_owned(),
    };
    let width = TASKS.iter().map(|t| synopsis(t).len()).max().unwrap_or(0);
    let mut text = String::from("Usage: cargo xtask <command>\n\nCommands:\n");
    for task in TASKS {
        text.push_str(&format!("  {:width$}  {}\n", synopsis(task), task.about));
    }
    text
}

fn help(_: &[String]) -> Result<(), String> {
    print!("{}", usage());
    Ok(())
}

fn ci(_: &[String]) -> Result<(), String> {
    let total = CI_STEPS.len();
    for (i, step) in CI_STEPS.iter().enumerate() {
        let mut cmd = cargo();
        cmd.args(*step);
        println!("==> [{}/{total}] {}", i + 1, display(&cmd));
        run(&mut cmd).map_err(|e| format!("step {}/{total} failed: {e}", i + 1))?;
    }
    println!("==> ci: all {total} steps passed");
    Ok(())
}

fn fmt(_: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["fmt", "--all"]);
    run(&mut cmd)
}

/// A `Command` for the cargo running us (`$CARGO`, else `cargo`), in the workspace root.
fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    // `cargo run` describes xtask's own package in the environment. Build scripts that declare
    // `rerun-if-env-changed` on those names (ring does, for CARGO_PKG_NAME) would then rerun and
    // rebuild half the tree, here and again at the next plain `cargo build`.
    for (name, _) in env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Whether `cargo run` sets this variable for the package it runs (as opposed to settings the
/// user gave cargo, such as `CARGO_TARGET_DIR` or `CARGO_HOME`, which must pass through).
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
        )
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the workspace")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `target` in the workspace root.
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// Runs `cmd` with inherited stdio; `Err` names the command if it cannot be
/// started or exits unsuccessfully.
fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = display(cmd);
    let status = cmd.status().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{shown}` failed ({status})")) }
}

/// `cmd` as a shell-like line, showing only the program's file name
/// (so `$CARGO=/home/me/.cargo/bin/cargo` prints as `cargo`).
fn display(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn task_name(parsed: Parsed) -> &'static str {
        match parsed {
            Parsed::Task(task, _) => task.name,
            Parsed::Error(message) => panic!("expected a task, got error: {message}"),
        }
    }

    #[test]
    fn no_argument_means_help() {
        assert_eq!(task_name(parse(&[])), "help");
    }

    #[test]
    fn help_flags_mean_help() {
        for flag in ["help", "-h", "--help"] {
            assert_eq!(task_name(parse(&args(&[flag]))), "help", "{flag}");
        }
    }

    #[test]
    fn known_commands_are_found() {
        assert_eq!(task_name(parse(&args(&["ci"]))), "ci");
        assert_eq!(task_name(parse(&args(&["fmt"]))), "fmt");
        assert_eq!(task_name(parse(&args(&["openapi"]))), "openapi");
        assert_eq!(task_name(parse(&args(&["fuzz"]))), "fuzz");
        assert_eq!(task_name(parse(&args(&["screenshots"]))), "screenshots");
        assert_eq!(task_name(parse(&args(&["bench", "--quick"]))), "bench");
    }

    #[test]
    fn unknown_command_is_refused() {
        match parse(&args(&["deploy"])) {
            Parsed::Error(message) => assert!(message.contains("deploy"), "{message}"),
            Parsed::Task(task, _) => panic!("`deploy` was accepted as {}", task.name),
        }
    }

    #[test]
    fn extra_arguments_are_refused() {
        for task in ["ci", "openapi", "screenshots"] {
            assert!(matches!(parse(&args(&[task, "--fast"])), Parsed::Error(_)), "{task}");
        }
    }

    #[test]
    fn fuzz_passes_its_arguments_on() {
        match parse(&args(&["fuzz", "--max-examples", "200"])) {
            Parsed::Task(task, rest) => {
                assert_eq!(task.name, "fuzz");
                assert_eq!(rest, ["--max-examples", "200"]);
            }
            Parsed::Error(message) => panic!("{message}"),
        }
        assert!(matches!(parse(&args(&["fuzz"])), Parsed::Task(_, rest) if rest.is_empty()));
    }

    #[test]
    fn task_names_are_unique_and_listed_in_usage() {
        let text = usage();
        for (i, task) in TASKS.iter().enumerate() {
            assert!(
                TASKS[i + 1..].iter().all(|other| other.name != task.name),
                "duplicate task {}",
                task.name
            );
            assert!(text.contains(&format!("  {}", task.name)), "{}", task.name);
            if let Some(args) = task.args {
                assert!(text.contains(&format!("  {} {args}", task.name)), "{}", task.name);
            }
            assert!(text.contains(task.about));
        }
    }

    #[test]
    fn ci_steps_are_fmt_clippy_test_then_the_domain_example() {
        let lines: Vec<String> = CI_STEPS.iter().map(|step| step.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "fmt --all -- --check",
                "clippy --workspace --all-targets -- -D warnings",
                "test --workspace",
                "run -p movies-domain --example in_memory",
            ]
        );
    }

    #[test]
    fn display_shows_program_file_name_and_args() {
        let mut cmd = Command::new("/opt/rust/bin/cargo");
        cmd.args(["test", "--workspace"]);
        assert_eq!(display(&cmd), "cargo test --workspace");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }

    #[test]
    fn the_package_cargo_run_describes_is_not_passed_on_but_cargo_settings_are() {
        for name in
            ["CARGO_PKG_NAME", "CARGO_PKG_VERSION_MAJOR", "CARGO_MANIFEST_DIR", "CARGO_CRATE_NAME"]
        {
            assert!(set_by_cargo_run(name), "{name}");
        }
        for name in ["CARGO", "CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_BUILD_JOBS", "PATH"] {
            assert!(!set_by_cargo_run(name), "{name}");
        }
    }

    #[test]
    fn usage_lines_stay_readable() {
        for line in usage().lines() {
            assert!(line.chars().count() <= 120, "too long: {line}");
        }
    }
}
