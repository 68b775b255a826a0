//! The index and the effective access model, through the public API only.

mod common;

use common::*;
use holt_api::v2beta1::KafkaOperation;
use holt_model::Unit;
use holt_model::{Config, Enforcement, Identity, Index, IndexedRef, Mode, Object, ObjectKey};

fn shadow() -> Config {
    Config {
        mode: Mode::DefaultShadow,
        ..Config::default()
    }
}

fn id(ns: &str, name: &str) -> Identity {
    Identity::new(ns, name, None)
}

fn tutorial(config: Config) -> Index {
    let mut index = Index::new(config);
    for object in [
        pod("ns", "client-1", "client"),
        pod("ns", "client-other-1", "client-other"),
        pod("ns", "server-1", "server"),
        service("ns", "server"),
        intents("ns", "client", vec![k8s("server")]),
    ] {
        index.apply(object);
    }
    index
}

#[test]
fn a_declared_call_grants_the_client_access_to_the_server() {
    let index = tutorial(Config::default());
    let access = index
        .server(&id("ns", "server"))
        .expect("server has a declared client");
    assert_eq!(access.enforcement, Enforcement::DefaultActive);
    assert_eq!(
        access.clients.keys().collect::<Vec<_>>(),
        vec![&id("ns", "client")]
    );
    assert!(access.clients[&id("ns", "client")].any_request);
    assert!(index.server(&id("ns", "client-other")).is_none());
}

#[test]
fn shadow_mode_enforces_only_protected_servers_and_enforced_namespaces() {
    let mut index = tutorial(shadow());
    assert_eq!(
        index.server(&id("ns", "server")).map(|a| a.enforcement.clone()),
        Some(Enforcement::Shadow)
    );

    let changes = index.apply(protected("ns", "protect-server", "server", None));
    assert!(changes.contains(&Unit::Identity(id("ns", "server"))));
    assert!(changes.contains(&Unit::ProtectedService(ObjectKey::new("ns", "protect-server"))));
    assert_eq!(
        index.server(&id("ns", "server")).map(|a| a.enforcement.clone()),
        Some(Enforcement::ProtectedService("protect-server".into()))
    );

    index.delete(&IndexedRef::ProtectedService(ObjectKey::new(
        "ns",
        "protect-server",
    )));
    assert_eq!(
        index.server(&id("ns", "server")).map(|a| a.enforcement.clone()),
        Some(Enforcement::Shadow)
    );

    let enforced = tutorial(Config {
        enforced_namespaces: ["ns".to_string()].into(),
        ..shadow()
    });
    assert_eq!(
        enforced.enforcement(&id("ns", "server")),
        Enforcement::EnforcedNamespace
    );
}

#[test]
fn a_protected_service_with_a_kind_protects_only_that_kind() {
    let mut index = tutorial(shadow());
    index.apply(protected("ns", "p", "server", Some("StatefulSet")));
    assert_eq!(
        index.enforcement(&id("ns", "server")),
        Enforcement::Shadow,
        "legacy identity has no kind"
    );
    assert_eq!(
        index.enforcement(&Identity::new("ns", "server", Some("StatefulSet"))),
        Enforcement::ProtectedService("p".into())
    );
}

#[test]
fn watched_namespaces_exclude_the_rest() {
    let index = tutorial(Config {
        watched_namespaces: ["other".to_string()].into(),
        ..Config::default()
    });
    assert_eq!(index.enforcement(&id("ns", "server")), Enforcement::NotWatched);
}

#[test]
fn deleting_intents_removes_exactly_the_access_they_granted() {
    let mut index = tutorial(Config::default());
    index.apply(intents("ns", "client-other", vec![k8s("server")]));
    let changes = index.delete(&IndexedRef::ClientIntents(ObjectKey::new("ns", "client")));
    assert!(changes.contains(&Unit::Identity(id("ns", "server"))));
    assert!(
        changes.contains(&Unit::Pod(ObjectKey::new("ns", "client-1"))),
        "client pods lose their access label"
    );
    let access = index
        .server(&id("ns", "server"))
        .expect("client-other still calls server");
    assert_eq!(
        access.clients.keys().collect::<Vec<_>>(),
        vec![&id("ns", "client-other")]
    );
    index.delete(&IndexedRef::ClientIntents(ObjectKey::new("ns", "client-other")));
    assert!(index.server(&id("ns", "server")).is_none());
    assert_eq!(index.servers().count(), 0);
}

