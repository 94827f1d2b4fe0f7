//! The HTTP adapter of the Movies & Characters API: axum routes over the domain services, the
//! one place where errors become HTTP responses, configuration and start-up. The binary
//! (`main.rs`) is a thin shell over [`startup::Application`].
//!
//! Depends on `movies-domain` for the rules and on `movies-infra` only to wire the adapters in
//! [`state::AppState::new`]; handlers never touch SeaORM.

pub mod cli;
pub mod config;
pub mod dto;
pub mod error;
pub mod extractors;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod ws;

pub use config::Config;
pub use startup::Application;
