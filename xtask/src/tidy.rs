//! House rules that check themselves, in the style of rust-analyzer's `xtask/src/tidy.rs`: each
//! rule is a `#[test]` over the workspace's own files, so `cargo test --workspace` (and with it
//! `cargo xtask ci` and `.ci/run`) fails when a change breaks one, naming file and line.
//!
//! The rules:
//! - every `.rs` file opens with a `//!` line saying what it is for;
//! - `crates/api/src` reaches SeaORM only in the wiring that builds the adapters;
//! - no `unwrap()` or `expect(` outside tests and `main.rs`;
//! - `.ci/run` runs the steps of `cargo xtask ci`, in the same order;
//! - every setting of `crates/api/src/config.rs` has its row in docs/operations.md's table.
//!
//! The rules read code through `code_lines`, which drops comments and empties string and
//! character literals, so they match what the compiler sees, not prose or messages. Known
//! exceptions are listed in `ALLOWED_*` with the reason; an entry that no longer matches anything
//! fails the test too, so the lists only shrink.
#![cfg(test)]

use std::fs;
use std::path::Path;

use crate::{CI_STEPS, workspace_root};

/// A known exception to a rule: a line of `path` whose code contains `code`.
struct Allowed {
    path: &'static str,
    code: &'static str,
    /// Why it is allowed for now, and what removes it.
    why: &'static str,
}

/// The files of `crates/api/src` that build the SeaORM adapters and hand them to the services.
const API_WIRING: &[&str] =
    &["crates/api/src/state.rs", "crates/api/src/startup.rs", "crates/api/src/cli.rs"];

/// What SeaORM looks like from the api crate, which has no sea-orm dependency (but a
/// dev-dependency, for its integration tests to create PostgreSQL databases) and reaches it only
/// through movies-infra: the crates themselves (should infra re-export them), their types as
/// infra re-exports or returns them, infra's SeaORM module and connection accessor
/// (`Database::conn`), and the SeaORM adapters (`SeaMovieRepository`, ...; matched separately as
/// `Sea` followed by a capital letter).
const SEA_ORM_MARKERS: &[&str] = &[
    "sea_orm",
    "sea_query",
    "DbErr",
    "DatabaseConnection",
    "DbBackend",
    "movies_infra::db",
    "movies_infra::connect",
    ".conn()",
];

/// Uses of SeaORM in `crates/api/src` outside [`API_WIRING`] that predate the rule.
const ALLOWED_SEA_ORM: &[Allowed] = &[];

/// `unwrap()` and `expect(` outside tests and `main.rs` that predate the rule.
const ALLOWED_PANICS: &[Allowed] = &[];

#[test]
fn every_rust_file_opens_with_a_doc_comment_saying_what_it_is_for() {
    let mut problems = Vec::new();
    for file in rust_files() {
        let first = file.text.lines().next().unwrap_or("");
        if !first.starts_with("//!") {
            problems.push(format!(
                "{}:1: opens with `{first}`; start with `//!` lines saying what the file is for",
                file.path
            ));
        }
    }
    assert_none("every .rs file opens with a `//!` line", problems);
}

#[test]
fn the_api_crate_uses_sea_orm_only_in_its_wiring() {
    let mut found = Vec::new();
    for file in rust_files() {
        if file.path.starts_with("crates/api/src/") && !API_WIRING.contains(&file.path.as_str()) {
            found.extend(sea_orm_uses(&file.path, &code_lines(&file.text)));
        }
    }
    let problems = without_allowed(found, ALLOWED_SEA_ORM, |hit| {
        format!(
            "{}:{}: `{}` reaches SeaORM outside the wiring ({}); go through a domain service \
             or port instead",
            hit.path,
            hit.line,
            hit.what,
            API_WIRING.join(", ")
        )
    });
    assert_none("no SeaORM in crates/api/src outside the wiring", problems);
}

