//! Version negotiation: the broker announces, per API, the versions it supports (ApiVersions); for each API
//! we use, we speak the highest version both sides support.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::protocol::{Decodable, Message, Request, VersionRange};

/// The versions a broker supports, per API key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerVersions {
    ranges: BTreeMap<i16, (i16, i16)>,
}

impl BrokerVersions {
    /// The table of an ApiVersions response.
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        Self {
            ranges: response
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect(),
        }
    }

    /// The broker's `(min, max)` versions of API `key`, if it supports it at all.
    pub fn range(&self, key: i16) -> Option<(i16, i16)> {
        self.ranges.get(&key).copied()
    }

    /// The highest version of `R` both we and the broker support.
    pub fn negotiate<R: Request>(&self) -> Option<i16> {
        highest_common(R::VERSIONS, self.range(R::KEY))
    }

    /// How many APIs the broker announced.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the broker announced no API at all.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The highest version in both `ours` and the broker's `(min, max)`.
pub fn highest_common(ours: VersionRange, broker: Option<(i16, i16)>) -> Option<i16> {
    let (min, max) = broker?;
    let common = ours.intersect(&VersionRange { min, max });
    (!common.is_empty()).then_some(common.max)
}

/// What to make of an ApiVersions response body sent in answer to our request at `asked`.
#[derive(Debug, PartialEq)]
pub enum ApiVersionsOutcome {
    /// The broker answered at the version we asked for.
    Supported(Box<ApiVersionsResponse>),
    /// The broker does not speak that version of ApiVersions; ask again at this one.
    AskAgainAt(i16),
    /// The broker does not speak any version of ApiVersions we know.
    Unsupported { broker: Option<(i16, i16)> },
}

/// Interprets an ApiVersions response body. A broker that does not support the version we asked for
/// answers `UNSUPPORTED_VERSION` with a version-0 body listing what it supports, ApiVersions included.
pub fn read_api_versions(
    body: Bytes,
    asked: i16,
    error_code: Option<i16>,
) -> Result<ApiVersionsOutcome, String> {
    let unsupported = ResponseError::UnsupportedVersion.code();
    if error_code == Some(unsupported) && asked > 0 {
        let mut v0 = body;
        let response = ApiVersionsResponse::decode(&mut v0, 0).map_err(|e| format!("{e:#}"))?;
        let key = <kafka_protocol::messages::ApiVersionsRequest as Request>::KEY;
        let broker = BrokerVersions::from_response(&response).range(key);
        let ours = VersionRange {
            min: <ApiVersionsResponse as Message>::VERSIONS.min,
            max: asked - 1,
        };
        return Ok(match highest_common(ours, broker) {
            Some(version) => ApiVersionsOutcome::AskAgainAt(version),
            None => ApiVersionsOutcome::Unsupported { broker },
        });
    }
    let mut at = body;
    let response = ApiVersionsResponse::decode(&mut at, asked).map_err(|e| format!("{e:#}"))?;
    Ok(ApiVersionsOutcome::Supported(Box::new(response)))
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{CreateAclsRequest, DescribeAclsRequest, MetadataRequest};

    use super::*;
    use crate::framing::leading_error_code;

    /// A version-0 ApiVersions body: error code, then an INT32-counted array of (key, min, max).
    fn v0_body(error: i16, keys: &[(i16, i16, i16)]) -> Bytes {
        let mut bytes = error.to_be_bytes().to_vec();
        bytes.extend_from_slice(&(keys.len() as i32).to_be_bytes());
        for (key, min, max) in keys {
            for v in [key, min, max] {
                bytes.extend_from_slice(&v.to_be_bytes());
            }
        }
        Bytes::from(bytes)
    }

    #[test]
    fn picks_the_highest_version_both_support() {
        let ours = VersionRange { min: 1, max: 3 };
        assert_eq!(highest_common(ours, Some((0, 5))), Some(3));
        assert_eq!(highest_common(ours, Some((0, 2))), Some(2));
        assert_eq!(highest_common(ours, Some((2, 2))), Some(2));
        assert_eq!(highest_common(ours, Some((4, 9))), None);
        assert_eq!(highest_common(ours, Some((0, 0))), None);
        assert_eq!(highest_common(ours, None), None);
    }

    #[test]
    fn negotiates_per_api_from_a_v0_response() {
        // Metadata 0..12, CreateAcls 1..2, no DescribeAcls.
        let body = v0_body(0, &[(3, 0, 12), (30, 1, 2), (18, 0, 2)]);
        let outcome = read_api_versions(body.clone(), 0, leading_error_code(&body)).expect("decodes");
        let ApiVersionsOutcome::Supported(response) = outcome else {
            panic!("{outcome:?}");
        };
        let versions = BrokerVersions::from_response(&response);
        assert_eq!(versions.len(), 3);
        assert_eq!(versions.negotiate::<MetadataRequest>(), Some(12));
        assert_eq!(versions.negotiate::<CreateAclsRequest>(), Some(2));
        assert_eq!(versions.negotiate::<DescribeAclsRequest>(), None);
    }

    #[test]
    fn an_older_broker_makes_us_ask_again_at_its_highest_api_versions_version() {
        // UNSUPPORTED_VERSION (35) to our v4, announcing ApiVersions 0..2.
        let body = v0_body(35, &[(18, 0, 2), (3, 0, 9)]);
        let outcome = read_api_versions(body.clone(), 4, leading_error_code(&body)).expect("decodes");
        assert_eq!(outcome, ApiVersionsOutcome::AskAgainAt(2));

        // A broker announcing only versions above ours cannot be talked to.
        let body = v0_body(35, &[(18, 7, 9)]);
        let outcome = read_api_versions(body.clone(), 4, leading_error_code(&body)).expect("decodes");
        assert_eq!(outcome, ApiVersionsOutcome::Unsupported { broker: Some((7, 9)) });
    }

    #[test]
    fn a_truncated_body_is_an_error() {
        let body = Bytes::from_static(&[0, 35, 0, 0, 0, 5, 0]);
        assert!(read_api_versions(body.clone(), 3, leading_error_code(&body)).is_err());
    }
}
