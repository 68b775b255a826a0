//! Linkerd's policy CRDs (`holt_testenv::linkerd_policy_crds`) on the real kube-apiserver: the objects the
//! reference operator writes are accepted, in the versions it writes them; invalid ones are refused with a
//! message naming the field; unknown fields are refused under strict field validation and pruned otherwise.
//! One control plane is shared by the tests of this binary; each test works in its own namespace.

use anyhow::ensure;
use holt_testenv::{ControlPlane, install_crds, linkerd_policy_crds};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams, ValidationDirective,
};
use serde_json::{Value, json};

const GROUP: &str = "policy.linkerd.io";
const CLIENT_IDENTITY: &str = "client.ns.serviceaccount.identity.linkerd.cluster.local";

/// Starts (or joins) the shared control plane, installs the CRDs and makes a namespace for one test.
async fn setup(prefix: &str) -> anyhow::Result<(kube::Client, String)> {
    let cp = ControlPlane::shared().await?;
    let client = cp.client().await?;
    install_crds(&client, linkerd_policy_crds()).await?;
    let ns = cp.create_namespace(&client, prefix).await?;
    Ok((client, ns))
}

fn api(client: &kube::Client, ns: &str, version: &str, kind: &str) -> Api<DynamicObject> {
    let plural = match kind {
        "Server" => "servers",
        "AuthorizationPolicy" => "authorizationpolicies",
        "MeshTLSAuthentication" => "meshtlsauthentications",
        "NetworkAuthentication" => "networkauthentications",
        "HTTPRoute" => "httproutes",
        other => panic!("not a Linkerd policy kind: {other}"),
    };
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, version, kind), plural);
    Api::namespaced_with(client.clone(), ns, &resource)
}

/// An object of `kind` in `policy.linkerd.io/<version>` with `spec`.
fn object(version: &str, kind: &str, name: &str, spec: Value) -> anyhow::Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": format!("{GROUP}/{version}"), "kind": kind,
        "metadata": { "name": name }, "spec": spec,
    }))?)
}

async fn create(
    client: &kube::Client,
    ns: &str,
    version: &str,
    kind: &str,
    name: &str,
    spec: Value,
) -> anyhow::Result<DynamicObject> {
    let object = object(version, kind, name, spec)?;
    Ok(api(client, ns, version, kind)
        .create(&PostParams::default(), &object)
        .await?)
}

/// Creates an object that must be refused, and returns the API server's 422 message.
async fn refused(
    client: &kube::Client,
    ns: &str,
    version: &str,
    kind: &str,
    spec: Value,
) -> anyhow::Result<String> {
    let object = object(version, kind, "refused", spec.clone())?;
    match api(client, ns, version, kind)
        .create(&PostParams::default(), &object)
        .await
    {
        Ok(_) => anyhow::bail!("{kind} {version} with spec {spec} was accepted"),
        Err(kube::Error::Api(status)) => {
            ensure!(status.code == 422, "expected 422, got {status:?}");
            Ok(status.message)
        }
        Err(other) => Err(other.into()),
    }
}

#[tokio::test]
async fn installs_the_five_policy_kinds() -> anyhow::Result<()> {
    let cp = ControlPlane::shared().await?;
    let client = cp.client().await?;
    let mut installed = install_crds(&client, linkerd_policy_crds()).await?;
    installed.sort();
    assert_eq!(
        installed,
        [
            "authorizationpolicies.policy.linkerd.io",
            "httproutes.policy.linkerd.io",
            "meshtlsauthentications.policy.linkerd.io",
            "networkauthentications.policy.linkerd.io",
            "servers.policy.linkerd.io",
        ]
    );
    Ok(())
}