/// Covers every crate's sources, xtask's included: its tasks return `Result<(), String>` so a
/// failure names what failed. Allowed: tests (`#[cfg(test)]` items, files that open with
/// `#![cfg(test)]`, `tests.rs` files and files under `tests/`, `examples/` or `benches/`), doc
/// examples (comments are not code) and `main.rs` files, which are start-up.
#[test]
fn there_is_no_unwrap_or_expect_outside_tests_and_main() {
    let mut found = Vec::new();
    for file in rust_files() {
        let exempt = file.path.split('/').any(|c| matches!(c, "tests" | "examples" | "benches"))
            || file.path.ends_with("/tests.rs")
            || file.path.ends_with("/main.rs");
        if !exempt {
            found.extend(panics_outside_tests(&file.path, &code_lines(&file.text)));
        }
    }
    let problems = without_allowed(found, ALLOWED_PANICS, |hit| {
        format!(
            "{}:{}: `{}` outside tests and main.rs; return the error (or handle the case) instead",
            hit.path, hit.line, hit.what
        )
    });
    assert_none("no unwrap() or expect( outside tests and main", problems);
}

#[test]
fn ci_run_and_cargo_xtask_ci_run_the_same_checks_in_the_same_order() {
    let root = workspace_root();
    let ci_run = read(&root.join(".ci/run"));
    let xtask_main = read(&root.join("xtask/src/main.rs"));
    let problems = ci_disagreements(&ci_run, &xtask_steps(&xtask_main));
    assert_none(".ci/run and `cargo xtask ci` agree", problems);
}

#[test]
fn every_setting_has_its_row_in_the_operations_page() {
    let root = workspace_root();
    let config = read(&root.join("crates/api/src/config.rs"));
    let page = read(&root.join("docs/operations.md"));
    let settings = settings(&config);
    assert!(settings.len() > 20, "found only {settings:?} in config.rs");
    let problems = settings
        .iter()
        .filter(|name| !page.lines().any(|l| l.starts_with(&format!("| `{name}` |"))))
        .map(|name| format!("{name}: no row `| `{name}` | ...` in docs/operations.md"))
        .collect();
    assert_none("docs/operations.md lists every setting", problems);
}

/// The environment variables clap reads (`env = "NAME"`), in the order they appear.
fn settings(config_rs: &str) -> Vec<String> {
    config_rs
        .split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name.to_owned()))
        .collect()
}

// ---- Reading the workspace ----

/// A Rust file of the workspace: its path from the root, with `/` separators, and its text.
struct SourceFile {
    path: String,
    text: String,
}

/// Every `.rs` file under the workspace root, sorted, skipping hidden directories and `target`.
/// A walk rather than `git ls-files`, so that new files are checked before they are added.
fn rust_files() -> Vec<SourceFile> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<SourceFile>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{prefix}{name}");
            let kind = entry.file_type().unwrap_or_else(|e| panic!("{path}: {e}"));
            if kind.is_dir() && !name.starts_with('.') && name != "target" {
                walk(&entry.path(), &format!("{path}/"), out);
            } else if kind.is_file() && name.ends_with(".rs") {
                out.push(SourceFile { text: read(&entry.path()), path });
            }
        }
    }
    let mut files = Vec::new();
    walk(&workspace_root(), "", &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(files.iter().any(|f| f.path == "xtask/src/tidy.rs"), "the walk missed this very file");
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails with every problem, one per line, under the rule's name.
fn assert_none(rule: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "tidy: {rule}:\n  {}\n", problems.join("\n  "));
}

// ---- Reading Rust code ----

