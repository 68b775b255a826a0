//! Kafka's request and response frames, without I/O: a 4-byte big-endian size, then the header (API key,
//! version, correlation id and client id going out; the correlation id coming back), then the body encoded
//! at the negotiated version. The frame size from the wire is checked before anything is allocated for it.
//! Inside a frame, `kafka-protocol`'s decoders read the counts; they reject truncated input but reserve
//! array capacity by the announced count, so a hostile broker could still make us allocate too much. We only
//! read frames from a broker whose certificate verified, and keep a property test out of this crate
//! until the codecs bound their reservations by the remaining bytes.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// The largest response we accept. ACL listings are small; anything near this is a broken stream.
pub const MAX_RESPONSE_SIZE: usize = 64 * 1024 * 1024;

/// A frame that cannot be built or understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("could not encode the request: {0}")]
    Encode(String),
    #[error("response size {0} is negative or larger than {MAX_RESPONSE_SIZE} bytes")]
    Size(i64),
    #[error("response for correlation id {got}, expected {expected}")]
    Correlation { expected: i32, got: i32 },
    #[error("could not decode the response: {0}")]
    Decode(String),
}

/// The name of the APIs this client uses, for errors.
pub fn api_name(key: i16) -> &'static str {
    match key {
        3 => "Metadata",
        18 => "ApiVersions",
        29 => "DescribeAcls",
        30 => "CreateAcls",
        31 => "DeleteAcls",
        _ => "request",
    }
}

/// The complete frame (size prefix included) of `request` at `version`.
pub fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<Bytes, FrameError> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_owned())));
    let mut frame = BytesMut::with_capacity(64);
    frame.extend_from_slice(&[0; 4]);
    header
        .encode(&mut frame, R::header_version(version))
        .map_err(|e| FrameError::Encode(format!("{e:#}")))?;
    request
        .encode(&mut frame, version)
        .map_err(|e| FrameError::Encode(format!("{e:#}")))?;
    let size = i32::try_from(frame.len() - 4)
        .map_err(|_| FrameError::Encode(format!("request of {} bytes", frame.len())))?;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    Ok(frame.freeze())
}

/// The size announced by a response's 4-byte prefix, checked.
pub fn response_size(prefix: [u8; 4]) -> Result<usize, FrameError> {
    let size = i32::from_be_bytes(prefix);
    usize::try_from(size)
        .ok()
        .filter(|&s| s <= MAX_RESPONSE_SIZE)
        .ok_or(FrameError::Size(i64::from(size)))
}

/// Splits a response (the bytes after the size prefix) into its header, checked against the correlation
/// id we sent, and the body still to decode. `header_version` is the response header version of the API
/// and version we asked for.
pub fn split_response(
    mut frame: Bytes,
    header_version: i16,
    correlation_id: i32,
) -> Result<Bytes, FrameError> {
    let header = ResponseHeader::decode(&mut frame, header_version)
        .map_err(|e| FrameError::Decode(format!("response header: {e:#}")))?;
    if header.correlation_id != correlation_id {
        return Err(FrameError::Correlation {
            expected: correlation_id,
            got: header.correlation_id,
        });
    }
    Ok(frame)
}

/// Decodes the body of the response to `R` at `version`.
pub fn decode_body<R: Request>(mut body: Bytes, version: i16) -> Result<R::Response, FrameError> {
    R::Response::decode(&mut body, version).map_err(|e| FrameError::Decode(format!("{e:#}")))
}

/// The response header version for `R` at `version`.
pub fn response_header_version<R: Request>(version: i16) -> i16 {
    <R::Response as HeaderVersion>::header_version(version)
}

/// The error code every ApiVersions response starts with, whatever its version: a broker that does not
/// support the version we asked for answers with a version-0 body carrying `UNSUPPORTED_VERSION` and its
/// own version ranges.
pub fn leading_error_code(body: &Bytes) -> Option<i16> {
    let mut peek = body.slice(..);
    (peek.remaining() >= 2).then(|| peek.get_i16())
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{ApiVersionsRequest, DescribeAclsRequest};

    use super::*;

    #[test]
    fn api_versions_v3_request_bytes() {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("holt-kafka"))
            .with_client_software_version(StrBytes::from_static_str("0.1.0"));
        let frame = encode_request(&request, 3, 7, "holt-operator").expect("encodes");
        let expected: Vec<u8> = [
            &[0, 0, 0, 42][..], // size of what follows
            &[0, 18, 0, 3],     // ApiVersions, version 3
            &[0, 0, 0, 7],      // correlation id
            &[0, 13],           // client id: INT16 length (never compact)
            b"holt-operator",   //
            &[0],               // header tagged fields (header v2)
            &[11],              // compact string: length + 1
            b"holt-kafka",      //
            &[6],               //
            b"0.1.0",           //
            &[0],               // body tagged fields
        ]
        .concat();
        assert_eq!(&frame[..], &expected[..]);
    }

    #[test]
    fn describe_acls_v1_request_bytes_are_not_flexible() {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(2)
            .with_resource_name_filter(Some(StrBytes::from_static_str("t")))
            .with_pattern_type_filter(3)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(1)
            .with_permission_type(1);
        let frame = encode_request(&request, 1, 1, "c").expect("encodes");
        let expected: Vec<u8> = [
            &[0, 0, 0, 22][..],
            &[0, 29, 0, 1], // DescribeAcls v1, header v1
            &[0, 0, 0, 1],
            &[0, 1],
            b"c",
            &[2],    // TOPIC
            &[0, 1], // name "t"
            b"t",
            &[3],          // LITERAL
            &[0xff, 0xff], // principal null
            &[0xff, 0xff], // host null
            &[1],          // ANY operation
            &[1],          // ANY permission
        ]
        .concat();
        assert_eq!(&frame[..], &expected[..]);
    }

    #[test]
    fn response_sizes_are_checked() {
        assert_eq!(response_size([0, 0, 1, 0]), Ok(256));
        assert_eq!(response_size([0xff, 0xff, 0xff, 0xff]), Err(FrameError::Size(-1)));
        assert_eq!(
            response_size([0x7f, 0xff, 0xff, 0xff]),
            Err(FrameError::Size(i64::from(i32::MAX)))
        );
    }

    #[test]
    fn correlation_ids_must_match() {
        // Header v0: just the correlation id.
        let frame = Bytes::from_static(&[0, 0, 0, 9, 0, 0]);
        assert_eq!(
            split_response(frame.clone(), 0, 9).expect("matches"),
            Bytes::from_static(&[0, 0])
        );
        assert_eq!(
            split_response(frame, 0, 8),
            Err(FrameError::Correlation { expected: 8, got: 9 })
        );
    }

    #[test]
    fn truncated_responses_are_decode_errors_not_panics() {
        assert!(matches!(
            split_response(Bytes::from_static(&[0, 0]), 0, 1),
            Err(FrameError::Decode(_))
        ));
        for len in 0..12 {
            let body = Bytes::from(vec![0u8; len]);
            assert!(decode_body::<DescribeAclsRequest>(body, 1).is_err());
        }
    }
}
