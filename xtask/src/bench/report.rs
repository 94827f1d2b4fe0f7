//! What a bench run found, and its three forms: `target/bench.json` (read back by `--compare`),
//! the table of `docs/benchmarks.md`, and the lines `--compare` prints.

use std::collections::HashMap;

use serde_json::{Value, json};

/// What a row's throughput counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Requests,
    Rows,
    Events,
}

impl Unit {
    pub fn label(self) -> &'static str {
        match self {
            Unit::Requests => "req/s",
            Unit::Rows => "rows/s",
            Unit::Events => "events/s",
        }
    }

    fn parse(label: &str) -> Unit {
        match label {
            "rows/s" => Unit::Rows,
            "events/s" => Unit::Events,
            _ => Unit::Requests,
        }
    }
}

/// One scenario's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub unit: Unit,
    pub throughput: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub errors: u64,
    /// Throughput over the same run's `ceiling`; requests only (rows and events are not
    /// requests).
    pub ratio: Option<f64>,
    pub note: String,
    /// Events that never reached a listener (`ws_fanout_N` only): the "zero lost" is
    /// read from here, not from the note.
    pub lost: Option<u64>,
}

impl Row {
    /// A row with a throughput over a whole timed run and no latency of its own.
    pub fn throughput_only(name: &str, unit: Unit, throughput: f64, note: String) -> Self {
        Row {
            name: name.into(),
            unit,
            throughput,
            p50_ms: None,
            p99_ms: None,
            max_ms: None,
            errors: 0,
            ratio: None,
            note,
            lost: None,
        }
    }
}

/// The scenarios run against one database.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Servers sharing the database: 1, or several behind nginx (`--instances`).
    pub instances: usize,
    pub rows: Vec<Row>,
    /// Resident memory of the server, in MB, at named moments.
    pub memory: Vec<(String, f64)>,
    /// What was scaled down or skipped, and why.
    pub notes: Vec<String>,
    /// Movie ids missing between the smallest and the largest after `generate`'s 1,000,000
    /// movies (a range delete over them would trip on a gap); `None` when not checked.
    pub movie_id_gaps: Option<u64>,
}

impl Run {
    pub fn new(database: &str) -> Run {
        Run {
            database: database.into(),
            instances: 1,
            rows: Vec::new(),
            memory: Vec::new(),
            notes: Vec::new(),
            movie_id_gaps: None,
        }
    }

    /// The run's short name, unique within a report: `sqlite`, `postgres`, `postgres-x2`.
    pub fn label(&self) -> String {
        match self.instances {
            1 => self.database.clone(),
            n => format!("{}-x{n}", self.database),
        }
    }

    /// The run's heading in docs/benchmarks.md.
    pub fn title(&self) -> String {
        match (self.database.as_str(), self.instances) {
            ("sqlite", 1) => "SQLite (a fresh temporary file)".into(),
            ("postgres", 1) => "PostgreSQL (`BENCH_DATABASE_URL`, a fresh database)".into(),
            ("postgres", n) => format!("PostgreSQL, {n} instances behind nginx"),
            (other, 1) => other.into(),
            (other, n) => format!("{other}, {n} instances"),
        }
    }

    /// Sets every request row's ratio to this run's `ceiling`.
    pub fn fill_ratios(&mut self) {
        let ceiling = self.rows.iter().find(|r| r.name == "ceiling").map(|r| r.throughput);
        for row in &mut self.rows {
            row.ratio = match row.unit {
                Unit::Requests => super::stats::ratio(row.throughput, ceiling),
                _ => None,
            };
        }
    }
}

