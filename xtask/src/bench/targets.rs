//! The targets, each checked against one run's figures: the "Targets" section of
//! docs/benchmarks.md (a table per database, then the hand-written `analysis.md` as it is) and
//! the lines a bench run ends with. Pure functions of a [`Run`]: nothing here measures.

use super::report::{Report, Row, Run, ms, ratio_text, thousands};

/// Why the targets not met are not met, written by hand; shown below the tables verbatim.
const ANALYSIS: &str = include_str!("analysis.md");

/// The movies `generate` and `generate_beside_get_movie` are held to (a quick run generates
/// fewer beside `get_movie`: its rate is what is compared).
const GENERATED: f64 = 1_000_000.0;

/// Whether a run meets a target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Met,
    NotMet,
    /// The scenario did not run in this run (`--quick`, `--only`).
    NotRun,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "not met",
            Verdict::NotRun => "not run",
        }
    }
}

/// One target of the issue against one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The target, in the terms.
    pub target: String,
    /// The figure this run measured, `-` when it did not run.
    pub measured: String,
    pub verdict: Verdict,
}

/// A figure and whether it meets its target; `None` when the scenario did not run.
type Figure = Option<(String, bool)>;

fn check(target: impl Into<String>, figure: Figure) -> Check {
    let (measured, verdict) = match figure {
        Some((text, true)) => (text, Verdict::Met),
        Some((text, false)) => (text, Verdict::NotMet),
        None => ("-".into(), Verdict::NotRun),
    };
    Check { target: target.into(), measured, verdict }
}

fn row<'a>(run: &'a Run, name: &str) -> Option<&'a Row> {
    run.rows.iter().find(|r| r.name == name)
}

fn memory(run: &Run, name: &str) -> Option<f64> {
    run.memory.iter().find(|(n, _)| n == name).map(|(_, mb)| *mb)
}

/// A latency of a row that ran: a row without one (no request answered) misses its target.
fn latency(
    row: Option<&Row>,
    of: impl Fn(&Row) -> Option<f64>,
    meets: impl Fn(f64) -> bool,
) -> Figure {
    let row = row?;
    Some(match of(row) {
        Some(x) => (format!("{} ms", ms(Some(x))), meets(x)),
        None => ("no request answered".into(), false),
    })
}

/// `numerator`'s throughput over `denominator`'s, at least `least`.
fn share(run: &Run, numerator: &str, denominator: &str, least: f64) -> Figure {
    let (top, bottom) = (row(run, numerator)?, row(run, denominator)?);
    if bottom.throughput <= 0.0 {
        return Some((format!("`{denominator}` at 0"), false));
    }
    let share = top.throughput / bottom.throughput;
    let text = format!(
        "{} ({} / {} {})",
        ratio_text(share),
        thousands(top.throughput),
        thousands(bottom.throughput),
        top.unit.label()
    );
    Some((text, share >= least))
}

/// A memory figure, at most `most` MB.
fn memory_at_most(run: &Run, name: &str, most: f64) -> Figure {
    let mb = memory(run, name)?;
    Some((format!("{mb:.0} MB"), mb <= most))
}

/// A memory figure, at most `times` the idle one.
fn memory_of_idle(run: &Run, name: &str, times: f64) -> Figure {
    let (mb, idle) = (memory(run, name)?, memory(run, IDLE)?);
    let text = format!("{mb:.0} MB, x{:.2} of idle ({idle:.0} MB)", mb / idle);
    Some((text, mb <= times * idle))
}

/// The memory entries of `mod.rs` that targets are set on.
const IDLE: &str = "idle, after start and login";
const LISTENERS: &str = "with 10,000 idle listeners";
const SETTLED: &str = "30 s after 10,000 connections";
const NAMES: &str = "scale: right after `scale_names`";

