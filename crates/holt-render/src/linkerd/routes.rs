//! The HTTP routes of one Server port, and which client each admits. Linkerd picks one route per request
//! (the longest path, then a method match, as Gateway API orders them) and checks only that route's
//! policies, so Holt writes one route per distinct (path, method) that any client declares, and admits on
//! each route every client whose declarations cover it: a client declaring `/api` for any method is admitted
//! on a route for `GET /api/v1` that another client asked for.

use std::collections::BTreeSet;

use holt_model::Grant;

use super::objects::PathMatchType;

/// What one route matches.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RouteMatch {
    pub path: String,
    pub match_type: PathMatchType,
    /// `None`: any method.
    pub method: Option<String>,
}

impl RouteMatch {
    pub fn prefix(path: &str, method: Option<&str>) -> Self {
        RouteMatch {
            path: path.to_owned(),
            match_type: PathMatchType::PathPrefix,
            method: method.map(str::to_owned),
        }
    }

    /// A kubelet probe's path, matched exactly so that the route opened to every network for it admits
    /// nothing else.
    pub fn probe(path: &str) -> Self {
        RouteMatch {
            path: path.to_owned(),
            match_type: PathMatchType::Exact,
            method: None,
        }
    }

    /// The text hashed into the route's name: the path alone for a prefix match by any method (the
    /// reference's), with the method and the match type added when they differ.
    pub fn hashed_text(&self) -> String {
        let mut text = self.path.clone();
        if let Some(method) = &self.method {
            text = format!("{text}-{method}");
        }
        if self.match_type == PathMatchType::Exact {
            text = format!("{text}-exact");
        }
        text
    }

    /// Whether `grant` admits every request this route matches.
    pub fn admits(&self, grant: &Grant) -> bool {
        grant.any_request
            || grant.http.iter().any(|declared| {
                let methods: Vec<&str> = declared.methods.iter().map(|m| m.as_str()).collect();
                let method_covered =
                    methods.is_empty() || self.method.as_deref().is_some_and(|m| methods.contains(&m));
                method_covered && prefix_covers(&declared.path, &self.path)
            })
    }
}

/// The routes a Server port needs for these grants: one per declared (path, method), a catch-all `/` when
/// some client may send any request, and the probes' exact paths. Empty when no grant restricts HTTP: the
/// Server alone then says who may call.
pub(crate) fn routes<'a>(
    grants: impl IntoIterator<Item = &'a Grant> + Clone,
    probe_paths: &BTreeSet<String>,
) -> BTreeSet<RouteMatch> {
    let mut routes = BTreeSet::new();
    if !grants.clone().into_iter().any(|g| !g.any_request) {
        return routes;
    }
    for grant in grants {
        if grant.any_request {
            routes.insert(RouteMatch::prefix("/", None));
            continue;
        }
        for declared in &grant.http {
            if declared.methods.is_empty() {
                routes.insert(RouteMatch::prefix(&declared.path, None));
            }
            for method in &declared.methods {
                routes.insert(RouteMatch::prefix(&declared.path, Some(method.as_str())));
            }
        }
    }
    routes.extend(probe_paths.iter().map(|path| RouteMatch::probe(path)));
    routes
}

/// Whether a `PathPrefix` match on `prefix` matches every request path a match on `path` does: `path` is
/// `prefix` or below it, by whole segments.
fn prefix_covers(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use holt_api::v2beta1::{HttpMethod, HttpResource};

    fn grant(resources: &[(&str, &[HttpMethod])]) -> Grant {
        Grant {
            http: resources
                .iter()
                .map(|(path, methods)| HttpResource {
                    path: path.to_string(),
                    methods: methods.to_vec(),
                })
                .collect(),
            ..Grant::default()
        }
    }

    #[test]
    fn prefixes_cover_whole_segments() {
        assert!(prefix_covers("/api", "/api"));
        assert!(prefix_covers("/api", "/api/v1"));
        assert!(prefix_covers("/api/", "/api/v1"));
        assert!(!prefix_covers("/api", "/apix"));
        assert!(prefix_covers("/", "/anything"));
        assert!(!prefix_covers("/api/v1", "/api"));
    }

    #[test]
    fn a_route_admits_the_clients_whose_declarations_cover_it() {
        let any_method_api = grant(&[("/api", &[])]);
        let get_v1 = grant(&[("/api/v1", &[HttpMethod::Get])]);
        let route = RouteMatch::prefix("/api/v1", Some("GET"));
        assert!(route.admits(&any_method_api));
        assert!(route.admits(&get_v1));
        let any_method_v1 = RouteMatch::prefix("/api/v1", None);
        assert!(
            !any_method_v1.admits(&get_v1),
            "GET only does not cover every method"
        );
        let plain = Grant {
            any_request: true,
            ..Grant::default()
        };
        assert!(RouteMatch::prefix("/", None).admits(&plain));
        assert!(!RouteMatch::prefix("/", None).admits(&any_method_api));
    }

    #[test]
    fn routes_are_needed_only_when_a_grant_restricts_http() {
        let plain = Grant {
            any_request: true,
            ..Grant::default()
        };
        let probes: BTreeSet<String> = ["/healthz".to_owned()].into();
        assert!(routes([&plain], &probes).is_empty());
        let restricted = grant(&[("/orders", &[HttpMethod::Get, HttpMethod::Post])]);
        let all: Vec<RouteMatch> = routes([&plain, &restricted], &probes).into_iter().collect();
        assert_eq!(
            all,
            vec![
                RouteMatch::prefix("/", None),
                RouteMatch::probe("/healthz"),
                RouteMatch::prefix("/orders", Some("GET")),
                RouteMatch::prefix("/orders", Some("POST")),
            ]
        );
    }
}