/// The code of each line of `text`: comments removed, string and character literals emptied
/// (`"..."` becomes `""`, `'{'` becomes `''`), lifetimes kept. Raw strings, nested block comments
/// and literals spanning lines are understood; line numbers are kept.
fn code_lines(text: &str) -> Vec<String> {
    enum State {
        Code,
        /// In a block comment, this deep.
        Block(usize),
        Str,
        /// In a raw string closed by `"` and this many `#`.
        RawStr(usize),
    }
    let mut state = State::Code;
    let mut lines = Vec::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut code = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match state {
                State::Block(depth) => {
                    if c == '*' && next == Some('/') {
                        state = if depth == 1 { State::Code } else { State::Block(depth - 1) };
                        i += 1;
                    } else if c == '/' && next == Some('*') {
                        state = State::Block(depth + 1);
                        i += 1;
                    }
                }
                State::Str => {
                    if c == '\\' {
                        i += 1;
                    } else if c == '"' {
                        code.push('"');
                        state = State::Code;
                    }
                }
                State::RawStr(hashes) => {
                    let closes = c == '"'
                        && chars.len() >= i + 1 + hashes
                        && chars[i + 1..i + 1 + hashes].iter().all(|&h| h == '#');
                    if closes {
                        code.push('"');
                        state = State::Code;
                        i += hashes;
                    }
                }
                State::Code => {
                    let after_ident =
                        i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
                    if c == '/' && next == Some('/') {
                        break;
                    } else if c == '/' && next == Some('*') {
                        state = State::Block(1);
                        i += 1;
                    } else if c == '"' {
                        code.push('"');
                        state = State::Str;
                    } else if c == 'r' && (!after_ident || chars[i - 1] == 'b') && {
                        let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                        chars.get(i + 1 + hashes) == Some(&'"')
                    } {
                        let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                        code.push('"');
                        state = State::RawStr(hashes);
                        i += 1 + hashes;
                    } else if c == '\'' && next == Some('\\') {
                        // An escaped character literal: skip to its closing quote.
                        let close =
                            chars.get(i + 3..).and_then(|r| r.iter().position(|&q| q == '\''));
                        code.push_str("''");
                        i = close.map_or(chars.len(), |p| i + 3 + p);
                    } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
                        code.push_str("''");
                        i += 2;
                    } else {
                        code.push(c);
                    }
                }
            }
            i += 1;
        }
        lines.push(code.trim_end().to_owned());
    }
    lines
}

/// Which lines are test code: the whole file if it opens with `#![cfg(test)]`, else the items
/// under a `#[cfg(test)]` attribute, up to the brace that closes them (or the `;` that ends them).
fn test_lines(code: &[String]) -> Vec<bool> {
    let mut inner_attributes = code
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .take_while(|l| l.starts_with("#!["));
    if inner_attributes.any(|attribute| attribute == "#![cfg(test)]") {
        return vec![true; code.len()];
    }
    let mut test = vec![false; code.len()];
    let mut i = 0;
    while i < code.len() {
        if code[i].trim() != "#[cfg(test)]" {
            i += 1;
            continue;
        }
        let (mut depth, mut opened) = (0usize, false);
        while i < code.len() {
            test[i] = true;
            let mut ended = false;
            for c in code[i].chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth = depth.saturating_sub(1),
                    ';' if depth == 0 && !opened => ended = true,
                    _ => {}
                }
                if ended || (opened && depth == 0) {
                    ended = true;
                    break;
                }
            }
            i += 1;
            if ended {
                break;
            }
        }
    }
    test
}

/// One thing a rule found: where, and the text that broke it.
#[derive(Debug, PartialEq)]
struct Hit {
    path: String,
    line: usize,
    /// The matched marker.
    what: String,
    /// The whole line of code, to match against the allow-lists.
    code: String,
}

