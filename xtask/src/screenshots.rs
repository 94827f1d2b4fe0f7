//! `cargo xtask screenshots`: pictures of the API's pages for the docs. Starts a throwaway
//! server, adds the sample movies and characters so the pages show data, and has Debian's headless
//! `chromium` save `/docs`, `/redoc` and `/` as `docs/img/docs.png`, `redoc.png`, `live.png`
//! (adding characters while the live page is open, so that its list of changes shows some).

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::sample;
use crate::server::{self, Server};

/// Each page and the file it is saved to, in docs/img.
const PAGES: &[(&str, &str)] = &[("/docs", "docs.png"), ("/redoc", "redoc.png"), ("/", "live.png")];

/// How long one chromium run may take; `--virtual-time-budget` keeps it to a few seconds.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

pub fn screenshots(_: &[String]) -> Result<(), String> {
    let binary = server::build()?;
    let mut server = Server::start(&binary, "screenshots")?;
    let token = server.login()?;
    sample::add(&mut server, &token)?;
    let out_dir = crate::workspace_root().join("docs/img");
    fs::create_dir_all(&out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    for (path, file) in PAGES {
        // Shot into the scratch directory first: a failed run leaves the old picture in place.
        let shot = server.dir().join(file);
        let profile = server.dir().join(format!("chromium-profile-{file}"));
        let log = server.dir().join("chromium.log");
        // `$CHROMIUM` as for the browser tests, else Debian's `chromium`.
        let mut cmd =
            Command::new(std::env::var_os("CHROMIUM").unwrap_or_else(|| "chromium".into()));
        cmd.args(chromium_args(&profile, &shot, &server.url(path)));
        if *path == "/" {
            // The live page lists the changes made while it is open: make some.
            let (port, token) = (server.port(), token.clone());
            let stop = Arc::new(AtomicBool::new(false));
            let writer = thread::spawn({
                let stop = Arc::clone(&stop);
                move || sample::add_while_watched(port, &token, &stop)
            });
            let shown = run_with_timeout(&mut cmd, &log, CHROMIUM_TIMEOUT);
            stop.store(true, Ordering::Relaxed);
            let written = writer.join().map_err(|_| "the writing thread panicked".to_string())?;
            shown?;
            written.map_err(|e| server.failure(&e))?;
        } else {
            run_with_timeout(&mut cmd, &log, CHROMIUM_TIMEOUT)?;
        }
        let size = fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            return Err(format!("chromium saved no picture of {path}{}", tail(&log)));
        }
        let target = out_dir.join(file);
        fs::copy(&shot, &target).map_err(|e| format!("writing {}: {e}", target.display()))?;
        println!("wrote docs/img/{file} ({} KiB), a picture of {path}", size.div_ceil(1024));
    }
    Ok(())
}

/// Headless chromium saving one `width x height` picture of `url` after 5 s of virtual time (so
/// Swagger UI and ReDoc have rendered), with a fresh profile and no calls home.
fn chromium_args(profile: &Path, picture: &Path, url: &str) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--disable-quic".into(),
        // Offline, as the pages must work: every host but the server's fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".into(),
        format!("--user-data-dir={}", profile.display()),
        "--hide-scrollbars".into(),
        "--window-size=1280,900".into(),
        "--virtual-time-budget=5000".into(),
        format!("--screenshot={}", picture.display()),
        url.into(),
    ]
}

/// Runs `cmd` with its output in `log`, killing it after `timeout`; `Err` shows the log's end.
fn run_with_timeout(cmd: &mut Command, log: &Path, timeout: Duration) -> Result<(), String> {
    let shown = crate::display(cmd);
    let output = File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let errors = output.try_clone().map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child =
        cmd.stdin(Stdio::null()).stdout(output).stderr(errors).spawn().map_err(|e| {
            format!("could not start `{shown}`: {e} (on Debian, `apt-get install chromium`)")
        })?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("`{shown}` failed ({status}){}", tail(log))),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let secs = timeout.as_secs();
                return Err(format!("`{shown}` did not finish in {secs} s{}", tail(log)));
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for `{shown}`: {e}")),
        }
    }
}

/// The last lines of a log file, for an error message.
fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!("\n{}", lines[lines.len().saturating_sub(20)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_is_headless_sized_and_given_time_to_render() {
        let args = chromium_args(Path::new("/tmp/p"), Path::new("/tmp/s.png"), "http://h/docs");
        for flag in
            ["--headless", "--no-sandbox", "--window-size=1280,900", "--virtual-time-budget=5000"]
        {
            assert!(args.iter().any(|a| a == flag), "{flag}");
        }
        assert!(args.contains(&"--user-data-dir=/tmp/p".to_string()));
        assert!(args.contains(&"--screenshot=/tmp/s.png".to_string()));
        assert_eq!(args.last().map(String::as_str), Some("http://h/docs"));
    }

    #[test]
    fn every_page_has_its_own_picture() {
        let files: Vec<&str> = PAGES.iter().map(|(_, file)| *file).collect();
        assert_eq!(files, ["docs.png", "redoc.png", "live.png"]);
    }
}