/// Every target of the issue against `run`, in the order.
pub fn checks(run: &Run) -> Vec<Check> {
    let mut out = Vec::new();
    for (name, least) in [("get_movie", 0.5), ("list_movies", 0.2), ("mixed", 0.3)] {
        let figure = row(run, name).map(|r| match r.ratio {
            Some(ratio) => (ratio_text(ratio), ratio >= least),
            None => ("no ceiling".into(), false),
        });
        out.push(check(format!("`{name}` at least {least} of `ceiling`"), figure));
    }
    out.push(check(
        "the middleware stack at most 25% below `ceiling_bare` (`ceiling` at least 0.75 of it)",
        share(run, "ceiling", "ceiling_bare", 0.75),
    ));
    let bulk = row(run, "bulk").map(|r| (rate(r), r.throughput >= 200_000.0));
    out.push(check("`bulk` at least 200,000 movies/s", bulk));
    let generate =
        row(run, "generate").map(|r| (rate_and_time(r), r.throughput >= GENERATED / 10.0));
    out.push(check(
        "`generate`: 1,000,000 movies alone in at most 10 s (100,000 rows/s)",
        generate,
    ));
    let beside = row(run, "generate_beside_get_movie")
        .map(|r| (rate_and_time(r), r.throughput >= GENERATED / 30.0));
    out.push(check(
        "`generate_beside_get_movie`: 1,000,000 movies in at most 30 s with `get_movie` beside \
         (33,333 rows/s)",
        beside,
    ));
    out.push(check(
        "`get_movie_beside_generate`: median at most twice `get_movie`'s",
        median_at_most_twice(run),
    ));
    let connections =
        row(run, "connections_10000").map(|r| (format!("{} errors", r.errors), r.errors == 0));
    out.push(check("`connections_10000`: no error (no 5xx, no reset)", connections));
    let fanout = row(run, "ws_fanout_10000");
    out.push(check(
        "`ws_fanout_10000`: p99 at most 100 ms",
        latency(fanout, |r| r.p99_ms, |p99| p99 <= 100.0),
    ));
    let lost = fanout.map(|r| match r.lost {
        Some(lost) => (format!("{} lost", whole(lost)), lost == 0),
        None => ("not counted".into(), false),
    });
    out.push(check("`ws_fanout_10000`: zero events lost", lost));
    out.push(check("memory idle at most 30 MB", memory_at_most(run, IDLE, 30.0)));
    out.push(check(
        "memory with 10,000 idle listeners at most 150 MB",
        memory_at_most(run, LISTENERS, 150.0),
    ));
    out.push(check(
        "memory 30 s after 10,000 connections at most twice idle",
        memory_of_idle(run, SETTLED, 2.0),
    ));
    for scenario in ["first_page", "cursor_page", "characters", "genre"] {
        out.push(check(
            format!("`scale_{scenario}` keeps at least half of `small_{scenario}` (10,000 movies)"),
            share(run, &format!("scale_{scenario}"), &format!("small_{scenario}"), 0.5),
        ));
    }
    out.push(check(
        "`scale_deep_page_alone` (`skip=900000`): median under 200 ms",
        latency(row(run, "scale_deep_page_alone"), |r| r.p50_ms, |p50| p50 < 200.0),
    ));
    out.push(check(
        "`scale_q_alone`: median under 10 ms",
        latency(row(run, "scale_q_alone"), |r| r.p50_ms, |p50| p50 < 10.0),
    ));
    out.push(check(
        "`GET /movies/names` streams with flat memory: right after `scale_names` at most twice \
         idle",
        memory_of_idle(run, NAMES, 2.0),
    ));
    out.push(check(
        "`generate` at 1,000,000 movies keeps at least 0.8 of its rate at 100,000 \
         (`generate_first_100k`)",
        share(run, "generate", "generate_first_100k", 0.8),
    ));
    let gaps = run.movie_id_gaps.map(|gaps| (format!("{} ids missing", whole(gaps)), gaps == 0));
    out.push(check("`generate` leaves no id gaps (largest id - smallest + 1 = count)", gaps));
    out
}

/// A count as `1,234`: [`thousands`] writes a decimal below 100.
fn whole(n: u64) -> String {
    if n < 100 { n.to_string() } else { thousands(n as f64) }
}

fn rate(r: &Row) -> String {
    format!("{} {}", thousands(r.throughput), r.unit.label())
}

/// A generation's rate and the time 1,000,000 movies take at it. Said as a rate, because a
/// quick run generates 100,000 beside `get_movie`, and the rate falls as the table grows: a
/// quick run's figure is a bound from above, not the million's time.
fn rate_and_time(r: &Row) -> String {
    if r.throughput <= 0.0 {
        return rate(r);
    }
    format!("{}: 1,000,000 at that rate in {:.1} s", rate(r), GENERATED / r.throughput)
}

fn median_at_most_twice(run: &Run) -> Figure {
    let beside = row(run, "get_movie_beside_generate")?;
    let alone = row(run, "get_movie")?;
    let (Some(now), Some(before)) = (beside.p50_ms, alone.p50_ms) else {
        return Some(("no median".into(), false));
    };
    let text = format!("{} ms, x{:.2} of {} ms", ms(Some(now)), now / before, ms(Some(before)));
    Some((text, now <= 2.0 * before))
}