/// A whole run of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub commit: String,
    pub cores: usize,
    pub quick: bool,
    pub seconds_per_scenario: u64,
    pub concurrency: usize,
    pub wall_seconds: f64,
    pub runs: Vec<Run>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|run| {
                let rows: Vec<Value> = run
                    .rows
                    .iter()
                    .map(|r| {
                        json!({
                            "name": r.name, "unit": r.unit.label(), "throughput": r.throughput,
                            "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "max_ms": r.max_ms,
                            "errors": r.errors, "ratio_to_ceiling": r.ratio, "note": r.note,
                            "lost": r.lost,
                        })
                    })
                    .collect();
                let memory: Vec<Value> =
                    run.memory.iter().map(|(name, mb)| json!({ "name": name, "mb": mb })).collect();
                json!({ "database": run.database, "instances": run.instances, "scenarios": rows,
                        "memory": memory, "notes": run.notes, "movie_id_gaps": run.movie_id_gaps })
            })
            .collect();
        json!({
            "date": self.date, "commit": self.commit, "cores": self.cores, "quick": self.quick,
            "seconds_per_scenario": self.seconds_per_scenario, "concurrency": self.concurrency,
            "wall_seconds": self.wall_seconds, "runs": runs,
        })
    }

    /// Reads what [`Report::to_json`] wrote.
    pub fn from_json(value: &Value) -> Result<Report, String> {
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
        let runs = value["runs"].as_array().ok_or("no `runs` array: not a bench.json")?;
        let runs = runs
            .iter()
            .map(|run| Run {
                database: text(run, "database"),
                // Runs written before `--instances` had one.
                instances: run["instances"].as_u64().map_or(1, |n| n as usize),
                rows: run["scenarios"]
                    .as_array()
                    .map(|rows| {
                        rows.iter()
                            .map(|r| Row {
                                name: text(r, "name"),
                                unit: Unit::parse(&text(r, "unit")),
                                throughput: r["throughput"].as_f64().unwrap_or(0.0),
                                p50_ms: r["p50_ms"].as_f64(),
                                p99_ms: r["p99_ms"].as_f64(),
                                max_ms: r["max_ms"].as_f64(),
                                errors: r["errors"].as_u64().unwrap_or(0),
                                ratio: r["ratio_to_ceiling"].as_f64(),
                                note: text(r, "note"),
                                lost: r["lost"].as_u64(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                memory: run["memory"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .map(|m| (text(m, "name"), m["mb"].as_f64().unwrap_or(0.0)))
                            .collect()
                    })
                    .unwrap_or_default(),
                notes: run["notes"]
                    .as_array()
                    .map(|n| n.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default(),
                movie_id_gaps: run["movie_id_gaps"].as_u64(),
            })
            .collect();
        Ok(Report {
            date: text(value, "date"),
            commit: text(value, "commit"),
            cores: value["cores"].as_u64().unwrap_or(0) as usize,
            quick: value["quick"].as_bool().unwrap_or(false),
            seconds_per_scenario: value["seconds_per_scenario"].as_u64().unwrap_or(0),
            concurrency: value["concurrency"].as_u64().unwrap_or(0) as usize,
            wall_seconds: value["wall_seconds"].as_f64().unwrap_or(0.0),
            runs,
        })
    }

    /// The tables of docs/benchmarks.md, one per database, with the memory figures and notes.
    pub fn markdown_tables(&self) -> String {
        let mut out = String::new();
        for run in &self.runs {
            out.push_str(&format!("### {}\n\n", run.title()));
            out.push_str(
                "| scenario | throughput | p50 ms | p99 ms | max ms | errors | ratio to ceiling | notes |\n",
            );
            out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
            for r in &run.rows {
                out.push_str(&format!(
                    "| {} | {} {} | {} | {} | {} | {} | {} | {} |\n",
                    r.name,
                    thousands(r.throughput),
                    r.unit.label(),
                    ms(r.p50_ms),
                    ms(r.p99_ms),
                    ms(r.max_ms),
                    r.errors,
                    r.ratio.map(ratio_text).unwrap_or_else(|| "-".into()),
                    r.note
                ));
            }
            if !run.memory.is_empty() {
                out.push_str("\n| server memory (RSS) | MB |\n| --- | ---: |\n");
                for (name, mb) in &run.memory {
                    out.push_str(&format!("| {name} | {mb:.0} |\n"));
                }
            }
            if !run.notes.is_empty() {
                out.push('\n');
                for note in &run.notes {
                    out.push_str(&format!("- {note}\n"));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// A ratio to the ceiling: two decimals, or four below 0.01 (so that 0.0004 is not 0.00).
pub fn ratio_text(x: f64) -> String {
    if x < 0.01 { format!("{x:.4}") } else { format!("{x:.2}") }
}

/// `1234567.8` as `1,234,568`; below 100 with one decimal (`12.5`).
pub fn thousands(x: f64) -> String {
    if x.abs() < 100.0 {
        return format!("{x:.1}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

/// A latency for the table: `-` when there is none, else to a precision that suits it.
pub fn ms(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) if x < 10.0 => format!("{x:.2}"),
        Some(x) if x < 1000.0 => format!("{x:.1}"),
        Some(x) => thousands(x),
    }
}

fn ms_of(x: f64) -> String {
    ms(Some(x))
}

/// Each figure of `now` beside the same figure of `before`, with the ratio now / before; the
/// scenarios only one of them has are listed as such.
pub fn compare_lines(now: &Report, before: &Report) -> Vec<String> {
    let mut lines = vec![format!(
        "comparing with the run of {} (commit {}, {}) -> now {} (commit {}, {})",
        before.date,
        before.commit,
        mode(before),
        now.date,
        now.commit,
        mode(now)
    )];
    // Runs are matched by label: `postgres-x2` is compared with `postgres-x2` only.
    let earlier: HashMap<(String, &str), &Row> = before
        .runs
        .iter()
        .flat_map(|run| run.rows.iter().map(move |r| ((run.label(), r.name.as_str()), r)))
        .collect();
    let earlier_memory: HashMap<(String, &str), f64> = before
        .runs
        .iter()
        .flat_map(|run| run.memory.iter().map(move |(n, mb)| ((run.label(), n.as_str()), *mb)))
        .collect();
    for run in &now.runs {
        let label = run.label();
        let width = run.rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        for r in &run.rows {
            let Some(old) = earlier.get(&(label.clone(), r.name.as_str())) else {
                lines.push(format!("{label} {:width$}  new: {}", r.name, figures(r)));
                continue;
            };
            lines.push(format!(
                "{label} {:width$}  {} {}  p50 {}  p99 {}  max {}  errors {} (was {})",
                r.name,
                r.unit.label(),
                beside(Some(r.throughput), Some(old.throughput), thousands),
                beside(r.p50_ms, old.p50_ms, ms_of),
                beside(r.p99_ms, old.p99_ms, ms_of),
                beside(r.max_ms, old.max_ms, ms_of),
                r.errors,
                old.errors
            ));
        }
        for (name, mb) in &run.memory {
            let old = earlier_memory.get(&(label.clone(), name.as_str())).copied();
            lines.push(format!(
                "{label} memory, {name}: MB {}",
                beside(Some(*mb), old, |x| format!("{x:.0}"))
            ));
        }
    }
    let now_keys: Vec<(String, &str)> = now
        .runs
        .iter()
        .flat_map(|run| run.rows.iter().map(move |r| (run.label(), r.name.as_str())))
        .collect();
    let mut gone: Vec<_> = earlier.keys().filter(|k| !now_keys.contains(k)).collect();
    gone.sort();
    for (label, name) in gone {
        lines.push(format!("{label} {name}  not run this time"));
    }
    lines
}

fn mode(report: &Report) -> &'static str {
    if report.quick { "quick" } else { "full" }
}

fn figures(r: &Row) -> String {
    format!(
        "{} {}  p50 {}  p99 {}  max {}  errors {}",
        thousands(r.throughput),
        r.unit.label(),
        ms(r.p50_ms),
        ms(r.p99_ms),
        ms(r.max_ms),
        r.errors
    )
}

/// `12.0 (was 10.0, x1.20)`; without an earlier figure `12.0 (was -)`.
fn beside(now: Option<f64>, before: Option<f64>, show: impl Fn(f64) -> String) -> String {
    let now_text = now.map(&show).unwrap_or_else(|| "-".into());
    match (now, before) {
        (Some(now), Some(before)) if before != 0.0 => {
            format!("{now_text} (was {}, x{:.2})", show(before), now / before)
        }
        (_, Some(before)) => format!("{now_text} (was {})", show(before)),
        (_, None) => format!("{now_text} (was -)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, throughput: f64, p99: f64) -> Row {
        Row {
            name: name.into(),
            unit: Unit::Requests,
            throughput,
            p50_ms: Some(p99 / 2.0),
            p99_ms: Some(p99),
            max_ms: Some(p99 * 2.0),
            errors: 0,
            ratio: None,
            note: String::new(),
            lost: None,
        }
    }

    fn report(rows: Vec<Row>) -> Report {
        let mut run = Run::new("sqlite");
        run.rows = rows;
        run.memory = vec![("idle".into(), 40.0)];
        run.notes = vec!["quick".into()];
        run.fill_ratios();
        Report {
            date: "2026-11-26".into(),
            commit: "abc1234".into(),
            cores: 2,
            quick: true,
            seconds_per_scenario: 2,
            concurrency: 64,
            wall_seconds: 100.0,
            runs: vec![run],
        }
    }

    #[test]
    fn ratios_are_to_the_same_runs_ceiling_and_only_for_requests() {
        let mut bulk = row("bulk", 50_000.0, 1.0);
        bulk.unit = Unit::Rows;
        let report = report(vec![row("ceiling", 100_000.0, 1.0), row("get", 25_000.0, 1.0), bulk]);
        let ratios: Vec<_> = report.runs[0].rows.iter().map(|r| r.ratio).collect();
        assert_eq!(ratios, [Some(1.0), Some(0.25), None]);
    }

    #[test]
    fn json_reads_back_as_written() {
        let mut report = report(vec![row("ceiling", 100_000.0, 1.5), row("get", 25_000.0, 4.0)]);
        report.runs[0].rows[1].lost = Some(3);
        report.runs[0].movie_id_gaps = Some(0);
        let again = Report::from_json(&report.to_json()).unwrap();
        assert_eq!(again, report);
        assert!(Report::from_json(&json!({ "other": 1 })).is_err());
    }

    #[test]
    fn compare_prints_each_figure_beside_the_earlier_one_with_the_ratio() {
        let before = report(vec![row("ceiling", 100_000.0, 2.0), row("old_only", 1.0, 1.0)]);
        let now = report(vec![row("ceiling", 120_000.0, 1.0), row("new_only", 5.0, 1.0)]);
        let lines = compare_lines(&now, &before);
        let ceiling = lines.iter().find(|l| l.contains(" ceiling ")).unwrap();
        assert!(ceiling.contains("120,000 (was 100,000, x1.20)"), "{ceiling}");
        assert!(ceiling.contains("p99 1.00 (was 2.00, x0.50)"), "{ceiling}");
        assert!(lines.iter().any(|l| l.contains("new_only") && l.contains("new:")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("old_only  not run")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("memory, idle: MB 40 (was 40, x1.00)")));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(12.34), "12.3");
        assert_eq!(ms(Some(0.123)), "0.12");
        assert_eq!(ms(Some(123.45)), "123.5");
        assert_eq!(ms(None), "-");
        assert_eq!(ratio_text(0.25), "0.25");
        assert_eq!(ratio_text(0.00036), "0.0004");
    }

    #[test]
    fn the_table_has_a_line_per_scenario_and_the_memory() {
        let text = report(vec![row("ceiling", 100_000.0, 1.0)]).markdown_tables();
        assert!(text.contains("| ceiling | 100,000 req/s | 0.50 | 1.00 | 2.00 | 0 | 1.00 |  |"));
        assert!(text.contains("| idle | 40 |"), "{text}");
        assert!(text.contains("- quick"), "{text}");
    }
}
