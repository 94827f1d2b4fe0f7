//! The section of docs/benchmarks.md that sets the PostgreSQL runs beside the SQLite one: one
//! table, a column per run (SQLite, PostgreSQL, and N instances behind nginx with
//! `--instances`), then the runs' notes and the hand-written `analysis_postgres.md`.
//!
//! The section belongs to runs with `BENCH_DATABASE_URL`, the rest of the page to runs without:
//! each kind rewrites its own part and keeps the other's as it is, between the markers below,
//! so that a quick PostgreSQL run never replaces a full SQLite run's figures, nor the reverse.

use super::report::{Report, Row, Run, ms, ratio_text, thousands};

/// Why the PostgreSQL and nginx figures are what they are, written by hand; shown verbatim.
const ANALYSIS: &str = include_str!("analysis_postgres.md");

/// The section's first line. It names its owner, for whoever edits the page by hand.
pub const BEGIN: &str = "<!-- PostgreSQL section: written by `cargo xtask bench` with \
                         BENCH_DATABASE_URL set; a run without it keeps this part as it is -->";
pub const END: &str = "<!-- end of the PostgreSQL section -->";

/// The section for `report`, markers included; `None` when it has no PostgreSQL run.
pub fn section(report: &Report) -> Option<String> {
    if !report.runs.iter().any(|r| r.database == "postgres") {
        return None;
    }
    let several = report.runs.iter().map(|r| r.instances).max().unwrap_or(1);
    let title = match several {
        1 => "PostgreSQL, one instance".to_owned(),
        n => format!("PostgreSQL, one instance and {} behind nginx", number(n)),
    };
    let mode = if report.quick {
        format!("a **quick** run (`--quick`: {} s per scenario)", report.seconds_per_scenario)
    } else {
        format!("a full run ({} s per scenario)", report.seconds_per_scenario)
    };
    let mut out = format!(
        "{BEGIN}\n## {title}\n\n\
         Written by `cargo xtask bench` with `BENCH_DATABASE_URL` from {mode} on {date}: \
         {cores} cores, commit `{commit}`, {concurrency} connections for the fixed-concurrency \
         scenarios, {wall:.0} s in all. The runs below went one after the other in that one \
         process, on the same binary and machine, within {minutes:.0} minutes; the figures \
         above this section may come from another run. Each cell gives the throughput, its \
         **ratio to the same run's `ceiling`** (`GET /health`; through nginx in the nginx \
         column), the p99 latency and any errors. The server, PostgreSQL, nginx and the load \
         generator all share the cores, so a raw figure says as much about the machine as about \
         the server, and a 2 s figure is noisy: read the ratios, and differences of less than \
         about 20% as none.\n\n",
        date = report.date,
        cores = report.cores,
        commit = report.commit,
        concurrency = report.concurrency,
        wall = report.wall_seconds,
        minutes = (report.wall_seconds / 60.0).ceil(),
    );
    out.push_str(&table(&report.runs));
    let memory = memory_table(&report.runs);
    if !memory.is_empty() {
        out.push('\n');
        out.push_str(&memory);
    }
    out.push('\n');
    out.push_str(&fanout_notes(&report.runs));
    for run in report.runs.iter().filter(|run| !run.notes.is_empty()) {
        out.push_str(&format!("- **{}.** {}\n", column_title(run), run.notes.join(" ")));
    }
    out.push('\n');
    out.push_str(ANALYSIS.trim_end());
    out.push_str(&format!("\n{END}\n"));
    Some(out)
}

/// `2` as `two`, as the issue says it.
fn number(n: usize) -> String {
    match n {
        2 => "two".into(),
        3 => "three".into(),
        4 => "four".into(),
        n => n.to_string(),
    }
}

/// A row per scenario (in the order they ran), a column per run.
fn table(runs: &[Run]) -> String {
    let names = first_seen(runs.iter().flat_map(|run| run.rows.iter().map(|r| r.name.as_str())));
    side_by_side("scenario", runs, &names, |run, name| {
        run.rows.iter().find(|r| r.name == name).map_or_else(|| "-".into(), cell)
    })
}

/// Each name once, where it first appears.
fn first_seen<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}

/// A Markdown table headed `heading`: a row per name, a column per run, each cell `cell`'s.
fn side_by_side(
    heading: &str,
    runs: &[Run],
    names: &[&str],
    cell: impl Fn(&Run, &str) -> String,
) -> String {
    let mut out = format!("| {heading} |");
    for run in runs {
        out.push_str(&format!(" {} |", column_title(run)));
    }
    out.push_str("\n| --- |");
    out.push_str(&" ---: |".repeat(runs.len()));
    out.push('\n');
    for name in names {
        out.push_str(&format!("| {name} |"));
        for run in runs {
            out.push_str(&format!(" {} |", cell(run, name)));
        }
        out.push('\n');
    }
    out
}

fn column_title(run: &Run) -> String {
    match (run.database.as_str(), run.instances) {
        ("sqlite", _) => "SQLite, one instance".into(),
        ("postgres", 1) => "PostgreSQL, one instance".into(),
        ("postgres", n) => format!("PostgreSQL, {} behind nginx", number(n)),
        _ => run.title(),
    }
}

