//! Developer tooling for the Movies & Characters workspace, in the style of
//! matklad's cargo-xtask: `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Std only, so it compiles fast. Cargo is invoked through the `CARGO`
//! environment variable (fallback `cargo`) and always from the workspace root.
//! To add a subcommand (e.g. `bench`, `openapi`), write a `fn() -> Result<(), String>`
//! and add one line to [`TASKS`].

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// One subcommand: its name, a one-line description and the function running it.
struct Task {
    name: &'static str,
    about: &'static str,
    run: fn() -> Result<(), String>,
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
        about: "run fmt --check, clippy -D warnings and the workspace tests, stopping at the first failure",
        run: ci,
    },
    Task { name: "fmt", about: "format the whole workspace (cargo fmt --all)", run: fmt },
    Task { name: "help", about: "print this usage text", run: help },
];

/// The checks `cargo xtask ci` runs, in order, as arguments to cargo.
const CI_STEPS: &[&[&str]] = &[
    &["fmt", "--all", "--", "--check"],
    &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
    &["test", "--workspace"],
];

/// What the command line asked for.
#[derive(Debug)]
enum Parsed {
    /// Run this task.
    Task(&'static Task),
    /// Refused: print this message and the usage to stderr, exit 2.
    Error(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match parse(&args) {
        Parsed::Task(task) => match (task.run)() {
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
/// `--help` mean `help`; subcommands take no further arguments.
fn parse(args: &[String]) -> Parsed {
    let Some(first) = args.first() else {
        return Parsed::Task(find("help").expect("help task exists"));
    };
    let name = match first.as_str() {
        "-h" | "--help" => "help",
        other => other,
    };
    let Some(task) = find(name) else {
        return Parsed::Error(format!("unknown command `{first}`"));
    };
    if args.len() > 1 {
        return Parsed::Error(format!(
            "`{}` takes no arguments, got `{}`",
            task.name,
            args[1..].join(" ")
        ));
    }
    Parsed::Task(task)
}

fn find(name: &str) -> Option<&'static Task> {
    TASKS.iter().find(|task| task.name == name)
}

/// The usage text: one line per subcommand.
fn usage() -> String {
    let width = TASKS.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut text = String::from("Usage: cargo xtask <command>\n\nCommands:\n");
    for task in TASKS {
        text.push_str(&format!("  {:width$}  {}\n", task.name, task.about));
    }
    text
}

fn help() -> Result<(), String> {
    print!("{}", usage());
    Ok(())
}

fn ci() -> Result<(), String> {
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

fn fmt() -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["fmt", "--all"]);
    run(&mut cmd)
}

/// A `Command` for the cargo running us (`$CARGO`, else `cargo`), in the workspace root.
fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    cmd
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the workspace")
        .to_path_buf()
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
            Parsed::Task(task) => task.name,
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
    }

    #[test]
    fn unknown_command_is_refused() {
        match parse(&args(&["deploy"])) {
            Parsed::Error(message) => assert!(message.contains("deploy"), "{message}"),
            Parsed::Task(task) => panic!("`deploy` was accepted as {}", task.name),
        }
    }

    #[test]
    fn extra_arguments_are_refused() {
        assert!(matches!(parse(&args(&["ci", "--fast"])), Parsed::Error(_)));
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
            assert!(text.contains(task.about));
        }
    }

    #[test]
    fn ci_steps_are_fmt_clippy_test_in_order() {
        let lines: Vec<String> = CI_STEPS.iter().map(|step| step.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "fmt --all -- --check",
                "clippy --workspace --all-targets -- -D warnings",
                "test --workspace",
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
}
