//! Limits on one document of a manifest file (YAML or JSON), checked while streaming through it, before it
//! is read into memory: at most [`MAX_DEPTH`] levels of nested mappings and lists, and at most
//! [`Limits::max_document_bytes`] bytes (`--max-document-mib`). Text in, the first document over a limit out.
//!
//! Why a separate pass: the parser that reads documents (libyaml, through `serde_yaml`) refuses more than
//! 128 levels only once it has scanned the whole document, and its scanner does work proportional to the
//! depth for every token of nested flow collections (`[[[`, `{"a": {"a": `): a 100,000-deep JSON document
//! took minutes to be refused. This pass uses a streaming parser (`granit-parser`) and stops at the first
//! level over the limit, so such a document is refused in milliseconds. Where the two parsers disagree on
//! whether a file is valid YAML, this pass stops checking that file and the reading parser reports the
//! problem as before.

use std::fmt;

use clap::builder::TypedValueParser as _;
use granit_parser::{ErrorKind, Event, Options, Parser};

/// The most levels of nested mappings and lists a document may have: the limit of the YAML parser that
/// reads documents (`serde_yaml` refuses the 129th level and cannot be told otherwise) and the default of
/// `serde_json`. Kubernetes objects nest far less: a CustomResourceDefinition's schema, among the deepest,
/// about 30.
pub const MAX_DEPTH: usize = 128;

/// The default of `--max-document-mib`.
pub const DEFAULT_MAX_DOCUMENT_MIB: usize = 64;

const MIB: usize = 1024 * 1024;

/// Limits the user may change.
#[derive(clap::Args, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitArgs {
    /// The largest document (one YAML document, or a JSON file) read, in MiB; a larger one is refused naming
    /// its file and position. A `List` of every ClientIntents of a large cluster is one document: raise this
    /// to read such an export.
    #[arg(
        long,
        env = "HOLT_MAX_DOCUMENT_MIB",
        value_name = "MIB",
        default_value_t = DEFAULT_MAX_DOCUMENT_MIB,
        value_parser = clap::value_parser!(u16).range(1..).map(usize::from),
    )]
    pub max_document_mib: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_document_bytes: self.max_document_mib.saturating_mul(MIB),
        }
    }
}

/// What one document may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_document_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_document_bytes: DEFAULT_MAX_DOCUMENT_MIB * MIB,
        }
    }
}

/// A limit a document goes over.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    #[error(
        "nested deeper than {MAX_DEPTH} levels (at line {line} column {column}): Holt reads at most \
         {MAX_DEPTH} levels of nested mappings and lists, the limit of its YAML parser"
    )]
    TooDeep { line: usize, column: usize },
    #[error(
        "the document is larger than the limit of {} (reached at line {line}); raise it with \
         --max-document-mib", Size(*limit)
    )]
    TooLarge { limit: usize, line: usize },
}

/// A document over a limit: its position in the file (1-based, as the reading parser counts documents)
/// and the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverLimit {
    pub document: usize,
    pub exceeded: Exceeded,
}

/// The first document of `text` over a limit, if any.
pub fn check(text: &str, limits: &Limits) -> Option<OverLimit> {
    let mut document = 0;
    let mut document_start = 0;
    let mut depth = 0usize;
    // Nesting is also bounded inside the parser: it looks ahead (up to 1,024 characters) for a `:` that
    // would make a flow collection a key, before it reports the collection, and must not go deeper than
    // the limit meanwhile.
    let mut options = Options::default();
    options.flow_nesting_limit = MAX_DEPTH;
    options.block_nesting_limit = MAX_DEPTH;
    options.set_emit_comments(false);
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = match event {
            Ok(found) => found,
            Err(error) if matches!(error.kind(), ErrorKind::RecursionLimitExceeded) => {
                let at = error.marker();
                return Some(OverLimit {
                    document: document.max(1),
                    exceeded: Exceeded::TooDeep {
                        line: at.line(),
                        column: at.col() + 1,
                    },
                });
            }
            // Any other error: the reading parser reports it (or reads what this one refuses), as
            // without this pass.
            Err(_) => return None,
        };
        let at = span.start;
        let offset = at.byte_offset().unwrap_or(at.index());
        let exceeded = match event {
            Event::DocumentStart(..) => {
                document += 1;
                document_start = offset;
                depth = 0;
                None
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                (depth > MAX_DEPTH).then_some(Exceeded::TooDeep {
                    line: at.line(),
                    column: at.col() + 1,
                })
            }
            Event::SequenceEnd | Event::MappingEnd => {
                depth = depth.saturating_sub(1);
                None
            }
            Event::StreamEnd => return None,
            _ => None,
        };
        let end = span.end.byte_offset().unwrap_or(span.end.index());
        let exceeded = exceeded.or_else(|| {
            (end.saturating_sub(document_start) > limits.max_document_bytes).then_some(Exceeded::TooLarge {
                limit: limits.max_document_bytes,
                line: span.end.line(),
            })
        });
        if let Some(exceeded) = exceeded {
            return Some(OverLimit {
                document: document.max(1),
                exceeded,
            });
        }
    }
    None
}

/// A size in MiB when it is a whole number of them, else in bytes.
struct Size(usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= MIB && self.0.is_multiple_of(MIB) {
            write!(f, "{} MiB", self.0 / MIB)
        } else {
            write!(f, "{} bytes", self.0)
        }
    }
}