#[test]
fn one_intent_change_touches_only_its_client_and_servers() {
    let mut index = Index::new(Config::default());
    for i in 0..200 {
        index.apply(pod("ns", &format!("s{i}-pod"), &format!("s{i}")));
        index.apply(service("ns", &format!("s{i}")));
        index.apply(intents(
            "ns",
            &format!("c{i}"),
            vec![k8s(&format!("s{i}")), k8s(&format!("s{}", (i + 1) % 200))],
        ));
    }
    let changes = index.apply(intents("ns", "c7", vec![k8s("s8"), k8s("s9")]));
    let touched: Vec<&str> = changes.identities().map(|i| i.name.as_str()).collect();
    assert_eq!(
        touched,
        vec!["c7", "s7", "s8", "s9"],
        "old and new servers, and the client"
    );
    assert!(
        changes
            .units()
            .all(|u| !matches!(u, Unit::Broker(_) | Unit::ProtectedService(_)))
    );
    assert_eq!(
        index.server(&id("ns", "s7")).map(|a| a.clients.len()),
        Some(1),
        "only c6 still calls s7"
    );
    assert_eq!(
        index.server(&id("ns", "s9")).map(|a| a.clients.len()),
        Some(3),
        "c8, c9 and now c7"
    );
}

#[test]
fn a_service_change_re_renders_the_clients_of_the_workloads_it_selects() {
    let mut index = tutorial(Config::default());
    let changes = index.apply(service("ns", "server"));
    assert!(
        changes.contains(&Unit::Identity(id("ns", "client"))),
        "client egress admits the Service in front of server"
    );
    assert!(!changes.contains(&Unit::Identity(id("ns", "client-other"))));
}

#[test]
fn service_targets_and_workload_targets_are_different_servers() {
    let mut index = tutorial(Config::default());
    index.apply(intents(
        "ns",
        "client-other",
        vec![svc("server"), k8s_kind("server", "Deployment")],
    ));
    let service = Identity::new("ns", "server", Some("Service"));
    let deployment = Identity::new("ns", "server", Some("Deployment"));
    assert!(index.server(&service).is_some());
    assert!(index.server(&deployment).is_some());
    assert_eq!(index.pods_of(&service).len(), 1, "the Service selects server-1");
    assert_eq!(
        index.pods_of(&deployment).len(),
        1,
        "server-1 is owned by Deployment server"
    );
    assert!(
        index
            .pods_of(&Identity::new("ns", "server", Some("StatefulSet")))
            .is_empty()
    );
}

#[test]
fn cross_namespace_targets_name_the_server_namespace() {
    let mut index = Index::new(Config::default());
    index.apply(intents("frontend", "web", vec![k8s("api.backend")]));
    let access = index
        .server(&id("backend", "api"))
        .expect("api.backend is declared");
    assert!(access.clients.contains_key(&id("frontend", "web")));
}

#[test]
fn a_pod_resolves_through_owners_that_arrive_after_it() {
    let mut index = Index::new(Config::default());
    index.apply(Object::Pod(pod_facts(
        "ns",
        "web-abc-1",
        Some(("ReplicaSet", "web-abc")),
        &[("app", "web")],
    )));
    let key = ObjectKey::new("ns", "web-abc-1");
    assert_eq!(
        index.pod(&key).map(|p| p.identity.identity.name.clone()),
        Some("web-abc".into())
    );
    index.apply(owner("ns", "ReplicaSet", "web-abc", Some(("Deployment", "web"))));
    let changes = index.apply(owner("ns", "Deployment", "web", None));
    assert!(
        changes.contains(&Unit::Pod(key.clone())),
        "the pod's labels change with its identity"
    );
    let pod = index.pod(&key).expect("indexed");
    assert_eq!(
        pod.identity.identity,
        Identity::new("ns", "web", Some("Deployment"))
    );
    assert_eq!(pod.identity.owner_kind, "Deployment");
}

#[test]
fn called_by_annotations_declare_clients_for_the_annotated_server() {
    let mut index = Index::new(Config::default());
    let mut server = pod_facts("ns", "server-1", Some(("Deployment", "server")), &[]);
    server.annotations.insert(
        "intents.otterize.com/called-by".into(),
        r#"[{"name":"client.ns","kind":"Deployment"}]"#.into(),
    );
    index.apply(Object::Pod(pod_facts(
        "ns",
        "client-1",
        Some(("Deployment", "client")),
        &[],
    )));
    let changes = index.apply(Object::Pod(server.clone()));
    assert!(
        changes.contains(&Unit::Pod(ObjectKey::new("ns", "client-1"))),
        "the client pod gets an access label"
    );
    let server_id = Identity::new("ns", "server", Some("Deployment"));
    let access = index.server(&server_id).expect("declared by annotation");
    assert!(
        access
            .clients
            .contains_key(&Identity::new("ns", "client", Some("Deployment")))
    );
    let client_pod = index.pod(&ObjectKey::new("ns", "client-1")).expect("indexed");
    assert_eq!(index.calls_of_pod(client_pod).len(), 1);

    server
        .annotations
        .insert("intents.otterize.com/called-by".into(), "not json".into());
    index.apply(Object::Pod(server));
    assert!(
        index.server(&server_id).is_none(),
        "a malformed annotation declares nothing"
    );
    assert!(
        index
            .pod(&ObjectKey::new("ns", "server-1"))
            .is_some_and(|p| p.called_by.is_err())
    );
}

