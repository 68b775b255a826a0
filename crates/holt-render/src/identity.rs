//! Everything rendered for one identity: its access NetworkPolicies (ingress as a server, egress as a
//! client), the Istio AuthorizationPolicies and Linkerd policies admitting its clients, and notices about
//! its declared calls that Holt does not enforce.

use holt_model::{Call, Identity, Index};

use crate::desired::{Desired, Rendered};
use crate::http_coverage::HttpCoverage;
use crate::notice::{Notice, Reason, Subject};
use crate::{istio, linkerd, network_policy};

/// The desired objects of `identity` and the notices about it. Objects are in a fixed order (access policies,
/// then Istio AuthorizationPolicies by client, then Linkerd objects); notices are sorted.
pub fn render_identity(index: &Index, identity: &Identity) -> Rendered<Vec<Desired>> {
    let mut out = Rendered::new(Vec::new(), Vec::new());
    network_policy::render(index, identity, &mut out);
    let mut http = HttpCoverage::default();
    istio::render(index, identity, &mut out, &mut http);
    linkerd::render(index, identity, &mut out, &mut http);
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
