//! Linkerd policies (docs/reference-behaviour.md#linkerd).

mod common;

use common::*;
use holt_api::v2beta1::HttpMethod;
use holt_model::facts::{ContainerPort, HttpProbe, NamespaceFacts};
use holt_model::{Config, Identity, Index, Object};
use holt_render::{Desired, Notice, Reason, RenderOptions, render_all, render_identity};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

/// The pod `<workload>-0` of Deployment `workload`, running as `account`, with the Linkerd proxy container
/// or not, declaring TCP port 8080 named `http`.
fn linkerd_pod(ns: &str, workload: &str, account: &str, proxy: bool) -> Object {
    let mut facts = deployment_pod_facts(ns, workload);
    facts.service_account = account.into();
    facts.has_linkerd_proxy = proxy;
    facts.ports = vec![ContainerPort {
        name: Some("http".into()),
        port: 8080,
        protocol: "TCP".into(),
    }];
    Object::Pod(facts)
}

/// [`linkerd_pod`] with a liveness probe on `/healthz` through the named port, and a UDP port Linkerd does
/// not serve.
fn probed_server(ns: &str) -> Object {
    let Object::Pod(mut facts) = linkerd_pod(ns, "server", "server-sa", true) else {
        unreachable!("a pod")
    };
    facts.http_probes = vec![HttpProbe {
        port: IntOrString::String("http".into()),
        path: "/healthz".into(),
    }];
    facts.ports.push(ContainerPort {
        name: Some("dns".into()),
        port: 53,
        protocol: "UDP".into(),
    });
    Object::Pod(facts)
}

fn linkerd_namespace(name: &str, inject: Option<&str>) -> Object {
    let mut facts = NamespaceFacts::named(name);
    if let Some(value) = inject {
        facts
            .mesh_annotations
            .insert("linkerd.io/inject".into(), value.into());
    }
    Object::Namespace(facts)
}

fn server() -> Identity {
    id("shop", "server", None)
}

/// The Linkerd objects rendered for `server`, as JSON.
fn linkerd_objects(index: &Index, server: &Identity) -> Vec<Value> {
    linkerd_of(&render_identity(index, server).value)
}

fn linkerd_of(objects: &[Desired]) -> Vec<Value> {
    objects
        .iter()
        .filter(|d| matches!(d.manifest, holt_render::Manifest::Linkerd(_)))
        .map(json)
        .collect()
}

/// `(kind, name)` of the Linkerd objects.
fn kinds_and_names(objects: &[Value]) -> Vec<(String, String)> {
    objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or_default().to_owned(),
                o["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn reasons(notices: &[Notice]) -> Vec<(String, Reason)> {
    notices
        .iter()
        .map(|n| (n.subject.to_string(), n.reason))
        .collect()
}

fn server_labels() -> Value {
    json!({
        "intents.otterize.com/service": server().label_value_with_kind(),
        "app.kubernetes.io/managed-by": "holt",
    })
}

fn client_labels(client: &str, ns: &str) -> Value {
    json!({
        "intents.otterize.com/service": server().label_value_with_kind(),
        "intents.otterize.com/linkerd-server": label_value(client, ns),
        "app.kubernetes.io/managed-by": "holt",
    })
}

#[test]
fn a_meshed_pair_gets_a_server_per_port_the_clients_identity_and_a_policy_on_the_server() {
    let index = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "client", "client-sa", true),
            linkerd_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&index, &server());
    let objects = linkerd_of(&rendered.value);
    let policy_name = objects
        .iter()
        .find(|o| o["kind"] == "AuthorizationPolicy")
        .and_then(|o| o["metadata"]["name"].as_str())
        .expect("a policy")
        .to_owned();
    assert!(
        policy_name.starts_with("authpolicy-to-server-port-8080-from-client-client-"),
        "{policy_name}"
    );
    assert_eq!(
        objects,
        vec![
            json!({
                "apiVersion": "policy.linkerd.io/v1alpha1",
                "kind": "MeshTLSAuthentication",
                "metadata": {
                    "name": "meshtls-for-client-client.shop-to-server",
                    "namespace": "shop",
                    "labels": client_labels("client", "shop"),
                },
                "spec": {"identities": ["client-sa.shop.serviceaccount.identity.linkerd.cluster.local"]},
            }),
            json!({
                "apiVersion": "policy.linkerd.io/v1beta1",
                "kind": "Server",
                "metadata": {"name": "server-for-server-port-8080", "namespace": "shop", "labels": server_labels()},
                "spec": {
                    "podSelector": {"matchLabels": {"intents.otterize.com/service": label_value("server", "shop")}},
                    "port": 8080,
                },
            }),
            json!({
                "apiVersion": "policy.linkerd.io/v1alpha1",
                "kind": "AuthorizationPolicy",
                "metadata": {"name": policy_name, "namespace": "shop", "labels": client_labels("client", "shop")},
                "spec": {
                    "targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": "server-for-server-port-8080"},
                    "requiredAuthenticationRefs": [{
                        "group": "policy.linkerd.io",
                        "kind": "MeshTLSAuthentication",
                        "name": "meshtls-for-client-client.shop-to-server",
                    }],
                },
            }),
        ]
    );
    assert_eq!(rendered.notices, vec![]);
}

