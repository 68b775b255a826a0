//! The sniffer's credential for the mapper: a bearer token read from a file (`--token-file`), in the
//! chart a ServiceAccount token projected with audience `holt-mapper`, which the kubelet rewrites before
//! it expires. In: the file's path. Out: the `Authorization` header value, read afresh for every round
//! of reports so that a rotated token is used as soon as it is written.

use std::io::Read;
use std::path::{Path, PathBuf};

use http::HeaderValue;

/// The most of a token file read (a projected ServiceAccount token is about 1 KiB).
pub const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// Why the token could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {path} is empty")]
    Empty { path: PathBuf },
    #[error("the token file {path} is larger than {MAX_TOKEN_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("the token in {path} holds characters a header cannot carry")]
    NotAHeader { path: PathBuf },
}

/// `Bearer <the file's contents, trimmed>`, marked sensitive (never logged by the HTTP stack).
pub fn authorization(path: &Path) -> Result<HeaderValue, TokenError> {
    let read = |source| TokenError::Read {
        path: path.to_owned(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_TOKEN_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge {
            path: path.to_owned(),
        });
    }
    let token = text.trim();
    if token.is_empty() {
        return Err(TokenError::Empty {
            path: path.to_owned(),
        });
    }
    let mut value =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| TokenError::NotAHeader {
            path: path.to_owned(),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_trimmed_and_refused_when_unusable() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("token");
        std::fs::write(&path, "abc.def\n")?;
        let value = authorization(&path)?;
        assert_eq!(value, "Bearer abc.def");
        assert!(value.is_sensitive());
        std::fs::write(&path, " \n")?;
        assert!(matches!(authorization(&path), Err(TokenError::Empty { .. })));
        std::fs::write(&path, "a\u{1}b")?;
        assert!(matches!(authorization(&path), Err(TokenError::NotAHeader { .. })));
        std::fs::write(&path, "a".repeat(MAX_TOKEN_BYTES as usize + 1))?;
        assert!(matches!(authorization(&path), Err(TokenError::TooLarge { .. })));
        let missing = dir.path().join("missing");
        let error = authorization(&missing).expect_err("missing");
        assert!(error.to_string().contains("missing"), "{error}");
        Ok(())
    }
}