/// `12,345 req/s (0.45), p99 3.10 ms`, with `, 3 errors` or `, 2 lost` when there were any.
fn cell(row: &Row) -> String {
    let mut text = format!("{} {}", thousands(row.throughput), row.unit.label());
    if let Some(ratio) = row.ratio {
        text.push_str(&format!(" (**{}**)", ratio_text(ratio)));
    }
    if row.p99_ms.is_some() {
        text.push_str(&format!(", p99 {} ms", ms(row.p99_ms)));
    }
    if row.errors > 0 {
        text.push_str(&format!(", {} errors", row.errors));
    }
    if let Some(lost) = row.lost.filter(|lost| *lost > 0) {
        text.push_str(&format!(", {lost} lost"));
    }
    text
}

/// What the table leaves out of the WebSocket fan-outs: lost events, events ahead of their
/// write's answer, the time from the write's request, the writes' own latency, and how the
/// listeners were spread (their notes), per run.
fn fanout_notes(runs: &[Run]) -> String {
    let mut out = String::new();
    for run in runs {
        for row in run.rows.iter().filter(|r| r.lost.is_some() && !r.note.is_empty()) {
            out.push_str(&format!("- `{}`, {}: {}.\n", row.name, column_title(run), row.note));
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The memory readings of every run, side by side; empty when none has any.
fn memory_table(runs: &[Run]) -> String {
    let names = first_seen(runs.iter().flat_map(|run| run.memory.iter().map(|(n, _)| n.as_str())));
    if names.is_empty() {
        return String::new();
    }
    side_by_side("server memory (RSS, MB)", runs, &names, |run, name| {
        let mb = run.memory.iter().find(|(n, _)| n == name);
        mb.map_or_else(|| "-".into(), |(_, mb)| format!("{mb:.0}"))
    })
}

/// The section of `page`, markers included, if it has one.
pub fn kept(page: &str) -> Option<&str> {
    let start = page.find(BEGIN)?;
    let end = page[start..].find(END)? + start + END.len();
    let end = if page[end..].starts_with('\n') { end + 1 } else { end };
    Some(&page[start..end])
}

/// `page` with its section replaced by `section`; a page without one gets it before
/// `## The scenarios`, or at its end.
pub fn splice(page: &str, section: &str) -> String {
    if let Some(old) = kept(page) {
        return page.replacen(old, section, 1);
    }
    match page.find("## The scenarios") {
        Some(at) => format!("{}{section}\n{}", &page[..at], &page[at..]),
        None => format!("{}\n{section}", page.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Unit;

    fn row(name: &str, throughput: f64) -> Row {
        Row {
            name: name.into(),
            unit: Unit::Requests,
            throughput,
            p50_ms: Some(1.0),
            p99_ms: Some(2.0),
            max_ms: Some(3.0),
            errors: 0,
            ratio: None,
            note: String::new(),
            lost: None,
        }
    }

    fn run(database: &str, instances: usize, rows: Vec<Row>) -> Run {
        let mut run = Run::new(database);
        run.instances = instances;
        run.rows = rows;
        run.fill_ratios();
        run
    }

    fn report(runs: Vec<Run>) -> Report {
        Report {
            date: "2026-11-27".into(),
            commit: "abc1234".into(),
            cores: 2,
            quick: true,
            seconds_per_scenario: 2,
            concurrency: 64,
            wall_seconds: 1200.0,
            runs,
        }
    }

    #[test]
    fn a_sqlite_only_run_has_no_section() {
        assert_eq!(section(&report(vec![run("sqlite", 1, vec![row("ceiling", 1.0)])])), None);
    }

    #[test]
    fn the_section_has_a_column_per_run_with_each_run_s_own_ratio() {
        let mut errors = row("mixed", 500.0);
        errors.errors = 3;
        let mut fanout = row("ws_fanout_1000", 9000.0);
        fanout.unit = Unit::Events;
        fanout.lost = Some(0);
        fanout.note = "1000 listeners connected; 0 events lost".into();
        let text = section(&report(vec![
            run("sqlite", 1, vec![row("ceiling", 1000.0), row("get_movie", 800.0)]),
            run("postgres", 1, vec![row("ceiling", 900.0), row("get_movie", 300.0)]),
            run("postgres", 2, vec![row("ceiling", 500.0), errors, fanout]),
        ]))
        .unwrap();
        assert!(text.starts_with(BEGIN) && text.ends_with(&format!("{END}\n")));
        assert!(text.contains("## PostgreSQL, one instance and two behind nginx\n"));
        assert!(text.contains(
            "| scenario | SQLite, one instance | PostgreSQL, one instance | PostgreSQL, two \
             behind nginx |"
        ));
        assert!(text.contains(
            "| get_movie | 800 req/s (**0.80**), p99 2.00 ms | 300 req/s (**0.33**), p99 2.00 \
             ms | - |"
        ));
        assert!(text.contains("| mixed | - | - | 500 req/s (**1.00**), p99 2.00 ms, 3 errors |"));
        assert!(text.contains(
            "- `ws_fanout_1000`, PostgreSQL, two behind nginx: 1000 listeners connected; 0 events \
             lost.\n"
        ));
    }

    #[test]
    fn the_section_is_replaced_in_place_kept_or_put_before_the_scenarios() {
        let section = format!("{BEGIN}\n## PostgreSQL\n\nnew\n{END}\n");
        let page = "# Benchmarks\n\n## Results\n\n## The scenarios\n\n- x\n";
        let first = splice(page, &section);
        assert!(first.contains(&format!("{section}\n## The scenarios")), "{first}");
        assert_eq!(kept(&first), Some(section.as_str()));
        let newer = section.replace("new", "newer");
        let second = splice(&first, &newer);
        assert_eq!(second, first.replace("new\n", "newer\n"));
        assert_eq!(kept(page), None);
    }
}
