//! The daemon's log: `tracing` events on stderr, one line each. By default in the form
//! journald reads from a service's stderr (`<6>` priority prefix, no timestamp: journald
//! adds it), or as JSON objects for machines (`--log-format json`). `RUST_LOG` filters
//! (default `info`).
//!
//! No secret is ever a field: passwords, PINs and keys never reach an event; texts that
//! come from clients (user names, file names) are escaped in the journald form and
//! JSON-escaped in the other.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// `<PRIORITY>message key=value ...`, as journald reads a service's stderr.
    #[default]
    Journald,
    /// One JSON object per line.
    Json,
}

/// Lines in the journald form: the syslog priority of the level, the fields.
struct Journald;

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>")?;
        // The fields into a string first, so nothing a client sent reaches the terminal
        // or the journal unescaped (a newline in a value would forge a second line).
        let mut line = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut line), event)?;
        let shown = ctl_format::printable(&line).replace('\n', "\\n");
        writeln!(writer, "{shown}")
    }
}

/// Sends this process's events to stderr in `format`. Called once, by the binary; a
/// library user of this crate installs its own subscriber instead.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    // A second call (or a subscriber already set) keeps the first: not an error worth a stop.
    let _ = match format {
        LogFormat::Journald => builder.event_format(Journald).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
