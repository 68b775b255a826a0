//! Whether some mechanism enforces the HTTP paths and methods a client declares for a server. Each mesh
//! renderer records, per client, that it enforces them or why it does not; [`HttpCoverage::report`] is the one
//! place that turns "none does" into a `HttpRestrictionNotEnforced` notice (only network access is enforced
//! then).

use std::collections::{BTreeMap, BTreeSet};

use holt_model::{Identity, Index};

use crate::notice::{Notice, Reason, Subject};

/// What the renderers of one server found about its clients' HTTP restrictions. Only clients that declare
/// one are tracked: for the others (most clients) recording costs nothing.
#[derive(Debug, Default)]
pub(crate) struct HttpCoverage {
    /// The clients of the server that declare HTTP paths or methods.
    restricted: BTreeSet<Identity>,
    enforced: BTreeSet<Identity>,
    not_enforced: BTreeMap<Identity, Vec<String>>,
}

impl HttpCoverage {
    /// Coverage of the clients of `server` that declare an HTTP restriction.
    pub fn of(index: &Index, server: &Identity) -> Self {
        let restricted = index
            .server(server)
            .into_iter()
            .flat_map(|access| &access.clients)
            .filter(|(_, grant)| !grant.any_request && !grant.http.is_empty())
            .map(|(client, _)| client.clone())
            .collect();
        HttpCoverage {
            restricted,
            ..HttpCoverage::default()
        }
    }

    /// A mechanism restricts `client`'s calls by their HTTP paths and methods.
    pub fn enforced(&mut self, client: &Identity) {
        if self.restricted.contains(client) {
            self.enforced.insert(client.clone());
        }
    }

    /// A mechanism does not restrict `client`'s calls, and why (formatted only for a client that declares a
    /// restriction).
    pub fn not_enforced(&mut self, client: &Identity, why: impl std::fmt::Display) {
        if self.restricted.contains(client) {
            self.not_enforced
                .entry(client.clone())
                .or_default()
                .push(why.to_string());
        }
    }

    /// A notice for each client of the enforced `server` whose declared HTTP restriction no mechanism
    /// enforces.
    pub fn report(self, index: &Index, server: &Identity, notices: &mut Vec<Notice>) {
        let Some(access) = index.server(server) else {
            return;
        };
        if !access.enforcement.is_enforced() {
            return;
        }
        for (client, grant) in &access.clients {
            let declared = grant.http_restriction();
            if declared.is_empty() || self.enforced.contains(client) {
                continue;
            }
            let why = self
                .not_enforced
                .get(client)
                .map(|reasons| reasons.join("; "))
                .unwrap_or_else(|| "no mechanism restricts HTTP requests".to_owned());
            notices.push(Notice::new(
                Subject::identity(client),
                Reason::HttpRestrictionNotEnforced,
                format!(
                    "the HTTP restriction on calls to {server} ({}) is not enforced: {why}; only network access is",
                    declared.join("; ")
                ),
            ));
        }
    }
}