/// Whether what starts at byte `at` of `code` starts a word, rather than ending a longer name.
fn starts_a_word(code: &str, at: usize) -> bool {
    code[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

fn sea_orm_uses(path: &str, code: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (i, line) in code.iter().enumerate() {
        let hit = |what: &str| Hit {
            path: path.to_owned(),
            line: i + 1,
            what: what.to_owned(),
            code: line.clone(),
        };
        for marker in SEA_ORM_MARKERS {
            if line.contains(marker) {
                hits.push(hit(marker));
            }
        }
        // SeaORM adapters: `Sea` then a capital letter, starting an identifier.
        for (at, _) in line.match_indices("Sea") {
            let capital = line[at + 3..].chars().next().is_some_and(|c| c.is_ascii_uppercase());
            if capital && starts_a_word(line, at) {
                let end = line[at..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(line.len(), |n| at + n);
                hits.push(hit(&line[at..end]));
            }
        }
    }
    hits
}

fn panics_outside_tests(path: &str, code: &[String]) -> Vec<Hit> {
    let test = test_lines(code);
    let mut hits = Vec::new();
    for (i, line) in code.iter().enumerate() {
        if test[i] {
            continue;
        }
        for marker in ["unwrap()", "expect("] {
            if line.match_indices(marker).any(|(at, _)| starts_a_word(line, at)) {
                hits.push(Hit {
                    path: path.to_owned(),
                    line: i + 1,
                    what: marker.to_owned(),
                    code: line.clone(),
                });
            }
        }
    }
    hits
}

/// The problems among `hits` that no `allowed` entry covers, described by `describe`, and every
/// entry that covers nothing any more (remove it: the exception is gone).
fn without_allowed(
    hits: Vec<Hit>,
    allowed: &[Allowed],
    describe: impl Fn(&Hit) -> String,
) -> Vec<String> {
    let covers = |a: &Allowed, hit: &Hit| a.path == hit.path && hit.code.contains(a.code);
    let mut problems: Vec<String> =
        hits.iter().filter(|hit| !allowed.iter().any(|a| covers(a, hit))).map(&describe).collect();
    for a in allowed.iter().filter(|a| !hits.iter().any(|hit| covers(a, hit))) {
        problems.push(format!(
            "{}: the allowed exception `{}` ({}) matches nothing any more: remove it from the list \
             in xtask/src/tidy.rs",
            a.path, a.code, a.why
        ));
    }
    problems
}

// ---- .ci/run and `cargo xtask ci` ----

/// Marks a step of `.ci/run` that `cargo xtask ci` does not run: a comment line directly above
/// the step's `echo`, saying why after the colon.
const CI_ONLY: &str = "# CI only:";

/// One step of `.ci/run`: the line `echo "==> [N/M] LABEL"` and the command after it.
#[derive(Debug)]
struct CiStep {
    line: usize,
    number: String,
    label: String,
    command: String,
    command_line: usize,
    /// Why only CI runs it, when it is marked so.
    ci_only: Option<String>,
}

/// A step of `cargo xtask ci`, as the command line it runs, and its line in xtask/src/main.rs.
#[derive(Debug)]
struct XtaskStep {
    command: String,
    line: usize,
}

/// The steps of `CI_STEPS`, located in `main_rs` (xtask/src/main.rs): each at the line of its
/// literal, or of `const CI_STEPS` when rustfmt has split the literal.
fn xtask_steps(main_rs: &str) -> Vec<XtaskStep> {
    let lines: Vec<&str> = main_rs.lines().collect();
    let start = lines.iter().position(|l| l.contains("const CI_STEPS")).unwrap_or(0);
    CI_STEPS
        .iter()
        .map(|step| {
            let literal = format!(
                "&[{}]",
                step.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ")
            );
            let at = lines[start..]
                .iter()
                .position(|l| l.contains(&literal))
                .map_or(start, |n| start + n);
            XtaskStep { command: format!("cargo {}", step.join(" ")), line: at + 1 }
        })
        .collect()
}

/// The steps of `.ci/run`, or what keeps it from being read.
fn ci_run_steps(text: &str) -> Result<Vec<CiStep>, Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix("echo \"==> [") else { continue };
        let parsed = rest.strip_suffix('"').and_then(|r| r.split_once("] "));
        let Some((number, label)) = parsed else {
            problems.push(format!(".ci/run:{}: expected `echo \"==> [N/M] COMMAND\"`", i + 1));
            continue;
        };
        let command = lines
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, l)| !l.trim().is_empty() && !l.trim().starts_with('#'));
        let Some((command_line, command)) = command else {
            problems.push(format!(".ci/run:{}: the step runs no command after its echo", i + 1));
            continue;
        };
        // The comment lines directly above the echo.
        let comments = (0..i).rev().take_while(|&j| lines[j].trim().starts_with('#'));
        let marked = comments
            .filter_map(|j| Some((j, lines[j].trim().strip_prefix(CI_ONLY)?.trim())))
            .next();
        if let Some((j, "")) = marked {
            problems.push(format!(".ci/run:{}: say why after `{CI_ONLY}`", j + 1));
        }
        let ci_only = marked.map(|(_, why)| why.to_owned());
        steps.push(CiStep {
            line: i + 1,
            number: number.to_owned(),
            label: label.to_owned(),
            command: command.trim().to_owned(),
            command_line: command_line + 1,
            ci_only,
        });
    }
    if problems.is_empty() { Ok(steps) } else { Err(problems) }
}

