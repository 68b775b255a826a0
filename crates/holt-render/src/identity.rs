//! Everything rendered for one identity: its access NetworkPolicies (ingress as a server, egress as a
//! client), the Istio AuthorizationPolicies and Linkerd policies admitting its clients, and notices about
//! its declared calls that Holt does not enforce.

use holt_model::{Call, Identity, Index};

use crate::desired::{Desired, Rendered};
use crate::http_coverage::HttpCoverage;
use crate::notice::{Notice, Reason, Subject};
use crate::{istio, linkerd, network_policy};

/// A policy kind rendered for an identity: it adds its objects and notices to what the unit renders, and
/// records, per client, whether it enforces the client's declared HTTP paths and methods.
pub(crate) type IdentityPolicy = fn(&Index, &Identity, &mut Rendered<Vec<Desired>>, &mut HttpCoverage);

/// The registry of the policy kinds an identity's unit renders, in the order their objects are listed: the
/// access NetworkPolicies (ingress as a server, egress as a client), then each mesh's policies admitting the
/// identity's clients. A new kind of access control for calls between workloads is one module with such a
/// function, and one line here (docs/architecture.md, "How to add a policy kind").
const IDENTITY_POLICIES: [IdentityPolicy; 3] = [network_policy::render, istio::render, linkerd::render];

/// The desired objects of `identity` and the notices about it. Objects are in a fixed order (the
/// [`IDENTITY_POLICIES`] in turn); notices are sorted. HTTP paths and methods that no policy kind enforces
/// are a notice ([`HttpCoverage`]).
pub fn render_identity(index: &Index, identity: &Identity) -> Rendered<Vec<Desired>> {
    let mut out = Rendered::new(Vec::new(), Vec::new());
    let mut http = HttpCoverage::of(index, identity);
    for render in IDENTITY_POLICIES {
        render(index, identity, &mut out, &mut http);
    }
    http.report(index, identity, &mut out.notices);
    unsupported_calls(index, identity, &mut out.notices);
    out.notices.sort();
    out.notices.dedup();
    out
}

/// Targets Holt reads but does not turn into access controls.
fn unsupported_calls(index: &Index, client: &Identity, notices: &mut Vec<Notice>) {
    for (key, intents) in index.intents_of(client) {
        for call in &intents.calls {
            let Call::Unsupported { key: target } = call else {
                continue;
            };
            let notice = if *target == "invalid" {
                Notice::new(
                    Subject::client_intents(&key),
                    Reason::InvalidTarget,
                    "a target sets no key or several keys: it is ignored",
                )
            } else {
                Notice::new(
                    Subject::client_intents(&key),
                    Reason::TargetNotSupported,
                    format!("`{target}` targets are not enforced by Holt yet"),
                )
            };
            notices.push(notice);
        }
    }
}
