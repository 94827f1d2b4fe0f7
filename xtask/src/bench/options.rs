//! The command line of `cargo xtask bench`: which scenarios, for how long, at what concurrency,
//! and an earlier run to compare with.

use std::path::PathBuf;
use std::time::Duration;

/// Every scenario, in the order they run.
pub const SCENARIOS: &[&str] = &[
    "ceiling",
    "ceiling_bare",
    "get_movie",
    "get_movie_public",
    "list_movies",
    "filter_movies",
    "create_movie",
    "mixed",
    "bulk",
    "ws_fanout",
    "connections",
    "memory",
    "generate",
    "scale",
];

pub const USAGE: &str = "\
Usage: cargo xtask bench [--quick [--scale]] [--only SCENARIO[,...]] [--duration SECS]
                         [--concurrency N] [--instances N] [--compare FILE] [--no-write]

  --quick            2 s per scenario instead of 10; the generation beside get_movie with
                     100,000 movies instead of 1,000,000; and no second server (1,000,000
                     movies generated on their own, then `scale` on them: 5 minutes and more
                     on 2 cores) unless --scale or --only names `generate` or `scale`
  --scale            with --quick: run the second server all the same (on PostgreSQL about
                     3.5 minutes more: 1,000,000 movies generated in about 100 s on 2 shared
                     cores, 200,000 characters, VACUUM ANALYZE, the reads)
  --only LIST        run only these scenarios (comma-separated); `ceiling` always runs, as
                     every ratio needs it; `memory` runs `connections` and `ws_fanout` too
  --duration SECS    seconds per timed scenario (overrides the 10 s or 2 s)
  --concurrency N    connections of the fixed-concurrency scenarios (default 64)
  --instances N      with BENCH_DATABASE_URL: after the one-instance runs, the scenarios once
                     more on N instances (2 to 8) sharing one fresh PostgreSQL database behind
                     nginx, which takes the load and the WebSocket listeners (round robin);
                     memory, `scale` and the 1,000,000-movie `generate` are left out there.
                     Needs nginx (Debian: apt-get install -y nginx)
  --compare FILE     print each figure beside the same figure of an earlier target/bench.json
  --no-write         leave docs/benchmarks.md and docs/img/benchmarks.png as they are
                     (target/bench.json is written still)

Scenarios: ceiling ceiling_bare get_movie get_movie_public list_movies filter_movies
create_movie mixed bulk ws_fanout connections memory generate scale.
With BENCH_DATABASE_URL=postgres://USER@HOST:PORT/NAME set, every scenario runs again on
PostgreSQL after SQLite. The bench creates database NAME on that server, fresh for each server
it starts (NAME, NAME_small, NAME_scale, NAME_x2 for --instances 2), and drops each when its
server stops; nothing else on the server is touched. A NAME that exists already is refused,
unless a killed bench run left it (then it is dropped first). It needs psql. Such a run writes
only its own section of docs/benchmarks.md (PostgreSQL beside SQLite) and keeps the rest; a run
without it rewrites the rest and keeps that section.
With BENCH_BINARY=PATH set, that server binary runs instead of this tree's release build (to
measure an earlier commit with the same harness).
";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
pub struct Options {
    pub quick: bool,
    pub duration: Duration,
    pub concurrency: usize,
    /// The scenarios to run, in [`SCENARIOS`] order.
    pub scenarios: Vec<&'static str>,
    pub compare: Option<PathBuf>,
    pub write_docs: bool,
    /// `--scale`, or `--only` given: the second server runs even with `--quick`.
    pub scale: bool,
    /// `--instances N`: N instances behind nginx after the one-instance runs; 1 for none.
    pub instances: usize,
}

impl Options {
    pub fn runs(&self, scenario: &str) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// How many movies the generation beside `get_movie` asks for.
    pub fn generate_beside(&self) -> u64 {
        if self.quick { 100_000 } else { 1_000_000 }
    }

    /// Whether the second server runs: 1,000,000 movies generated on their own (`generate`),
    /// then `scale` on them. Left out of a quick run unless asked for.
    pub fn second_server(&self) -> bool {
        (self.runs("generate") || self.runs("scale")) && (!self.quick || self.scale)
    }
}

/// What `parse` found: options, or a request for the usage text.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Options),
    Help,
}

pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut quick = false;
    let mut duration = None;
    let mut concurrency = 64;
    let mut only: Option<Vec<&'static str>> = None;
    let mut compare = None;
    let mut write_docs = true;
    let mut scale = false;
    let mut instances = 1;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value =
            |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quick" => quick = true,
            "--no-write" => write_docs = false,
            "--scale" => scale = true,
            "--duration" => {
                let text = value("--duration")?;
                let secs: u64 = text
                    .parse()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or_else(|| format!("--duration {text}: expected seconds, 1 to 3600"))?;
                duration = Some(Duration::from_secs(secs));
            }
            "--concurrency" => {
                let text = value("--concurrency")?;
                concurrency = text
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| format!("--concurrency {text}: expected 1 to 10000"))?;
            }
            "--instances" => {
                let text = value("--instances")?;
                instances = text
                    .parse()
                    .ok()
                    .filter(|n| (1..=8).contains(n))
                    .ok_or_else(|| format!("--instances {text}: expected 1 to 8"))?;
            }
            "--only" => only = Some(scenario_list(&value("--only")?)?),
            "--compare" => compare = Some(PathBuf::from(value("--compare")?)),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    // Naming a scenario asks for it, quick or not.
    scale |= only.is_some();
    let mut wanted = only.unwrap_or_else(|| SCENARIOS.to_vec());
    wanted.push("ceiling");
    if wanted.contains(&"memory") {
        wanted.extend(["connections", "ws_fanout"]);
    }
    let scenarios = SCENARIOS.iter().copied().filter(|s| wanted.contains(s)).collect();
    let default = if quick { 2 } else { 10 };
    Ok(Parsed::Run(Options {
        quick,
        duration: duration.unwrap_or(Duration::from_secs(default)),
        concurrency,
        scenarios,
        compare,
        write_docs,
        scale,
        instances,
    }))
}

fn scenario_list(text: &str) -> Result<Vec<&'static str>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            SCENARIOS.iter().copied().find(|s| *s == name).ok_or_else(|| {
                format!("unknown scenario `{name}`; the scenarios are {}", SCENARIOS.join(", "))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Options {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args) {
            Ok(Parsed::Run(options)) => options,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn parse_err(args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args).unwrap_err()
    }

    #[test]
    fn by_default_everything_runs_10_s_at_64_connections() {
        let options = parse_ok(&[]);
        assert_eq!(options.scenarios, SCENARIOS);
        assert_eq!(options.duration, Duration::from_secs(10));
        assert_eq!(options.concurrency, 64);
        assert_eq!(options.instances, 1);
        assert!(!options.quick && options.write_docs && options.compare.is_none());
        assert_eq!(options.generate_beside(), 1_000_000);
        assert!(options.second_server());
    }

    #[test]
    fn quick_is_2_s_and_a_smaller_generation() {
        let options = parse_ok(&["--quick"]);
        assert_eq!(options.duration, Duration::from_secs(2));
        assert_eq!(options.generate_beside(), 100_000);
        assert_eq!(parse_ok(&["--quick", "--duration", "5"]).duration, Duration::from_secs(5));
        assert!(!options.second_server());
        assert!(parse_ok(&["--quick", "--scale"]).second_server());
        assert!(parse_ok(&["--quick", "--only", "scale"]).second_server());
        assert!(!parse_ok(&["--quick", "--only", "get_movie"]).second_server());
    }

    #[test]
    fn only_keeps_the_order_and_always_adds_the_ceiling() {
        let options = parse_ok(&["--only", "mixed,get_movie"]);
        assert_eq!(options.scenarios, ["ceiling", "get_movie", "mixed"]);
        let options = parse_ok(&["--only", "memory"]);
        assert_eq!(options.scenarios, ["ceiling", "ws_fanout", "connections", "memory"]);
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert!(parse_err(&["--only", "get_movie,nope"]).contains("unknown scenario `nope`"));
        assert!(parse_err(&["--duration", "0"]).contains("--duration"));
        assert!(parse_err(&["--duration"]).contains("needs a value"));
        assert!(parse_err(&["--concurrency", "many"]).contains("--concurrency"));
        assert!(parse_err(&["--fast"]).contains("--fast"));
        assert!(parse_err(&["--instances", "9"]).contains("--instances"));
        assert_eq!(parse_ok(&["--instances", "2"]).instances, 2);
    }

    #[test]
    fn compare_no_write_and_help() {
        let options = parse_ok(&["--compare", "old.json", "--no-write", "--concurrency", "8"]);
        assert_eq!(options.compare, Some(PathBuf::from("old.json")));
        assert!(!options.write_docs);
        assert_eq!(options.concurrency, 8);
        assert_eq!(parse(&["--help".to_string()]), Ok(Parsed::Help));
    }
}