/// Everything that differs between `.ci/run` (its text) and the steps of `cargo xtask ci`.
fn ci_disagreements(ci_run: &str, xtask: &[XtaskStep]) -> Vec<String> {
    let steps = match ci_run_steps(ci_run) {
        Ok(steps) => steps,
        Err(problems) => return problems,
    };
    let mut problems = Vec::new();
    let total = steps.len();
    for (k, step) in steps.iter().enumerate() {
        let expected = format!("{}/{total}", k + 1);
        if step.number != expected {
            problems.push(format!(
                ".ci/run:{}: step {} of {total} is numbered [{}]; number it [{expected}]",
                step.line,
                k + 1,
                step.number
            ));
        }
    }
    for step in steps.iter().filter(|s| s.ci_only.is_some()) {
        if let Some(x) = xtask.iter().find(|x| x.command == step.command) {
            problems.push(format!(
                ".ci/run:{}: `{}` is marked CI only, but `cargo xtask ci` runs it too \
                 (xtask/src/main.rs:{})",
                step.command_line, step.command, x.line
            ));
        }
    }
    let shared: Vec<&CiStep> = steps.iter().filter(|s| s.ci_only.is_none()).collect();
    for step in &shared {
        if step.label != step.command {
            problems.push(format!(
                ".ci/run:{}: the step echoes `{}` but runs `{}` (line {}); echo the command, as \
                 `cargo xtask ci` does",
                step.line, step.label, step.command, step.command_line
            ));
        }
    }
    let first_difference =
        (0..shared.len().max(xtask.len())).find_map(|k| match (shared.get(k), xtask.get(k)) {
            (Some(ci), Some(x)) if ci.command == x.command => None,
            (Some(ci), Some(x)) => Some(format!(
                ".ci/run:{}: runs `{}` where `cargo xtask ci` runs `{}` (xtask/src/main.rs:{}), \
                 its step {}",
                ci.command_line,
                ci.command,
                x.command,
                x.line,
                k + 1
            )),
            (Some(ci), None) => Some(format!(
                ".ci/run:{}: runs `{}`, which `cargo xtask ci` does not; add it to CI_STEPS in \
                 xtask/src/main.rs, or put `{CI_ONLY} <why>` above its echo",
                ci.command_line, ci.command
            )),
            (None, Some(x)) => Some(format!(
                "xtask/src/main.rs:{}: `cargo xtask ci` runs `{}` (its step {}), which .ci/run \
                 does not; add it there, in the same order",
                x.line,
                x.command,
                k + 1
            )),
            (None, None) => None,
        });
    if let Some(difference) = first_difference {
        let list = |commands: Vec<&str>| commands.join("; ");
        problems.push(format!(
            "{difference}\n    .ci/run, without its CI-only steps: {}\n    cargo xtask ci: {}",
            list(shared.iter().map(|s| s.command.as_str()).collect()),
            list(xtask.iter().map(|x| x.command.as_str()).collect()),
        ));
    }
    problems
}

