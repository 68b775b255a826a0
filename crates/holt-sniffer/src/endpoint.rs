//! Where reports go: the mapper's base URL (`http://host[:port][/prefix]`), checked once at start-up.
//! Only plain HTTP: the mapper is reached over the cluster network, like the reference sniffer's
//! GraphQL endpoint.

use std::fmt;
use std::str::FromStr;

use holt_mapper_api::{LIMITS_PATH, REPORTS_PATH};

/// A parsed `--mapper-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address (IPv6 without brackets), for connecting.
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for the `Host` header.
    pub authority: String,
    /// The path reports are posted to: the URL's path prefix followed by [`REPORTS_PATH`].
    pub reports_path: String,
    /// Where the mapper announces its limits: the prefix followed by [`LIMITS_PATH`].
    pub limits_path: String,
}

/// Why a mapper URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("mapper URL {url:?} is not a valid URL: {reason}")]
    Invalid { url: String, reason: String },
    #[error("mapper URL {url:?} must use http:// (got {scheme:?})")]
    Scheme { url: String, scheme: String },
    #[error("mapper URL {url:?} has no host")]
    NoHost { url: String },
    #[error("mapper URL {url:?} must not have a query string")]
    Query { url: String },
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| EndpointError::Invalid {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        match uri.scheme_str() {
            Some("http") => {}
            other => {
                return Err(EndpointError::Scheme {
                    url: url.to_owned(),
                    scheme: other.unwrap_or("").to_owned(),
                });
            }
        }
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| EndpointError::NoHost { url: url.to_owned() })?;
        if uri.query().is_some() {
            return Err(EndpointError::Query { url: url.to_owned() });
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let prefix = uri.path().trim_end_matches('/');
        Ok(Self {
            host,
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_owned(),
            reports_path: format!("{prefix}{REPORTS_PATH}"),
            limits_path: format!("{prefix}{LIMITS_PATH}"),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.reports_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_urls() {
        let e: Endpoint = "http://otterize-network-mapper.otterize-system:9090"
            .parse()
            .expect("url");
        assert_eq!(e.host, "otterize-network-mapper.otterize-system");
        assert_eq!(e.port, 9090);
        assert_eq!(e.reports_path, "/v1/reports");
        let e: Endpoint = "http://[fd00::1]/mapper/".parse().expect("url");
        assert_eq!((e.host.as_str(), e.port), ("fd00::1", 80));
        assert_eq!(e.authority, "[fd00::1]");
        assert_eq!(e.to_string(), "http://[fd00::1]/mapper/v1/reports");
        assert_eq!(e.limits_path, "/mapper/v1/limits");
    }

    #[test]
    fn refuses_what_it_cannot_post_to() {
        assert!(matches!(
            "https://m:1".parse::<Endpoint>(),
            Err(EndpointError::Scheme { .. })
        ));
        assert!(matches!(
            "m:1".parse::<Endpoint>(),
            Err(EndpointError::Scheme { .. })
        ));
        assert!(matches!(
            "http://m:1/?a=b".parse::<Endpoint>(),
            Err(EndpointError::Query { .. })
        ));
        assert!(matches!(
            "http://exa mple".parse::<Endpoint>(),
            Err(EndpointError::Invalid { .. })
        ));
    }
}
