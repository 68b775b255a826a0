//! Who may do what at the mapper's API: the Kubernetes RBAC verbs each request needs, and the bearer
//! token it carries. Pure: in, a request's headers and the route's [`Permission`]; out, the token to
//! review and the `SubjectAccessReview` attributes to check it against ([`crate::access_review`] asks
//! the API server). `docs/mapper.md` (access) describes the whole scheme.
//!
//! The permissions are verbs on resources of a group Holt names but does not serve,
//! [`API_GROUP`] (`mapper.holt.dev`), in the mapper's namespace. Kubernetes RBAC accepts rules for
//! resources no API server serves, so platform teams grant them with plain Roles:
//!
//! | request | verb | resource |
//! |---|---|---|
//! | `POST /v1/reports` | `create` | `reports` |
//! | `GET /v1/intents`, `/v1/export`, `/v1/graph` | `list` | `discoveredintents` |
//! | `POST /v1/reset` | `deletecollection` | `discoveredintents` |
//!
//! Health, readiness, the limits document and metrics need nothing.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use holt_mapper_api::FORWARDED_AUTHORIZATION_HEADER;
use k8s_openapi::api::rbac::v1::PolicyRule;

/// The API group of the mapper's permissions (never served: it only names resources for RBAC).
pub const API_GROUP: &str = "mapper.holt.dev";
/// What sniffers create.
pub const REPORTS_RESOURCE: &str = "reports";
/// What readers list and administrators delete.
pub const INTENTS_RESOURCE: &str = "discoveredintents";

/// The longest bearer token taken (a ServiceAccount token is about 1 KiB; an OIDC token a few).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What a request asks to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Send observations (`POST /v1/reports`): the sniffers of this installation.
    Report,
    /// Read discovered intents (list, export, graph).
    Read,
    /// Forget every intent and DNS answer, and take back published `resolvedIPs` (`POST /v1/reset`).
    Reset,
}

impl Permission {
    /// The RBAC verb.
    pub fn verb(self) -> &'static str {
        match self {
            Permission::Report => "create",
            Permission::Read => "list",
            Permission::Reset => "deletecollection",
        }
    }

    /// The RBAC resource (in [`API_GROUP`]).
    pub fn resource(self) -> &'static str {
        match self {
            Permission::Report => REPORTS_RESOURCE,
            Permission::Read | Permission::Reset => INTENTS_RESOURCE,
        }
    }

    /// What the permission allows, for messages.
    pub fn purpose(self) -> &'static str {
        match self {
            Permission::Report => "report observations",
            Permission::Read => "read discovered intents",
            Permission::Reset => "reset the discovered intents",
        }
    }

    /// A label value for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Permission::Report => "report",
            Permission::Read => "read",
            Permission::Reset => "reset",
        }
    }
}

/// The roles an installation grants (the chart's Roles, `docs/mapper.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The sniffers: report.
    Sniffer,
    /// People and tools that read what was discovered.
    Reader,
    /// Readers who may also reset.
    Admin,
}

impl Role {
    /// The permissions of the role.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Sniffer => &[Permission::Report],
            Role::Reader => &[Permission::Read],
            Role::Admin => &[Permission::Read, Permission::Reset],
        }
    }

    /// The RBAC rules granting the role's permissions.
    pub fn rules(self) -> Vec<PolicyRule> {
        let mut rules: Vec<PolicyRule> = Vec::new();
        for permission in self.permissions() {
            match rules
                .iter_mut()
                .find(|rule| rule.resources.as_deref() == Some(&[permission.resource().to_owned()][..]))
            {
                Some(rule) => rule.verbs.push(permission.verb().to_owned()),
                None => rules.push(PolicyRule {
                    api_groups: Some(vec![API_GROUP.to_owned()]),
                    resources: Some(vec![permission.resource().to_owned()]),
                    verbs: vec![permission.verb().to_owned()],
                    ..PolicyRule::default()
                }),
            }
        }
        rules
    }
}

/// Why a request's credential could not even be reviewed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "this endpoint needs a bearer token (`Authorization: Bearer <token>`, or `{FORWARDED_AUTHORIZATION_HEADER}: Bearer <token>` through the API server's service proxy)"
    )]
    Missing,
    #[error("the {header} header must be `Bearer <token>`")]
    NotBearer { header: &'static str },
    #[error("the bearer token in {header} is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong { header: &'static str },
}

/// The bearer token of a request: from `Authorization`, or, when that is absent (the API server's
/// service proxy consumes it), from [`FORWARDED_AUTHORIZATION_HEADER`].
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, CredentialError> {
    let (header, value) = match headers.get(AUTHORIZATION) {
        Some(value) => ("Authorization", value),
        None => match headers.get(FORWARDED_AUTHORIZATION_HEADER) {
            Some(value) => (FORWARDED_AUTHORIZATION_HEADER, value),
            None => return Err(CredentialError::Missing),
        },
    };
    let text = value
        .to_str()
        .map_err(|_| CredentialError::NotBearer { header })?
        .trim();
    let token = match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(CredentialError::NotBearer { header }),
    };
    if token.is_empty() {
        return Err(CredentialError::NotBearer { header });
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(CredentialError::TooLong { header });
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn the_token_comes_from_authorization_or_else_the_forwarded_header() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer abc")])),
            Ok("abc")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer  abc ")])),
            Ok("abc")
        );
        assert_eq!(
            bearer_token(&headers(&[(FORWARDED_AUTHORIZATION_HEADER, "Bearer xyz")])),
            Ok("xyz")
        );
        // Authorization wins: the forwarded header is for when the proxy consumed it.
        assert_eq!(
            bearer_token(&headers(&[
                ("authorization", "Bearer abc"),
                (FORWARDED_AUTHORIZATION_HEADER, "Bearer xyz")
            ])),
            Ok("abc")
        );
    }

    #[test]
    fn other_credentials_are_refused_with_the_header_named() {
        assert_eq!(bearer_token(&HeaderMap::new()), Err(CredentialError::Missing));
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Basic dTpw")])),
            Err(CredentialError::NotBearer {
                header: "Authorization"
            })
        );
        assert_eq!(
            bearer_token(&headers(&[(FORWARDED_AUTHORIZATION_HEADER, "Bearer ")])),
            Err(CredentialError::NotBearer {
                header: FORWARDED_AUTHORIZATION_HEADER
            })
        );
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(
            bearer_token(&headers(&[("authorization", &long)])),
            Err(CredentialError::TooLong {
                header: "Authorization"
            })
        );
    }

    #[test]
    fn roles_grant_their_verbs_in_one_rule_per_resource() {
        let admin = Role::Admin.rules();
        assert_eq!(admin.len(), 1);
        assert_eq!(admin[0].api_groups.as_deref(), Some(&[API_GROUP.to_owned()][..]));
        assert_eq!(
            admin[0].resources.as_deref(),
            Some(&["discoveredintents".to_owned()][..])
        );
        assert_eq!(admin[0].verbs, ["list", "deletecollection"]);
        let sniffer = Role::Sniffer.rules();
        assert_eq!(sniffer[0].resources.as_deref(), Some(&["reports".to_owned()][..]));
        assert_eq!(sniffer[0].verbs, ["create"]);
        assert_eq!(Role::Reader.rules()[0].verbs, ["list"]);
    }
}