/// The "Targets" section of docs/benchmarks.md: a table per run, then `analysis.md`.
pub fn markdown(report: &Report) -> String {
    let mut out = String::from(
        "## Targets\n\n\
         The issue's targets against this run's figures: **met**, **not met**, or **not run** \
         when the scenario did not run in this run (a quick run leaves out `scale` and the \
         1,000,000-movie `generate`). Ratios come from one run, the load generator included.\n\n",
    );
    for run in &report.runs {
        out.push_str(&format!("### {}\n\n", run.title()));
        out.push_str("| target | this run | verdict |\n| --- | ---: | --- |\n");
        for c in checks(run) {
            out.push_str(&format!("| {} | {} | {} |\n", c.target, c.measured, c.verdict.label()));
        }
        out.push('\n');
    }
    out.push_str(ANALYSIS);
    if !ANALYSIS.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The lines a run ends with: a count per database, then each target with its verdict.
pub fn console_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for run in &report.runs {
        let checks = checks(run);
        let count = |v: Verdict| checks.iter().filter(|c| c.verdict == v).count();
        lines.push(format!(
            "targets [{}]: {} met, {} not met, {} not run",
            run.label(),
            count(Verdict::Met),
            count(Verdict::NotMet),
            count(Verdict::NotRun)
        ));
        for c in &checks {
            lines.push(format!("  {:7}  {}: {}", c.verdict.label(), c.target, c.measured));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::Unit;

    fn row(name: &str, unit: Unit, throughput: f64, p50: f64, p99: f64) -> Row {
        Row {
            name: name.into(),
            unit,
            throughput,
            p50_ms: Some(p50),
            p99_ms: Some(p99),
            max_ms: Some(p99 * 2.0),
            errors: 0,
            ratio: None,
            note: String::new(),
            lost: None,
        }
    }

    /// A run of the first server and the small one, no `scale` server: every kind of verdict.
    fn run() -> Run {
        let requests = |name: &str, throughput: f64, p50: f64| {
            row(name, Unit::Requests, throughput, p50, p50 * 4.0)
        };
        let rows = |name: &str, throughput: f64| {
            Row::throughput_only(name, Unit::Rows, throughput, String::new())
        };
        let mut fanout = row("ws_fanout_10000", Unit::Events, 1_500.0, 40.0, 250.0);
        fanout.lost = Some(0);
        let mut connections = requests("connections_10000", 20_000.0, 300.0);
        connections.errors = 12;
        let mut run = Run::new("sqlite");
        run.rows = vec![
            requests("ceiling", 40_000.0, 1.0),
            requests("ceiling_bare", 50_000.0, 1.0),
            requests("get_movie", 24_000.0, 2.0),
            requests("list_movies", 6_000.0, 8.0),
            requests("mixed", 10_000.0, 4.0),
            rows("bulk", 250_000.0),
            fanout,
            connections,
            rows("generate_beside_get_movie", 40_000.0),
            requests("get_movie_beside_generate", 9_000.0, 5.0),
            requests("small_first_page", 10_000.0, 5.0),
        ];
        run.memory = vec![(IDLE.into(), 20.0), (LISTENERS.into(), 180.0), (SETTLED.into(), 35.0)];
        run.fill_ratios();
        run
    }

    fn verdict(checks: &[Check], starts: &str) -> (Verdict, String) {
        let c = checks.iter().find(|c| c.target.starts_with(starts)).unwrap();
        (c.verdict, c.measured.clone())
    }

    #[test]
    fn each_target_is_met_not_met_or_not_run() {
        let checks = checks(&run());
        assert_eq!(verdict(&checks, "`get_movie` at least 0.5"), (Verdict::Met, "0.60".into()));
        assert_eq!(verdict(&checks, "`list_movies`"), (Verdict::NotMet, "0.15".into()));
        assert_eq!(verdict(&checks, "`mixed`").0, Verdict::NotMet);
        assert_eq!(verdict(&checks, "the middleware").0, Verdict::Met);
        assert_eq!(verdict(&checks, "`bulk`").0, Verdict::Met);
        assert_eq!(verdict(&checks, "`generate`: 1,000,000"), (Verdict::NotRun, "-".into()));
        assert_eq!(
            verdict(&checks, "`generate_beside_get_movie`"),
            (Verdict::Met, "40,000 rows/s: 1,000,000 at that rate in 25.0 s".into())
        );
        assert_eq!(
            verdict(&checks, "`get_movie_beside_generate`"),
            (Verdict::NotMet, "5.00 ms, x2.50 of 2.00 ms".into())
        );
        assert_eq!(verdict(&checks, "`connections_10000`"), (Verdict::NotMet, "12 errors".into()));
        assert_eq!(verdict(&checks, "`ws_fanout_10000`: p99").0, Verdict::NotMet);
        assert_eq!(verdict(&checks, "`ws_fanout_10000`: zero"), (Verdict::Met, "0 lost".into()));
        assert_eq!(verdict(&checks, "memory idle"), (Verdict::Met, "20 MB".into()));
        assert_eq!(verdict(&checks, "memory with"), (Verdict::NotMet, "180 MB".into()));
        assert_eq!(verdict(&checks, "memory 30 s").0, Verdict::Met);
        // A `small_` row without its `scale_` one: not run, as are the rest of `scale`.
        assert_eq!(verdict(&checks, "`scale_first_page`").0, Verdict::NotRun);
        for starts in
            ["`scale_deep", "`scale_q", "`GET /movies/names`", "`generate` at", "`generate` leaves"]
        {
            assert_eq!(verdict(&checks, starts).0, Verdict::NotRun, "{starts}");
        }
    }

    #[test]
    fn scale_targets_compare_with_the_small_server_and_the_first_100k() {
        let mut run = run();
        let mut generate = |name: &str, throughput: f64| {
            run.rows.push(Row::throughput_only(name, Unit::Rows, throughput, String::new()));
        };
        generate("generate", 90_000.0);
        generate("generate_first_100k", 100_000.0);
        run.rows.push(row("scale_first_page", Unit::Requests, 4_000.0, 10.0, 40.0));
        run.rows.push(row("scale_deep_page_alone", Unit::Requests, 5.0, 250.0, 300.0));
        run.rows.push(row("scale_q_alone", Unit::Requests, 500.0, 2.0, 3.0));
        run.memory.push((NAMES.into(), 30.0));
        run.movie_id_gaps = Some(0);
        let checks = checks(&run);
        assert_eq!(verdict(&checks, "`generate`: 1,000,000").0, Verdict::NotMet);
        assert_eq!(
            verdict(&checks, "`generate` at"),
            (Verdict::Met, "0.90 (90,000 / 100,000 rows/s)".into())
        );
        assert_eq!(verdict(&checks, "`generate` leaves"), (Verdict::Met, "0 ids missing".into()));
        assert_eq!(verdict(&checks, "`scale_first_page`").0, Verdict::NotMet);
        assert_eq!(verdict(&checks, "`scale_cursor_page`").0, Verdict::NotRun);
        assert_eq!(verdict(&checks, "`scale_deep").0, Verdict::NotMet);
        assert_eq!(verdict(&checks, "`scale_q"), (Verdict::Met, "2.00 ms".into()));
        assert_eq!(
            verdict(&checks, "`GET /movies/names`"),
            (Verdict::Met, "30 MB, x1.50 of idle (20 MB)".into())
        );
    }

    #[test]
    fn the_section_has_a_table_per_run_then_the_analysis() {
        let report = Report {
            date: "2026-11-26".into(),
            commit: "abc1234".into(),
            cores: 2,
            quick: true,
            seconds_per_scenario: 2,
            concurrency: 64,
            wall_seconds: 100.0,
            runs: vec![run()],
        };
        let text = markdown(&report);
        assert!(text.starts_with("## Targets\n"));
        assert!(text.contains("### SQLite"));
        assert!(
            text.contains("| `get_movie` at least 0.5 of `ceiling` | 0.60 | met |\n"),
            "{text}"
        );
        assert!(text.contains("| `bulk` at least 200,000 movies/s | 250,000 rows/s | met |\n"));
        assert!(text.contains("| `scale_q_alone`: median under 10 ms | - | not run |\n"));
        let analysis = text.find("Why the targets not met are not met:").unwrap();
        assert!(analysis > text.find("| memory idle").unwrap(), "the analysis comes below");
        let lines = console_lines(&report);
        assert_eq!(lines[0], "targets [sqlite]: 7 met, 6 not met, 10 not run");
        assert!(lines.iter().any(|l| l == "  not met  memory with 10,000 idle listeners at most 150 MB: 180 MB"));
    }
}
