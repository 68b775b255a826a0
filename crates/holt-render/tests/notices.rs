//! Declared calls Holt does not enforce are reported, not dropped silently.

mod common;

use common::*;
use holt_api::v2beta1::Target;
use holt_model::Config;
use holt_render::{Reason, RenderOptions, render_all, render_identity};
use pretty_assertions::assert_eq;

#[test]
fn unsupported_and_invalid_targets_are_reported_on_their_client_intents() {
    let mut both = k8s("server");
    both.service = svc("server").service;
    let index = index(
        Config::default(),
        vec![intents_v2(
            "shop",
            "client",
            vec![sql("postgres"), Target::default(), both, k8s("server")],
        )],
    );
    let rendered = render_identity(&index, &id("shop", "client", None));
    let reported: Vec<(String, Reason, String)> = rendered
        .notices
        .iter()
        .map(|n| (n.subject.to_string(), n.reason, n.message.clone()))
        .collect();
    assert_eq!(
        reported,
        vec![
            (
                "ClientIntents shop/client".to_owned(),
                Reason::TargetNotSupported,
                "`sql` targets are not enforced by Holt yet".to_owned()
            ),
            (
                "ClientIntents shop/client".to_owned(),
                Reason::InvalidTarget,
                "a target sets no key or several keys: it is ignored".to_owned()
            ),
        ],
        "the two invalid targets give one notice"
    );
}

#[test]
fn render_all_is_deterministic_and_notices_are_unique() {
    let objects = || {
        vec![
            intents_v2("shop", "b", vec![k8s("server"), sql("db")]),
            intents_v2("shop", "a", vec![k8s("server"), svc("missing")]),
            deployment_pod("shop", "a"),
            deployment_pod("shop", "b"),
            protected("shop", "server", None),
        ]
    };
    let forward = render_all(&index(Config::default(), objects()), &RenderOptions::default());
    let mut reversed_objects = objects();
    reversed_objects.reverse();
    let reversed = render_all(
        &index(Config::default(), reversed_objects),
        &RenderOptions::default(),
    );
    assert_eq!(forward, reversed);
    let mut unique = forward.notices.clone();
    unique.dedup();
    assert_eq!(unique, forward.notices);
    assert!(forward.notices.windows(2).all(|w| w[0] < w[1]), "sorted");
    assert!(
        forward
            .notices
            .iter()
            .any(|n| n.reason == Reason::KubernetesServiceNotFound)
    );
}

#[test]
fn reasons_spell_the_reference_event_reasons() {
    assert_eq!(
        Reason::KafkaServerNotConfigured.to_string(),
        "KafkaServerNotConfigured"
    );
    assert_eq!(
        Reason::NetworkPolicyCreationDisabled.as_str(),
        "NetworkPolicyCreationDisabled"
    );
    assert!(!Reason::NetworkPolicyCreationDisabled.is_warning());
    assert!(Reason::MissingSidecar.is_warning());
}
