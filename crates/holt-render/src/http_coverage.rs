//! Whether some mechanism enforces the HTTP paths and methods a client declares for a server. Each mesh
//! renderer records, per client, that it enforces them or why it does not; [`HttpCoverage::report`] is the one
//! place that turns "none does" into a `HttpRestrictionNotEnforced` notice (only network access is enforced
//! then).

use std::collections::{BTreeMap, BTreeSet};

use holt_model::{Identity, Index};

use crate::notice::{Notice, Reason, Subject};

/// What the renderers of one server found about its clients' HTTP restrictions.
#[derive(Debug, Default)]
pub(crate) struct HttpCoverage {
    enforced: BTreeSet<Identity>,
    not_enforced: BTreeMap<Identity, Vec<String>>,
}

impl HttpCoverage {
    /// A mechanism restricts `client`'s calls by their HTTP paths and methods.
    pub fn enforced(&mut self, client: &Identity) {
        self.enforced.insert(client.clone());
    }

    /// A mechanism does not restrict `client`'s calls, and why.
    pub fn not_enforced(&mut self, client: &Identity, why: impl Into<String>) {
        self.not_enforced
            .entry(client.clone())
            .or_default()
            .push(why.into());
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
