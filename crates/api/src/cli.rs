//! The subcommands that run instead of the server: `create-admin` and `generate` on the
//! configured database, `openapi` on nothing.

use std::io::BufRead;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use movies_domain::jobs::{JobKind, JobStatus};
use movies_infra::jobs::{refresh_statistics_after, run_under_lease};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::startup::{Opened, open};

/// Creates or resets the admin `username`; the password from ADMIN_PASSWORD or standard input.
pub async fn create_admin(config: &Config, username: &str) -> Result<(), String> {
    let password = match &config.admin_password {
        Some(p) => p.expose_secret().to_owned(),
        None => {
            eprintln!("Password for {username} (one line on standard input):");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("reading the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let Opened { state, db, .. } = open(config).await.map_err(|e| e.to_string())?;
    let admin = state.auth.ensure_admin(username, password).await.map_err(|e| match e {
        movies_domain::Error::Invalid(errors) => {
            let reasons: Vec<_> = errors.into_iter().map(|e| e.msg).collect();
            format!("cannot create the admin: {}", reasons.join("; "))
        }
        other => format!("cannot create the admin: {other}"),
    })?;
    db.close().await.ok();
    println!("admin {} (id {}) is ready", admin.username, admin.id);
    Ok(())
}

/// Generates `movies` then `characters` as jobs run in this process (through `JobService`, as the
/// server's runner does), with a progress bar each.
pub async fn generate(config: &Config, movies: u64, characters: u64) -> Result<(), String> {
    let Opened { state, db, job_store, .. } = open(config).await.map_err(|e| e.to_string())?;
    let jobs = &state.jobs;
    for (kind, n) in [(JobKind::Movies, movies), (JobKind::Characters, characters)] {
        if n == 0 {
            continue;
        }
        let job = jobs.submit_as_system(kind, n).await.map_err(|e| match e {
            movies_domain::Error::Invalid(errors) => {
                let reasons: Vec<_> = errors.into_iter().map(|e| e.msg).collect();
                format!("cannot generate {kind}: {}", reasons.join("; "))
            }
            other => format!("cannot generate {kind}: {other}"),
        })?;
        // Claimed at once, so that a server sharing the database does not run it too.
        let job = jobs
            .claim(&job.id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the job was taken by a running server; watch it there")?;
        let bar = crate::telemetry::progress().add(ProgressBar::new(n).with_style(bar_style()?));
        bar.set_message(kind.to_string());
        let started = Instant::now();
        let ended = run_under_lease(&job_store, jobs, job, |done| bar.set_position(done)).await;
        bar.finish();
        let ended = ended
            .map_err(|e| format!("generating {kind}: cannot record its end: {e}"))?
            .ok_or(format!("generating {kind}: a server took the job over; watch it there"))?;
        let elapsed = started.elapsed().as_secs_f64();
        refresh_statistics_after(&job_store, &ended).await;
        if ended.status != JobStatus::Done {
            let reason = ended.error.map(|e| format!(": {e}")).unwrap_or_default();
            return Err(format!("generating {kind} ended {}{reason}", ended.status));
        }
        println!("{n} {kind} in {elapsed:.1} s: {:.0} rows/s", n as f64 / elapsed.max(1e-9));
    }
    db.close().await.ok();
    Ok(())
}

/// A generation's bar: rows done of rows asked, the rate in whole rows a second, time left.
fn bar_style() -> Result<ProgressStyle, String> {
    let style =
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({rate}, {eta} left)")
            .map_err(|e| e.to_string())?;
    Ok(style.progress_chars("=> ").with_key(
        "rate",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&whole_rate(state.per_sec()));
        },
    ))
}

/// `21034/s`: a rate as a whole number (indicatif's own `{per_sec}` shows four decimals).
fn whole_rate(per_sec: f64) -> String {
    let rate = if per_sec.is_finite() { per_sec.max(0.0) } else { 0.0 };
    format!("{rate:.0}/s")
}

/// Prints the OpenAPI document, pretty, with a final newline (as docs/openapi.json holds it).
pub fn openapi() -> Result<(), String> {
    println!("{}", openapi_json()?);
    Ok(())
}

/// The OpenAPI document as docs/openapi.json holds it.
pub fn openapi_json() -> Result<String, String> {
    crate::routes::openapi()
        .to_pretty_json()
        .map_err(|e| format!("cannot write the OpenAPI document: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_numbers() {
        assert_eq!(whole_rate(21034.5678), "21035/s");
        assert_eq!(whole_rate(0.4), "0/s");
        assert_eq!(whole_rate(f64::NAN), "0/s");
        assert_eq!(whole_rate(f64::INFINITY), "0/s");
    }
}