#[test]
fn kafka_grants_are_gathered_per_broker() {
    let mut index = Index::new(shadow());
    index.apply(kafka_config("kafka", "kafka"));
    index.apply(intents(
        "shop",
        "checkout",
        vec![kafka("kafka.kafka", "orders", &[KafkaOperation::Produce])],
    ));
    index.apply(intents(
        "shop",
        "email",
        vec![kafka("kafka.kafka", "orders", &[KafkaOperation::Consume])],
    ));
    let broker = index.broker(&id("kafka", "kafka")).expect("declared");
    assert_eq!(broker.clients.len(), 2);
    let network = index
        .server(&id("kafka", "kafka"))
        .expect("Kafka clients get network access to the broker");
    assert!(
        network
            .clients
            .values()
            .all(|g| g.kafka && !g.any_request && g.http.is_empty())
    );
    assert_eq!(broker.configs, vec![ObjectKey::new("kafka", "kafka")]);
    assert_eq!(broker.enforcement, Enforcement::Shadow);
    let changes = index.apply(protected("kafka", "p", "kafka", None));
    assert!(changes.contains(&Unit::Broker(id("kafka", "kafka"))));
    assert!(
        index
            .broker(&id("kafka", "kafka"))
            .is_some_and(|b| b.enforcement.is_enforced())
    );
    index.delete(&IndexedRef::KafkaServerConfig(ObjectKey::new("kafka", "kafka")));
    assert!(
        index
            .broker(&id("kafka", "kafka"))
            .is_some_and(|b| b.configs.is_empty()),
        "intents remain"
    );
}

/// The incremental index must always agree with one built from scratch from the objects that remain.
#[test]
fn incremental_updates_agree_with_a_rebuild() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let config = Config {
        mode: Mode::DefaultShadow,
        ..Config::default()
    };
    let mut index = Index::new(config.clone());
    let mut live: std::collections::BTreeMap<String, Object> = Default::default();
    for _ in 0..2_000 {
        let (key, object) = match next(6) {
            0 | 1 => {
                let client = format!("c{}", next(12));
                let targets = (0..next(3)).map(|_| k8s(&format!("s{}", next(12)))).collect();
                (format!("intents/{client}"), Some(intents("ns", &client, targets)))
            }
            2 => {
                let server = format!("s{}", next(12));
                (
                    format!("ps/{server}"),
                    Some(protected("ns", &format!("p-{server}"), &server, None)),
                )
            }
            3 => {
                let name = format!("s{}", next(12));
                (
                    format!("pod/{name}"),
                    Some(pod("ns", &format!("{name}-1"), &name)),
                )
            }
            _ => {
                let victim = live.keys().nth(next(live.len().max(1) as u64) as usize).cloned();
                match victim {
                    Some(key) => (key, None),
                    None => continue,
                }
            }
        };
        match object {
            Some(object) => {
                index.apply(object.clone());
                live.insert(key, object);
            }
            None => {
                if let Some(object) = live.remove(&key) {
                    index.delete(&reference(&object));
                }
            }
        }
    }
    let mut rebuilt = Index::new(config);
    for object in live.values() {
        rebuilt.apply(object.clone());
    }
    let mut incremental: Vec<_> = index.servers().cloned().collect();
    let mut scratch: Vec<_> = rebuilt.servers().cloned().collect();
    incremental.sort_by(|a, b| a.server.cmp(&b.server));
    scratch.sort_by(|a, b| a.server.cmp(&b.server));
    assert!(!scratch.is_empty());
    assert_eq!(incremental, scratch);
}

fn reference(object: &Object) -> IndexedRef {
    match object {
        Object::Pod(p) => IndexedRef::Pod(p.key.clone()),
        Object::ClientIntents(i) => IndexedRef::ClientIntents(ObjectKey::of(&i.metadata)),
        Object::ProtectedService(p) => IndexedRef::ProtectedService(ObjectKey::of(&p.metadata)),
        other => panic!("not generated: {other:?}"),
    }
}
