//! Logging: tracing filtered by `RUST_LOG`, to the writer the caller gives (stderr for the
//! server; tests pass their own so they can keep quiet or capture it).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

const QUIET_NOTICES: &str = "sqlx::postgres::notice=warn";

/// Installs the global subscriber writing to `writer`, with colours when `ansi`. Fails on a
/// filter that does not parse; a second call (tests start several apps in one process) keeps the
/// first subscriber.
pub fn init<W>(filter: &str, writer: W, ansi: bool) -> Result<(), String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let mut parsed = EnvFilter::try_new(filter)
        .map_err(|e| format!("configuration error: RUST_LOG: {filter:?} is not valid: {e}"))?;
    // PostgreSQL's notices ("relation ... already exists, skipping" at every start) are not
    // news, unless asked for by name.
    if !filter.contains("sqlx")
        && let Ok(quiet) = QUIET_NOTICES.parse()
    {
        parsed = parsed.add_directive(quiet);
    }
    let filter = parsed;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .try_init();
    Ok(())
}
