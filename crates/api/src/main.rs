//! `movies-api`: starts the server with the configuration from the environment.

use std::process::ExitCode;

use movies_api::{Application, Config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(config) => config,
        Err(message) => return fail(&message),
    };
    if let Err(message) = telemetry::init(&config.rust_log) {
        return fail(&message);
    }
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(e) => return fail(&e.to_string()),
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server error: {e}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("movies-api: {message}");
    ExitCode::FAILURE
}
