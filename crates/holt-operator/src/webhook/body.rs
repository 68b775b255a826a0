//! Reading a review's body: into one [`ReviewBuffer`] sized from its `Content-Length` (no copy, no
//! doubling), refused as soon as it passes its limit; or to nothing, for a review refused for now. In: the
//! request body and its limit; out: the bytes, or why not. The caller bounds the time it takes.

use axum::body::Body;
use http_body_util::BodyExt;

use super::buffer::ReviewBuffer;

/// A buffer never starts larger than this when the body declares no length.
const UNDECLARED_START: usize = 64 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("cannot read the body: {0}")]
    Read(axum::Error),
}

/// The `Content-Length` a request declares, if any: `Err` when it is not a number.
pub(super) fn declared_length(headers: &axum::http::HeaderMap) -> Result<Option<usize>, String> {
    match headers.get(axum::http::header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .map(Some)
            .ok_or_else(|| format!("Content-Length {value:?} is not a number")),
    }
}

/// Reads `body` whole, at most `limit` bytes; `declared` (its `Content-Length`, already checked against the
/// limit) sizes the buffer.
pub(super) async fn read_body(
    body: Body,
    declared: Option<usize>,
    limit: usize,
) -> Result<ReviewBuffer, BodyError> {
    let mut buffer = ReviewBuffer::with_capacity(declared.unwrap_or(UNDECLARED_START).min(limit));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer)
}

/// Reads `body` to its end and drops it, at most `limit` bytes, holding none of it: a review refused for now
/// is read before it is answered, because an HTTP/1.1 client still sending a body it was refused may see
/// the connection break instead of the answer.
pub(super) async fn discard_body(body: Body, limit: usize) -> Result<usize, BodyError> {
    let mut body = body;
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            read += data.len();
            if read > limit {
                return Err(BodyError::TooLarge { limit });
            }
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_within_its_limit_is_read_into_a_buffer_of_its_size() {
        let body = read_body(Body::from(vec![7u8; 1000]), Some(1000), 1000)
            .await
            .expect("read");
        assert_eq!(body.as_slice(), &[7u8; 1000][..]);
    }

    #[tokio::test]
    async fn a_body_past_its_limit_is_refused() {
        let error = read_body(Body::from(vec![7u8; 1001]), None, 1000)
            .await
            .expect_err("too large");
        assert!(matches!(error, BodyError::TooLarge { limit: 1000 }), "{error}");
    }

    #[test]
    fn a_declared_length_must_be_a_number() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(declared_length(&headers), Ok(None));
        headers.insert("content-length", "42".parse().expect("value"));
        assert_eq!(declared_length(&headers), Ok(Some(42)));
        headers.insert("content-length", "-1".parse().expect("value"));
        assert!(declared_length(&headers).is_err());
    }
}