#[test]
fn http_paths_become_routes_each_admitting_the_clients_whose_declarations_cover_it() {
    let index = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "orders-reader", "reader-sa", true),
            linkerd_pod("shop", "admin", "admin-sa", true),
            probed_server("shop"),
            intents_v2(
                "shop",
                "orders-reader",
                vec![http("server", &[("/orders", &[HttpMethod::Get])])],
            ),
            intents_v2("shop", "admin", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&index, &server());
    let objects = linkerd_of(&rendered.value);
    let routes: Vec<(String, Value)> = objects
        .iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .map(|o| {
            assert_eq!(o["apiVersion"], "policy.linkerd.io/v1beta1");
            assert_eq!(
                o["spec"]["parentRefs"],
                json!([{"group": "policy.linkerd.io", "kind": "Server", "name": "server-for-server-port-8080"}])
            );
            (
                o["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                o["spec"]["rules"][0]["matches"][0].clone(),
            )
        })
        .collect();
    let route_named = |matched: Value| {
        routes
            .iter()
            .find(|(_, m)| *m == matched)
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| panic!("no route matching {matched}: {routes:?}"))
    };
    // The plain client needs a catch-all once the Server has routes; the probe is matched exactly.
    let catch_all = route_named(json!({"path": {"type": "PathPrefix", "value": "/"}}));
    let probe = route_named(json!({"path": {"type": "Exact", "value": "/healthz"}}));
    let orders = route_named(json!({"path": {"type": "PathPrefix", "value": "/orders"}, "method": "GET"}));
    assert_eq!(routes.len(), 3, "{routes:?}");
    assert!(orders.starts_with("http-route-for-server-port-8080-"), "{orders}");

    // Who each route admits: the route's policies and the authentication each requires.
    let admitted = |route: &str| -> Vec<String> {
        let mut names: Vec<String> = objects
            .iter()
            .filter(|o| o["kind"] == "AuthorizationPolicy" && o["spec"]["targetRef"]["name"] == route)
            .map(|o| {
                assert_eq!(o["spec"]["targetRef"]["kind"], "HTTPRoute");
                o["spec"]["requiredAuthenticationRefs"][0]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        admitted(&orders),
        vec![
            "meshtls-for-client-admin.shop-to-server",
            "meshtls-for-client-orders-reader.shop-to-server"
        ]
    );
    assert_eq!(
        admitted(&catch_all),
        vec!["meshtls-for-client-admin.shop-to-server"]
    );
    assert_eq!(
        admitted(&probe),
        vec![
            "meshtls-for-client-admin.shop-to-server",
            "network-auth-for-probe-routes-server"
        ]
    );
    let network = objects
        .iter()
        .find(|o| o["kind"] == "NetworkAuthentication")
        .expect("the probes' network authentication");
    assert_eq!(
        network["spec"],
        json!({"networks": [{"cidr": "0.0.0.0/0"}, {"cidr": "::/0"}]})
    );
    // No policy targets the Server itself once it has routes; the UDP port gets no Server.
    assert!(objects.iter().all(|o| o["spec"]["targetRef"]["kind"] != "Server"));
    assert_eq!(objects.iter().filter(|o| o["kind"] == "Server").count(), 1);
    // Linkerd enforces the HTTP restriction: no notice says nothing does, though Istio is not there.
    assert!(
        rendered
            .notices
            .iter()
            .all(|n| n.reason != Reason::HttpRestrictionNotEnforced),
        "{:?}",
        rendered.notices
    );
}

#[test]
fn a_prefix_declared_for_any_method_is_admitted_on_narrower_routes_of_other_clients() {
    let index = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "broad", "broad-sa", true),
            linkerd_pod("shop", "narrow", "narrow-sa", true),
            linkerd_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "broad", vec![http("server", &[("/api", &[])])]),
            intents_v2(
                "shop",
                "narrow",
                vec![http("server", &[("/api/v1", &[HttpMethod::Post])])],
            ),
        ],
    );
    let objects = linkerd_objects(&index, &server());
    let route_for = |path: &str| {
        objects
            .iter()
            .find(|o| {
                o["kind"] == "HTTPRoute" && o["spec"]["rules"][0]["matches"][0]["path"]["value"] == path
            })
            .and_then(|o| o["metadata"]["name"].as_str())
            .expect("route")
            .to_owned()
    };
    let admitted = |route: &str| -> Vec<&str> {
        objects
            .iter()
            .filter(|o| o["kind"] == "AuthorizationPolicy" && o["spec"]["targetRef"]["name"] == route)
            .filter_map(|o| o["metadata"]["labels"]["intents.otterize.com/linkerd-server"].as_str())
            .collect()
    };
    let broad = label_value("broad", "shop");
    let narrow = label_value("narrow", "shop");
    assert_eq!(admitted(&route_for("/api")), vec![broad.as_str()]);
    let mut v1 = admitted(&route_for("/api/v1"));
    v1.sort();
    let mut expected = vec![broad.as_str(), narrow.as_str()];
    expected.sort();
    assert_eq!(v1, expected);
    assert!(
        objects
            .iter()
            .all(|o| o["spec"]["rules"][0]["matches"][0]["path"]["value"] != "/"),
        "no plain client, no catch-all"
    );
}