/// The objects the reference operator writes, in the apiVersions it writes them (Server v1beta1,
/// AuthorizationPolicy / MeshTLSAuthentication / NetworkAuthentication v1alpha1, HTTPRoute v1beta3).
#[tokio::test]
async fn accepts_the_objects_a_policy_writer_creates() -> anyhow::Result<()> {
    let (client, ns) = setup("linkerd-valid").await?;

    let server = create(
        &client,
        &ns,
        "v1beta1",
        "Server",
        "server-for-web-port-8080",
        json!({
            "podSelector": { "matchLabels": { "intents.otterize.com/server": "web-ns-1234" } },
            "port": 8080,
            "proxyProtocol": "HTTP/1",
        }),
    )
    .await?;
    assert_eq!(server.data["spec"]["port"], 8080);
    // Read in the storage version, the v1beta3 default for accessPolicy shows.
    let stored = api(&client, &ns, "v1beta3", "Server")
        .get("server-for-web-port-8080")
        .await?;
    assert_eq!(stored.data["spec"]["accessPolicy"], "deny");
    assert_eq!(stored.data["spec"]["proxyProtocol"], "HTTP/1");
    // A named port, and proxyProtocol's default.
    let named = create(
        &client,
        &ns,
        "v1beta3",
        "Server",
        "named-port",
        json!({ "podSelector": { "matchLabels": { "app": "web" } }, "port": "http" }),
    )
    .await?;
    assert_eq!(named.data["spec"]["port"], "http");
    assert_eq!(named.data["spec"]["proxyProtocol"], "unknown");

    let mtls = create(
        &client,
        &ns,
        "v1alpha1",
        "MeshTLSAuthentication",
        "meshtls-for-client-client",
        json!({ "identities": [CLIENT_IDENTITY] }),
    )
    .await?;
    assert_eq!(mtls.data["spec"]["identities"][0], CLIENT_IDENTITY);

    let networks = create(
        &client,
        &ns,
        "v1alpha1",
        "NetworkAuthentication",
        "network-auth-for-probe-routes",
        json!({ "networks": [{ "cidr": "0.0.0.0/0" }, { "cidr": "::/0", "except": ["fd00::/8"] }] }),
    )
    .await?;
    assert_eq!(networks.data["spec"]["networks"][1]["except"][0], "fd00::/8");

    let policy = create(
        &client,
        &ns,
        "v1alpha1",
        "AuthorizationPolicy",
        "authorization-policy-to-web-port-8080-from-client-client",
        json!({
            "targetRef": { "group": GROUP, "kind": "Server", "name": "server-for-web-port-8080" },
            "requiredAuthenticationRefs": [
                { "group": GROUP, "kind": "MeshTLSAuthentication", "name": "meshtls-for-client-client" },
            ],
        }),
    )
    .await?;
    assert_eq!(policy.data["spec"]["targetRef"]["kind"], "Server");

    let route = create(
        &client,
        &ns,
        "v1beta3",
        "HTTPRoute",
        "http-route-for-web-port-8080-path-slashapi",
        json!({
            "parentRefs": [{ "group": GROUP, "kind": "Server", "name": "server-for-web-port-8080" }],
            "rules": [{ "matches": [{ "path": { "type": "PathPrefix", "value": "/api" }, "method": "GET" }] }],
        }),
    )
    .await?;
    assert_eq!(route.data["spec"]["parentRefs"][0]["kind"], "Server");
    assert_eq!(route.data["spec"]["rules"][0]["matches"][0]["method"], "GET");

    // An AuthorizationPolicy may also target an HTTPRoute and require a NetworkAuthentication.
    create(
        &client,
        &ns,
        "v1alpha1",
        "AuthorizationPolicy",
        "probe-route-policy",
        json!({
            "targetRef": { "group": GROUP, "kind": "HTTPRoute", "name": route.metadata.name },
            "requiredAuthenticationRefs": [
                { "group": GROUP, "kind": "NetworkAuthentication", "name": "network-auth-for-probe-routes" },
            ],
        }),
    )
    .await?;
    Ok(())
}

