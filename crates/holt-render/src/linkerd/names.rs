//! Names of the Linkerd objects: the reference's formats where it has one, with a hash where it puts a
//! random suffix (so that rendering twice gives the same objects), and cut to the 253 characters of an object
//! name with a hash of the whole name when longer.

use holt_model::Identity;
use md5::{Digest, Md5};

/// The longest object name the API server accepts.
const MAX_NAME: usize = 253;

/// `server-for-<server>-port-<port>`.
pub(crate) fn server(server: &Identity, port: i32) -> String {
    bounded(format!(
        "server-for-{}-port-{port}",
        server.name_with_kind_rfc1123()
    ))
}

/// `meshtls-for-client-<client>.<client namespace>-to-<server>`: one per (server, client), so that each
/// server's objects are its own.
pub(crate) fn mesh_tls(server: &Identity, client: &Identity) -> String {
    bounded(format!(
        "meshtls-for-client-{}.{}-to-{}",
        client.name_with_kind_rfc1123(),
        client.namespace,
        server.name_with_kind_rfc1123()
    ))
}

/// `network-auth-for-probe-routes-<server>`.
pub(crate) fn probe_network(server: &Identity) -> String {
    bounded(format!(
        "network-auth-for-probe-routes-{}",
        server.name_with_kind_rfc1123()
    ))
}

/// `http-route-for-<server>-port-<port>-<6 hex>`: the reference's hash of `<server>-<namespace>-<port>-<path>`
/// for a path matched as a prefix by any method; Holt adds the method and the exact match to the hashed
/// text when the route has them.
pub(crate) fn http_route(server: &Identity, port: i32, route: &str) -> String {
    let hashed = format!("{}-{}-{port}-{route}", server.name, server.namespace);
    bounded(format!(
        "http-route-for-{}-port-{port}-{}",
        server.name_with_kind_rfc1123(),
        &hex_md5(&hashed)[..6]
    ))
}

/// `authpolicy-to-<server>-port-<port>-from-client-<client>-<8 hex>`: where the reference appends 8 random
/// characters, Holt appends a hash of the client's namespace and the policy's target, which tells apart the
/// client's policies on the Server and on each of its routes.
pub(crate) fn client_policy(server: &Identity, port: i32, client: &Identity, target: &str) -> String {
    let hashed = format!("{}/{}/{}", client.namespace, client.name_with_kind(), target);
    bounded(format!(
        "authpolicy-to-{}-port-{port}-from-client-{}-{}",
        server.name_with_kind_rfc1123(),
        client.name_with_kind_rfc1123(),
        &hex_md5(&hashed)[..8]
    ))
}

/// `authpolicy-to-<server>-port-<port>-for-probe-path-<8 hex of the route name>`.
pub(crate) fn probe_policy(server: &Identity, port: i32, route: &str) -> String {
    bounded(format!(
        "authpolicy-to-{}-port-{port}-for-probe-path-{}",
        server.name_with_kind_rfc1123(),
        &hex_md5(route)[..8]
    ))
}

/// `name` when it fits; otherwise its first characters, `-` and 8 hex of its hash, 253 in all.
fn bounded(name: String) -> String {
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = &hex_md5(&name)[..8];
    // Names are ASCII (validated workload names, namespaces, digits).
    let mut head = name[..MAX_NAME - hash.len() - 1].to_owned();
    while head.ends_with(['-', '.']) {
        head.pop();
    }
    format!("{head}-{hash}")
}

fn hex_md5(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_name_hashes_what_the_reference_hashes() {
        // md5("test-service-test-namespace-8000-/api") starts with 6b8db0 (the reference's own test).
        let server = Identity::new("test-namespace", "test-service", None);
        assert_eq!(
            http_route(&server, 8000, "/api"),
            "http-route-for-test-service-port-8000-6b8db0"
        );
    }

    #[test]
    fn long_names_are_cut_to_253_with_a_hash_of_the_whole() {
        let short = "a".repeat(MAX_NAME);
        assert_eq!(bounded(short.clone()), short);
        let long_a = bounded(format!("{}-x", "a".repeat(300)));
        let long_b = bounded(format!("{}-y", "a".repeat(300)));
        assert_eq!(long_a.len(), MAX_NAME);
        assert_ne!(long_a, long_b, "the hash keeps cut names apart");
        let dotted = bounded(format!("{}.{}", "a".repeat(243), "b".repeat(20)));
        assert!(!dotted.contains(".-"), "{dotted}");
    }
}
