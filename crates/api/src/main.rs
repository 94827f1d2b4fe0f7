//! `movies-api`: starts the server with the configuration from the environment, or runs one of
//! its subcommands (`create-admin`, `generate`, `openapi`).

use std::cell::Cell;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use movies_api::config::Command;
use movies_api::{Application, Config, cli, telemetry};

/// mimalloc, for Rust's allocations and, through its `override` feature, for every C allocation
/// in the process (SQLite's copies of each value it hands sqlx among them). Against glibc's
/// malloc, in alternating quick runs of `cargo xtask bench`: `list_movies` 6,143 and 5,457
/// against 4,022 and 4,339 req/s, where `perf` had found a third of the server's time in
/// glibc's malloc and free. Memory, in one quick run of `--only memory,connections,ceiling`:
/// idle 25 MB, with 10,000 listeners 89, 30 s after 10,000 connections 26 (glibc's, in the
/// quick runs before: 22, 122 and 35).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    give_back_at_once();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(give_back_now_and_then)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => fail(&format!("cannot start the async runtime: {e}")),
    }
}

/// mimalloc's `mi_option_purge_delay` (v3), which libmimalloc-sys does not name: how long
/// freed memory waits before it goes back to the system. A number, so a test checks it still
/// names that option.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Has freed memory go back to the system at once, not after mimalloc's default second, so
/// that memory read right after a load (a login's 19 MiB argon2 hash, a names stream) is what
/// is still in use. Measured with transparent huge pages still on: RSS after three logins 61 MB
/// with the default, 25 MB with none; without them, the same start and logins read 24 MB
/// either way.
fn give_back_at_once() {
    // SAFETY: mi_option_set only sets an option, which mimalloc reads each time it purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// How often, at most, a runtime thread hands its free memory back to the system.
const GIVE_BACK_EVERY: Duration = Duration::from_secs(10);

/// As a runtime thread goes idle, hands its free memory back to the system, if it has not in the
/// last [`GIVE_BACK_EVERY`]. mimalloc gives back a thread's free pages only when that thread
/// allocates again, and a worker that went quiet after 10,000 connections closed kept them:
/// RSS 30 s later 83 MB without this, 29 MB with it.
fn give_back_now_and_then() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let due = LAST.with(|last| match last.get() {
        Some(at) if now.duration_since(at) < GIVE_BACK_EVERY => false,
        _ => {
            last.set(Some(now));
            true
        }
    });
    if due {
        // SAFETY: mi_collect only frees what this thread's heap holds and no longer uses.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

async fn run() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        Err(message) => return fail(&message),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (filter, format) = (&config.rust_log, config.log_format);
    let logging = match config.command {
        // Its progress bars stay whole: log lines go above them.
        Some(Command::Generate { .. }) => {
            telemetry::init_with(filter, format, telemetry::AboveProgress, ansi)
        }
        _ => telemetry::init_with(filter, format, std::io::stderr, ansi),
    };
    if let Err(message) = logging {
        return fail(&message);
    }
    let result = match &config.command {
        None => serve(&config).await,
        Some(Command::CreateAdmin { username }) => cli::create_admin(&config, username).await,
        Some(Command::Generate { movies, characters }) => {
            cli::generate(&config, *movies, *characters).await
        }
        Some(Command::Openapi) => cli::openapi(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    let app = Application::build(config).await.map_err(|e| e.to_string())?;
    if let Some(limit) = raise_open_files_limit() {
        // Connections and listeners are file descriptors, and so are the pool's connections
        // and the database files: a few dozen besides.
        let wanted = config.max_connections + config.ws_max_connections + 64;
        if limit < wanted {
            tracing::warn!(
                limit,
                wanted,
                "the open-file limit is below MAX_CONNECTIONS + WS_MAX_CONNECTIONS: connections \
                 beyond it fail to be accepted until others close; raise it (ulimit -n) or lower them"
            );
        }
    }
    app.run_until_stopped().await.map_err(|e| format!("server error: {e}"))
}

/// Raises the soft limit on open files to the hard limit, as the usual soft limit (1,024) is far
/// below the connections the server is meant to hold; returns the limit now in force.
fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit only read and write the `rlimit` passed to them.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if limit.rlim_cur < limit.rlim_max && libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0
            {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        Some(limit.rlim_cur)
    }
    #[cfg(not(unix))]
    None
}

fn fail(message: &str) -> ExitCode {
    eprintln!("movies-api: {message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mimalloc upgrade that renumbered its options would have the server set another one.
    #[test]
    fn the_purge_delay_option_is_mimallocs_purge_delay_of_one_second_by_default() {
        // SAFETY: mi_option_get only reads an option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000, "mimalloc.h's mi_option_purge_delay defaults to 1000 ms");
    }
}
