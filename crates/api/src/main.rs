//! `movies-api`: starts the server with the configuration from the environment, or runs one of
//! its subcommands (`create-admin`).

use std::io::BufRead;
use std::process::ExitCode;

use movies_api::config::Command;
use movies_api::startup::open_state;
use movies_api::{Application, Config, telemetry};
use secrecy::ExposeSecret;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        Err(message) => return fail(&message),
    };
    if let Err(message) = telemetry::init(&config.rust_log) {
        return fail(&message);
    }
    let result = match &config.command {
        None => serve(&config).await,
        Some(Command::CreateAdmin { username }) => create_admin(&config, username).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    let app = Application::build(config).await.map_err(|e| e.to_string())?;
    app.run_until_stopped().await.map_err(|e| format!("server error: {e}"))
}

/// Creates or resets the admin `username`; the password from ADMIN_PASSWORD or standard input.
async fn create_admin(config: &Config, username: &str) -> Result<(), String> {
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
    let state = open_state(config).await.map_err(|e| e.to_string())?;
    let admin = state.auth.ensure_admin(username, password).await.map_err(|e| match e {
        movies_domain::Error::Invalid(errors) => {
            let reasons: Vec<_> = errors.into_iter().map(|e| e.msg).collect();
            format!("cannot create the admin: {}", reasons.join("; "))
        }
        other => format!("cannot create the admin: {other}"),
    })?;
    state.db.close().await.ok();
    println!("admin {} (id {}) is ready", admin.username, admin.id);
    Ok(())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("movies-api: {message}");
    ExitCode::FAILURE
}
