//! `movies-api`: starts the server with the configuration from the environment, or runs one of
//! its subcommands (`create-admin`, `generate`, `openapi`).

use std::process::ExitCode;

use movies_api::config::Command;
use movies_api::{Application, Config, cli, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    return_large_blocks();
    tokio::spawn(trim_periodically());
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

/// Makes glibc give every block of 128 KiB or more back to the system when it is freed.
/// By default glibc raises that threshold to the largest block freed so far, so after the
/// first argon2 hash (19 MiB) it keeps each later one in its heap: 102 MB of RSS after three
/// logins at once, against 24 MB with the threshold fixed (measured on the release binary).
fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, under glibc's own lock; 128 KiB is
    // glibc's default value for it.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Every 10 s, hands glibc's free heap pages back to the system. Many connections leave their
/// buffers' small blocks scattered over the heaps, and glibc returns a heap's memory only from
/// its top: 10,000 connections left RSS at 351 MB 30 s after they closed.
async fn trim_periodically() {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        every.tick().await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free memory to the system, under glibc's locks.
        unsafe {
            libc::malloc_trim(0);
        }
    }
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