#[test]
fn a_namespace_asking_for_injection_puts_pods_without_the_container_in_the_mesh() {
    let objects = |inject: Option<&str>| {
        vec![
            linkerd_namespace("shop", inject),
            linkerd_pod("shop", "client", "client-sa", false),
            linkerd_pod("shop", "server", "server-sa", false),
            intents_v2("shop", "client", vec![k8s("server")]),
        ]
    };
    let injected = index(Config::default(), objects(Some("enabled")));
    assert_eq!(
        kinds_and_names(&linkerd_objects(&injected, &server()))
            .into_iter()
            .map(|(kind, _)| kind)
            .collect::<Vec<_>>(),
        vec!["MeshTLSAuthentication", "Server", "AuthorizationPolicy"]
    );
    assert!(linkerd_objects(&index(Config::default(), objects(None)), &server()).is_empty());
    assert!(linkerd_objects(&index(Config::default(), objects(Some("disabled"))), &server()).is_empty());

    // The namespace losing its annotation takes its pods out of the mesh at once.
    let mut index = injected;
    index.apply(linkerd_namespace("shop", None));
    assert!(linkerd_objects(&index, &server()).is_empty());
    index.apply(linkerd_namespace("shop", Some("ingress")));
    assert!(!linkerd_objects(&index, &server()).is_empty());
}

#[test]
fn a_client_without_the_proxy_gets_no_policy_and_a_notice_that_linkerd_refuses_it() {
    let index = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "meshed", "meshed-sa", true),
            linkerd_pod("shop", "outsider", "outsider-sa", false),
            linkerd_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "meshed", vec![k8s("server")]),
            intents_v2("shop", "outsider", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&index, &server());
    let objects = linkerd_of(&rendered.value);
    assert!(
        objects
            .iter()
            .all(|o| o["metadata"]["labels"]["intents.otterize.com/linkerd-server"]
                != label_value("outsider", "shop")),
        "{objects:?}"
    );
    assert_eq!(objects.len(), 3, "the meshed client's objects");
    assert_eq!(
        reasons(&rendered.notices),
        vec![("outsider.shop".to_owned(), Reason::NotPartOfLinkerdMesh)]
    );
    assert!(
        rendered.notices[0].message.contains("outsider-0"),
        "{}",
        rendered.notices[0].message
    );
}

#[test]
fn only_clients_without_pods_or_proxy_means_no_linkerd_object_at_all() {
    let index = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "ghost", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&index, &server());
    assert!(linkerd_of(&rendered.value).is_empty());
    assert_eq!(
        reasons(&rendered.notices),
        vec![("ghost.shop".to_owned(), Reason::PodsNotFound)]
    );
}

#[test]
fn a_server_outside_the_mesh_gets_nothing_and_only_declared_http_paths_are_reported() {
    let plain = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "client", "client-sa", true),
            linkerd_pod("shop", "server", "server-sa", false),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&plain, &server());
    assert!(linkerd_of(&rendered.value).is_empty());
    assert_eq!(
        rendered.notices,
        vec![],
        "only the server's proxy enforces: nothing to say"
    );

    let with_paths = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "client", "client-sa", true),
            linkerd_pod("shop", "server", "server-sa", false),
            intents_v2("shop", "client", vec![http("server", &[("/orders", &[])])]),
        ],
    );
    let notices = render_identity(&with_paths, &server()).notices;
    assert_eq!(
        reasons(&notices),
        vec![("client.shop".to_owned(), Reason::HttpRestrictionNotEnforced)]
    );
    // One notice, giving every mesh's reason.
    assert!(
        notices[0].message.contains("neither side is in the Istio mesh")
            && notices[0]
                .message
                .contains("the server is not in the Linkerd mesh"),
        "{}",
        notices[0].message
    );
}