// ---- The rules' own tests, on small samples ----

#[test]
fn comments_and_the_insides_of_literals_are_not_code() {
    let text = "let a = \"x.unwrap() // no\"; // x.unwrap()\n\
                let b = '{'; let c: &'static str = r#\"a \" expect(\"#;\n\
                /* x.unwrap()\n /* nested */ still comment */ done();";
    assert_eq!(
        code_lines(text),
        ["let a = \"\";", "let b = ''; let c: &'static str = \"\";", "", " done();"]
    );
}

#[test]
fn escaped_quotes_do_not_end_a_literal_early() {
    let text = r#"let q = '\''; let s = "say \"x.unwrap()\""; let n = '\n'; y.unwrap();"#;
    assert_eq!(code_lines(text), [r#"let q = ''; let s = ""; let n = ''; y.unwrap();"#]);
}

#[test]
fn a_string_spanning_lines_stays_a_string() {
    let text = "let s = \"first\n  x.unwrap()\n  \"; y.unwrap();";
    assert_eq!(code_lines(text), ["let s = \"", "", "\"; y.unwrap();"]);
}

#[test]
fn a_test_module_is_test_code_and_a_test_only_function_ends_at_its_brace() {
    let code: Vec<String> = [
        "fn a() {}",
        "#[cfg(test)]",
        "fn helper() -> u8 {",
        "    1",
        "}",
        "fn b() { x.unwrap() }",
        "#[cfg(test)]",
        "mod tests {",
        "    fn t() { x.unwrap() }",
        "}",
    ]
    .map(String::from)
    .to_vec();
    let test = test_lines(&code);
    assert_eq!(test, [false, true, true, true, true, false, true, true, true, true]);
    let hits = panics_outside_tests("f.rs", &code);
    assert_eq!(hits.iter().map(|h| h.line).collect::<Vec<_>>(), [6]);
}

#[test]
fn a_file_that_opens_with_an_inner_cfg_test_is_all_test_code() {
    let code = code_lines("//! Tests.\n#![cfg(test)]\nfn f() { x.unwrap(); }");
    assert!(panics_outside_tests("f.rs", &code).is_empty());
}

#[test]
fn unwrap_or_and_methods_merely_ending_in_expect_are_not_panics() {
    let code = code_lines("x.unwrap_or(1); m.my_expect(2); m.expect_find(); x.unwrap_err();");
    assert!(panics_outside_tests("f.rs", &code).is_empty());
}

#[test]
fn sea_orm_is_recognised_through_infra_and_its_adapters() {
    let code = code_lines(
        "use movies_infra::db::DbErr;\nlet r = SeaMovieRepository::new(db);\ns.db.conn().ping();\n\
         let q = SearchQuery::new(); // SeaORM",
    );
    let found: Vec<(usize, String)> =
        sea_orm_uses("f.rs", &code).into_iter().map(|h| (h.line, h.what)).collect();
    assert_eq!(
        found,
        [
            (1, "DbErr".to_owned()),
            (1, "movies_infra::db".to_owned()),
            (2, "SeaMovieRepository".to_owned()),
            (3, ".conn()".to_owned()),
        ]
    );
}

#[test]
fn an_allowed_exception_that_matches_nothing_is_reported() {
    let allowed = [Allowed { path: "a.rs", code: "gone()", why: "example" }];
    let problems = without_allowed(Vec::new(), &allowed, |_| String::new());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("a.rs: the allowed exception `gone()`"), "{}", problems[0]);
}

/// A `.ci/run` with the given steps, each `(label, command, CI-only reason)`, numbered as given.
fn sample_ci_run(steps: &[(&str, &str, &str, Option<&str>)]) -> String {
    let mut text = String::from("#!/usr/bin/env bash\nset -e\n\n");
    for (number, label, command, ci_only) in steps {
        if let Some(why) = ci_only {
            text.push_str(&format!("{CI_ONLY} {why}\n"));
        }
        text.push_str(&format!("echo \"==> [{number}] {label}\"\n{command}\n\n"));
    }
    text
}

fn sample_xtask(commands: &[&str]) -> Vec<XtaskStep> {
    commands
        .iter()
        .enumerate()
        .map(|(i, c)| XtaskStep { command: (*c).to_owned(), line: 10 + i })
        .collect()
}

#[test]
fn agreeing_steps_with_ci_only_extras_pass() {
    let ci_run = sample_ci_run(&[
        ("1/3", "cargo fmt", "cargo fmt", None),
        ("2/3", "cargo xtask fuzz", "cargo xtask fuzz", Some("slow")),
        ("3/3", "cargo test", "cargo test", None),
    ]);
    let problems = ci_disagreements(&ci_run, &sample_xtask(&["cargo fmt", "cargo test"]));
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn steps_in_another_order_are_reported_with_both_lines() {
    let ci_run = sample_ci_run(&[
        ("1/2", "cargo test", "cargo test", None),
        ("2/2", "cargo fmt", "cargo fmt", None),
    ]);
    let problems = ci_disagreements(&ci_run, &sample_xtask(&["cargo fmt", "cargo test"]));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(
            ".ci/run:5: runs `cargo test` where `cargo xtask ci` runs `cargo fmt` \
             (xtask/src/main.rs:10), its step 1"
        ),
        "{}",
        problems[0]
    );
}

#[test]
fn a_step_missing_from_ci_run_or_unmarked_there_is_reported() {
    let ci_run = sample_ci_run(&[("1/1", "cargo fmt", "cargo fmt", None)]);
    let problems = ci_disagreements(&ci_run, &sample_xtask(&["cargo fmt", "cargo test"]));
    assert!(problems[0].starts_with("xtask/src/main.rs:11: `cargo xtask ci` runs `cargo test`"));

    let ci_run = sample_ci_run(&[
        ("1/2", "cargo fmt", "cargo fmt", None),
        ("2/2", "cargo doc", "cargo doc", None),
    ]);
    let problems = ci_disagreements(&ci_run, &sample_xtask(&["cargo fmt"]));
    assert!(
        problems[0].starts_with(".ci/run:8: runs `cargo doc`, which `cargo xtask ci` does not")
    );
}

#[test]
fn stale_step_numbers_and_labels_that_are_not_the_command_are_reported() {
    let ci_run = sample_ci_run(&[
        ("1/2", "cargo fmt", "cargo fmt", None),
        ("2/3", "tests", "cargo test", None),
    ]);
    let problems = ci_disagreements(&ci_run, &sample_xtask(&["cargo fmt", "cargo test"]));
    assert_eq!(
        problems,
        [
            ".ci/run:7: step 2 of 2 is numbered [2/3]; number it [2/2]",
            ".ci/run:7: the step echoes `tests` but runs `cargo test` (line 8); echo the \
             command, as `cargo xtask ci` does",
        ]
    );
}

#[test]
fn a_ci_only_step_that_cargo_xtask_ci_also_runs_is_reported() {
    let ci_run = sample_ci_run(&[
        ("1/2", "cargo fmt", "cargo fmt", None),
        ("2/2", "cargo test", "cargo test", Some("slow")),
    ]);
    let problems = ci_disagreements(&ci_run, &sample_xtask(&["cargo fmt", "cargo test"]));
    assert!(problems[0].starts_with(".ci/run:9: `cargo test` is marked CI only"), "{problems:?}");
}

#[test]
fn the_steps_of_cargo_xtask_ci_are_found_in_main_rs() {
    let main_rs = read(&workspace_root().join("xtask/src/main.rs"));
    let steps = xtask_steps(&main_rs);
    let lines: Vec<&str> = main_rs.lines().collect();
    for step in &steps {
        let first_arg = step.command.split(' ').nth(1).unwrap_or("");
        assert!(lines[step.line - 1].contains(&format!("{first_arg:?}")), "{step:?}");
    }
}
