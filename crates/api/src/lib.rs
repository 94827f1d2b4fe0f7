//! The HTTP adapter of the Movies & Characters API: axum routes over the domain services, the
//! one place where errors become HTTP responses, configuration and start-up. The binary
//! (`main.rs`) is a thin shell over [`startup::Application`].
//!
//! Depends on `movies-domain` for the rules and on `movies-infra` only to wire the adapters in
//! [`startup`] and [`cli`]; handlers never touch SeaORM. It exports what the binary and the tests
//! use: the configuration, the application, the router over [`state::AppState`], the HTTP server
//! under it ([`server`]), the CLI subcommands and the log set-up; DTOs, extractors and the error
//! mapping stay inside.

pub mod cli;
pub mod config;
mod dto;
mod error;
mod extractors;
pub mod metrics;
mod openapi;
pub mod routes;
pub mod server;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
mod ws;

pub use config::Config;
pub use startup::Application;
pub use ws::Listeners;
