//! Logging: tracing filtered by `RUST_LOG`, as text or JSON (`LOG_FORMAT`), to the writer the
//! caller gives (stderr for the server; tests pass their own so they can keep quiet or capture
//! it). The command-line subcommands write through [`AboveProgress`], so that a log line never
//! tears a progress bar.

use std::io::Write;
use std::sync::OnceLock;

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

const QUIET_NOTICES: &str = "sqlx::postgres::notice=warn";

/// Installs the global subscriber writing text to `writer`, with colours when `ansi`: see
/// [`init_with`].
pub fn init<W>(filter: &str, writer: W, ansi: bool) -> Result<(), String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    init_with(filter, LogFormat::Text, writer, ansi)
}

/// Installs the global subscriber writing to `writer` in `format` (colours only for text, when
/// `ansi`). Fails on a filter that does not parse; a second call (tests start several apps in one
/// process) keeps the first subscriber.
pub fn init_with<W>(filter: &str, format: LogFormat, writer: W, ansi: bool) -> Result<(), String>
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
    let builder = tracing_subscriber::fmt().with_env_filter(parsed).with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        // One JSON object a line: the event's fields flattened beside `timestamp`, `level` and
        // `target`, and the request's span (method, path, request id) under `span`.
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).try_init(),
    };
    Ok(())
}

/// The progress bars of the command-line subcommands: a bar added here has log lines written
/// above it by [`AboveProgress`].
pub fn progress() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// Writes log lines to stderr above the progress bars of [`progress`]: the bars are cleared, the
/// line written, and the bars drawn again below it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AboveProgress;

impl Write for AboveProgress {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter hands over a whole line in one call.
        progress().suspend(|| std::io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for AboveProgress {
    type Writer = AboveProgress;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}
