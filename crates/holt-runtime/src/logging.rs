//! One logging setup for every binary: `--log-format` (`HOLT_LOG_FORMAT`) chooses JSON (one object per
//! line, for log collectors; the default) or text (for people); the level comes from `RUST_LOG`, `info`
//! when it is unset or does not parse. Logs go to stderr; text is coloured only when stderr is a terminal,
//! so no colour codes end up in files or in the cluster's log store.
//!
//! In: the parsed [`LogArgs`]. Out: the installed global `tracing` subscriber.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

/// The level when `RUST_LOG` says nothing usable.
pub const DEFAULT_FILTER: &str = "info";

/// The logging flags every binary flattens into its own arguments.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct LogArgs {
    /// Log format on stderr: `json` (one object per line) or `text` (coloured only on a terminal). The
    /// level comes from `RUST_LOG` (default `info`).
    #[arg(long, env = "HOLT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

/// The filter `RUST_LOG` asks for, or [`DEFAULT_FILTER`].
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Installs the global subscriber. Call once, first thing in `main`; a second call changes nothing (the
/// first subscriber stays) and is reported on stderr.
pub fn init(args: &LogArgs) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    let installed = match args.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
    if let Err(error) = installed {
        eprintln!("logging was already set up: {error}");
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser, Debug)]
    struct Binary {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn json_is_the_default_and_text_is_a_choice() {
        Binary::command().debug_assert();
        let default = Binary::try_parse_from(["binary"]).map(|b| b.log.log_format);
        assert_eq!(default.ok(), Some(LogFormat::Json));
        let text = Binary::try_parse_from(["binary", "--log-format", "text"]).map(|b| b.log.log_format);
        assert_eq!(text.ok(), Some(LogFormat::Text));
        assert!(Binary::try_parse_from(["binary", "--log-format", "xml"]).is_err());
    }
}