/// Linkerd's HTTPRoute defaults: a parentRef's kind is Gateway unless named, and a route without rules
/// (or a match without a path) matches every path by prefix.
#[tokio::test]
async fn fills_httproute_defaults() -> anyhow::Result<()> {
    let (client, ns) = setup("linkerd-route-defaults").await?;
    let route = create(
        &client,
        &ns,
        "v1beta3",
        "HTTPRoute",
        "defaults",
        json!({ "parentRefs": [{ "name": "some-parent" }] }),
    )
    .await?;
    let spec = &route.data["spec"];
    assert_eq!(spec["parentRefs"][0]["group"], GROUP);
    assert_eq!(spec["parentRefs"][0]["kind"], "Gateway");
    assert_eq!(
        spec["rules"],
        json!([{ "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }] }])
    );

    let method_only = create(
        &client,
        &ns,
        "v1beta3",
        "HTTPRoute",
        "method-only",
        json!({ "rules": [{ "matches": [{ "method": "POST" }], "timeouts": { "request": "10s" } }] }),
    )
    .await?;
    let rule = &method_only.data["spec"]["rules"][0];
    assert_eq!(
        rule["matches"][0]["path"],
        json!({ "type": "PathPrefix", "value": "/" })
    );
    assert_eq!(rule["timeouts"]["request"], "10s");
    Ok(())
}

#[tokio::test]
async fn refuses_invalid_objects_naming_the_field() -> anyhow::Result<()> {
    let (client, ns) = setup("linkerd-invalid").await?;
    let selector = json!({ "matchLabels": { "app": "web" } });
    let server_ref = json!({ "group": GROUP, "kind": "Server", "name": "web" });
    let mtls_ref = json!({ "group": GROUP, "kind": "MeshTLSAuthentication", "name": "m" });

    let cases: Vec<(&str, &str, Value, &str)> = vec![
        // Server
        (
            "v1beta1",
            "Server",
            json!({ "podSelector": selector }),
            "spec.port: Required value",
        ),
        (
            "v1beta3",
            "Server",
            json!({ "podSelector": selector }),
            "spec.port: Required value",
        ),
        (
            "v1beta1",
            "Server",
            json!({ "port": 8080 }),
            "spec.podSelector: Required value",
        ),
        (
            "v1beta3",
            "Server",
            json!({ "port": 8080 }),
            "must validate one and only one schema (oneOf)",
        ),
        (
            "v1beta3",
            "Server",
            json!({ "podSelector": { "matchExpressions": [{ "key": "app", "operator": "Equals" }] }, "port": 80 }),
            "spec.podSelector.matchExpressions[0].operator: Unsupported value: \"Equals\"",
        ),
        // AuthorizationPolicy
        (
            "v1alpha1",
            "AuthorizationPolicy",
            json!({ "requiredAuthenticationRefs": [mtls_ref] }),
            "spec.targetRef: Required value",
        ),
        (
            "v1alpha1",
            "AuthorizationPolicy",
            json!({ "targetRef": server_ref }),
            "spec.requiredAuthenticationRefs: Required value",
        ),
        (
            "v1alpha1",
            "AuthorizationPolicy",
            json!({ "targetRef": { "group": GROUP, "kind": "Server" }, "requiredAuthenticationRefs": [mtls_ref] }),
            "spec.targetRef.name: Required value",
        ),
        (
            "v1alpha1",
            "AuthorizationPolicy",
            json!({ "targetRef": { "group": "Policy_Linkerd", "kind": "Server", "name": "web" }, "requiredAuthenticationRefs": [mtls_ref] }),
            "spec.targetRef.group: Invalid value",
        ),
        (
            "v1alpha1",
            "AuthorizationPolicy",
            json!({ "targetRef": server_ref, "requiredAuthenticationRefs": [{ "group": GROUP, "kind": "MeshTLSAuthentication" }] }),
            "spec.requiredAuthenticationRefs[0].name: Required value",
        ),
        // MeshTLSAuthentication
        (
            "v1alpha1",
            "MeshTLSAuthentication",
            json!({ "identities": [] }),
            "spec.identities: Invalid value",
        ),
        (
            "v1alpha1",
            "MeshTLSAuthentication",
            json!({}),
            "must validate one and only one schema (oneOf)",
        ),
        (
            "v1alpha1",
            "MeshTLSAuthentication",
            json!({ "identityRefs": [{ "name": "client" }] }),
            "spec.identityRefs[0].kind: Required value",
        ),
        // NetworkAuthentication
        (
            "v1alpha1",
            "NetworkAuthentication",
            json!({}),
            "spec.networks: Required value",
        ),
        (
            "v1alpha1",
            "NetworkAuthentication",
            json!({ "networks": [{ "except": ["10.0.0.0/8"] }] }),
            "spec.networks[0].cidr: Required value",
        ),
        // HTTPRoute
        (
            "v1beta3",
            "HTTPRoute",
            json!({ "parentRefs": [{ "group": GROUP, "kind": "Server" }] }),
            "spec.parentRefs[0].name: Required value",
        ),
        (
            "v1beta3",
            "HTTPRoute",
            json!({ "parentRefs": [{ "name": "web", "kind": "Server", "port": 0 }] }),
            "spec.parentRefs[0].port: Invalid value",
        ),
        (
            "v1beta3",
            "HTTPRoute",
            json!({ "rules": [{ "matches": [{ "path": { "type": "Prefix", "value": "/api" } }] }] }),
            "spec.rules[0].matches[0].path.type: Unsupported value: \"Prefix\"",
        ),
        (
            "v1beta3",
            "HTTPRoute",
            json!({ "rules": [{ "matches": [{ "method": "FETCH" }] }] }),
            "spec.rules[0].matches[0].method: Unsupported value: \"FETCH\"",
        ),
        (
            "v1beta3",
            "HTTPRoute",
            json!({ "rules": [{ "timeouts": { "request": "ten seconds" } }] }),
            "spec.rules[0].timeouts.request: Invalid value",
        ),
        (
            "v1beta3",
            "HTTPRoute",
            json!({ "rules": [{ "matches": [{ "headers": [{ "name": "x-user" }] }] }] }),
            "spec.rules[0].matches[0].headers[0].value: Required value",
        ),
    ];
    let mut failures = Vec::new();
    for (version, kind, spec, expected) in cases {
        let message = refused(&client, &ns, version, kind, spec.clone()).await?;
        if !message.contains(expected) {
            failures.push(format!(
                "{kind} {version} {spec}: expected {expected:?} in {message:?}"
            ));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// Linkerd's own CRDs leave Server.spec.proxyProtocol (and accessPolicy) open: only the admission webhook
/// of Linkerd's policy controller refuses an unknown protocol. These CRDs do the same, so a test that needs
/// such a refusal has to come from Holt's own checks, not from the API server.
#[tokio::test]
async fn leaves_proxy_protocol_to_linkerds_webhook() -> anyhow::Result<()> {
    let (client, ns) = setup("linkerd-protocol").await?;
    let server = create(
        &client,
        &ns,
        "v1beta3",
        "Server",
        "odd-protocol",
        json!({ "podSelector": {}, "port": 9090, "proxyProtocol": "HTTP/3" }),
    )
    .await?;
    assert_eq!(server.data["spec"]["proxyProtocol"], "HTTP/3");
    Ok(())
}

/// The API server prunes fields a schema does not know, silently by default; with
/// `fieldValidation=Strict` (here through server-side apply, since kube-rs's `PostParams` has no such
/// option) it refuses them, naming the field.
#[tokio::test]
async fn unknown_fields_are_pruned_or_refused_under_strict_validation() -> anyhow::Result<()> {
    let (client, ns) = setup("linkerd-strict").await?;
    let servers = api(&client, &ns, "v1beta1", "Server");
    let with_typo = json!({ "podSelector": { "matchLabels": { "app": "web" } }, "port": 8080, "proxyprotocol": "HTTP/2" });

    let pruned = create(&client, &ns, "v1beta1", "Server", "pruned", with_typo.clone()).await?;
    assert!(
        pruned.data["spec"].get("proxyprotocol").is_none(),
        "{}",
        pruned.data
    );
    assert_eq!(pruned.data["spec"]["proxyProtocol"], "unknown");

    let strict = PatchParams::apply("holt-testenv-test").validation(ValidationDirective::Strict);
    let applied = object("v1beta1", "Server", "strict", with_typo)?;
    let error = servers
        .patch("strict", &strict, &Patch::Apply(&applied))
        .await
        .expect_err("strict validation refuses an unknown field");
    let message = match &error {
        kube::Error::Api(status) => status.message.clone(),
        other => anyhow::bail!("expected an API error, got {other}"),
    };
    ensure!(
        message.contains(".spec.proxyprotocol") && message.contains("field not declared in schema"),
        "{message}"
    );
    Ok(())
}