#[test]
fn server_pods_without_the_proxy_or_without_ports_are_reported() {
    let Object::Pod(mut second) = linkerd_pod("shop", "server", "server-sa", false) else {
        unreachable!("a pod")
    };
    second.key.name = "server-1".into();
    let partly = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "client", "client-sa", true),
            linkerd_pod("shop", "server", "server-sa", true),
            Object::Pod(second),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&partly, &server());
    assert!(!linkerd_of(&rendered.value).is_empty());
    assert_eq!(
        reasons(&rendered.notices),
        vec![("client.shop".to_owned(), Reason::NotPartOfLinkerdMesh)]
    );
    assert!(
        rendered.notices[0].message.contains("server-1"),
        "{}",
        rendered.notices[0].message
    );

    let Object::Pod(mut portless) = linkerd_pod("shop", "server", "server-sa", true) else {
        unreachable!("a pod")
    };
    portless.ports.clear();
    let no_ports = index(
        Config::default(),
        vec![
            linkerd_pod("shop", "client", "client-sa", true),
            Object::Pod(portless),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&no_ports, &server());
    assert!(linkerd_of(&rendered.value).is_empty());
    assert_eq!(
        reasons(&rendered.notices),
        vec![("client.shop".to_owned(), Reason::ServerPortsNotFound)]
    );
}

#[test]
fn switched_off_or_unenforced_servers_get_no_linkerd_object() {
    let objects = |paths: bool| {
        let target = match paths {
            true => http("server", &[("/orders", &[HttpMethod::Get])]),
            false => k8s("server"),
        };
        vec![
            linkerd_pod("shop", "client", "client-sa", true),
            linkerd_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "client", vec![target]),
        ]
    };
    let off = Config {
        enable_linkerd_policy_creation: false,
        ..Config::default()
    };
    let rendered = render_identity(&index(off.clone(), objects(false)), &server());
    assert!(linkerd_of(&rendered.value).is_empty());
    assert_eq!(rendered.notices, vec![]);
    let notices = render_identity(&index(off, objects(true)), &server()).notices;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0]
            .message
            .contains("Linkerd policy creation is switched off"),
        "{}",
        notices[0].message
    );

    // Shadow mode: nothing for a server nothing protects, everything once a ProtectedService does.
    let shadowed = index(shadow(), objects(true));
    let rendered = render_identity(&shadowed, &server());
    assert!(linkerd_of(&rendered.value).is_empty());
    assert_eq!(rendered.notices, vec![]);
    let protected_in_shadow = index(
        shadow(),
        [objects(false), vec![protected("shop", "server", None)]].concat(),
    );
    assert_eq!(linkerd_objects(&protected_in_shadow, &server()).len(), 3);
}

#[test]
fn cross_namespace_clients_get_their_objects_in_the_servers_namespace_with_their_own_identity() {
    let index = index(
        Config::default(),
        vec![
            linkerd_pod("web", "client", "client-sa", true),
            linkerd_pod("shop", "server", "server-sa", true),
            intents_v2("web", "client", vec![k8s("server.shop")]),
        ],
    );
    let objects = linkerd_objects(&index, &server());
    assert_eq!(objects.len(), 3);
    assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "shop"));
    let mesh_tls = &objects[0];
    assert_eq!(
        mesh_tls["metadata"]["name"],
        "meshtls-for-client-client.web-to-server"
    );
    assert_eq!(
        mesh_tls["spec"]["identities"],
        json!(["client-sa.web.serviceaccount.identity.linkerd.cluster.local"])
    );
    assert_eq!(
        mesh_tls["metadata"]["labels"]["intents.otterize.com/linkerd-server"],
        json!(label_value("client", "web"))
    );
}

#[test]
fn rendering_is_deterministic_where_the_reference_appends_random_characters() {
    let objects = || {
        vec![
            linkerd_pod("shop", "client", "client-sa", true),
            probed_server("shop"),
            intents_v2(
                "shop",
                "client",
                vec![http(
                    "server",
                    &[("/orders", &[HttpMethod::Get]), ("/items", &[])],
                )],
            ),
        ]
    };
    let first = render_all(&index(Config::default(), objects()), &RenderOptions::default());
    let second = render_all(&index(Config::default(), objects()), &RenderOptions::default());
    assert_eq!(first, second);
    let linkerd = linkerd_of(&first.objects);
    let names: Vec<(String, String)> = kinds_and_names(&linkerd);
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    // The probe route, two declared routes; a policy per declared route and one for the probe.
    let count = |kind: &str| names.iter().filter(|(k, _)| k == kind).count();
    assert_eq!(count("HTTPRoute"), 3, "{names:?}");
    assert_eq!(count("AuthorizationPolicy"), 3, "{names:?}");
    assert_eq!(count("NetworkAuthentication"), 1, "{names:?}");
}
