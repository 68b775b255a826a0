//! `holt mapper` as a user runs it: the built `holt` binary reaching a real mapper through the real
//! kube-apiserver's service proxy (the mapper's Service and Endpoints point at the host end of a veth
//! pair this test creates, since the apiserver refuses loopback endpoints), and by `--url`. The mapper
//! checks its callers: users pass the token of their kubeconfig (or `--token-file`) and need the RBAC
//! verb; the API server needs `get`/`create` on the Service's proxy. `holt mapper insights` against a
//! mapper with the operator's configuration (`defaultShadow`) that has heard `client` (declared by a
//! ClientIntents) and `client2` (not declared) call `server`: the JSON, the table (`holt plan --traffic`'s),
//! the filters, and the errors (an unknown `-o`, a mapper that is gone, one without insights).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use holt_insights::{Insights, Outcome};
use holt_mapper::access::Role;
use holt_mapper::shared::now_ms;
use holt_mapper_api::TOKEN_AUDIENCE;
use holt_mapper_api::{Connection, Counters, HttpRequest, Report, SeenBy};
use holt_testenv::{
    ControlPlane, ServiceAccountToken, bind_role, deployment_with_pod_ips, eventually, service_account_token,
};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleBinding};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use pretty_assertions::assert_eq;
use serde::Deserialize;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A network namespace joined to the host by a veth pair, removed when dropped (also on panic). The
/// host end holds an address the API server can proxy to (it refuses loopback endpoints).
struct VethPair {
    netns: String,
    host: String,
    address: Ipv4Addr,
}

impl VethPair {
    fn new() -> anyhow::Result<VethPair> {
        static NEXT: AtomicU8 = AtomicU8::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let tag = format!("{}x{n}", pid % 1_000_000);
        let (a, b) = ((pid % 250) as u8, n.wrapping_mul(4));
        let pair = VethPair {
            netns: format!("holt-mcli-{tag}"),
            host: format!("hm{tag}"),
            address: Ipv4Addr::new(10, 232, a, b + 1),
        };
        let peer = format!("hp{tag}");
        ip(&["netns", "add", &pair.netns])?;
        ip(&[
            "link",
            "add",
            &pair.host,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &pair.netns,
        ])?;
        ip(&["addr", "add", &format!("{}/30", pair.address), "dev", &pair.host])?;
        ip(&["link", "set", &pair.host, "up"])?;
        let peer_address = format!("{}/30", Ipv4Addr::new(10, 232, a, b + 2));
        ip(&["-n", &pair.netns, "addr", "add", &peer_address, "dev", &peer])?;
        ip(&["-n", &pair.netns, "link", "set", &peer, "up"])?;
        Ok(pair)
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting the namespace deletes the peer and with it the host end; both are tried.
        let _ = ip(&["link", "del", &self.host]);
        if let Err(e) = ip(&["netns", "del", &self.netns]) {
            eprintln!("cannot delete the test network namespace {}: {e}", self.netns);
        }
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .context("run ip (iproute2 is needed)")?;
    if !output.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn holt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holt"))
        .args(args)
        .output()
        .expect("holt runs")
}

fn stdout(output: Output) -> String {
    assert!(
        output.status.success(),
        "holt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The mapper as the API server must see it to proxy to it: a Pod holding the mapper's address (the
/// service proxy only dials endpoint addresses whose target Pod has that IP), and a selector-less Service
/// with hand-made Endpoints and EndpointSlice pointing at that Pod.
async fn mapper_service(client: &Client, ns: &str, name: &str, at: SocketAddr) -> anyhow::Result<()> {
    let port = at.port();
    let pod_name = format!("{name}-0");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": pod_name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "mapper", "image": "registry.example/holt-mapper:1"}]}
    }))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.create(&PostParams::default(), &pod).await?;
    let ip = at.ip().to_string();
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}});
    pods.patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let target = json!({"kind": "Pod", "name": pod_name, "namespace": ns});
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "http", "port": port, "targetPort": port}]}
    }))?;
    Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service)
        .await?;
    let endpoints: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": ip, "targetRef": target}], "ports": [{"name": "http", "port": port}]}]
    }))?;
    Api::<Endpoints>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &endpoints)
        .await?;
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-1"), "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}, "targetRef": target}],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}]
    }))?;
    Api::<EndpointSlice>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &slice)
        .await?;
    Ok(())
}

fn connection(src: &str, dst: &str) -> Connection {
    Connection {
        src_ip: src.parse().expect("ip"),
        dst_ip: dst.parse().expect("ip"),
        dst_port: 80,
        seen_by: SeenBy::Syn,
        src_hostname: None,
        last_seen_ms: now_ms(),
    }
}

fn tutorial_json(ns: &str) -> Value {
    let one = |name: &str| {
        json!({
            "kind": "ClientIntents", "apiVersion": "k8s.otterize.com/v2beta1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
            "spec": {"workload": {"name": name, "kind": "Deployment"},
                     "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]},
            "status": {"upToDate": false, "observedGeneration": 0}
        })
    };
    json!([one("client"), one("client2")])
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A mapper served in-process on the host end of a veth pair, behind Service `holt-mapper` in `ns`,
/// checking permissions in `ns`; stopped when dropped.
struct ServedMapper {
    at: SocketAddr,
    url: String,
    running: holt_mapper::serve::Background,
    _state: tempfile::TempDir,
    _link: VethPair,
}

impl ServedMapper {
    async fn start(plane: &ControlPlane, client: &Client, ns: &str) -> anyhow::Result<ServedMapper> {
        ServedMapper::start_with(plane, client, ns, &[]).await
    }

    /// [`ServedMapper::start`] with more flags of the mapper.
    async fn start_with(
        plane: &ControlPlane,
        client: &Client,
        ns: &str,
        flags: &[&str],
    ) -> anyhow::Result<ServedMapper> {
        // Bound to an address the API server can proxy to.
        let link = VethPair::new()?;
        let state = tempfile::tempdir()?;
        // The mapper's own flag parsing, so that flags added later keep their defaults here.
        let bind = SocketAddr::new(IpAddr::V4(link.address), 0).to_string();
        let state_dir = state.path().to_string_lossy().into_owned();
        let kubeconfig = plane.kubeconfig().to_string_lossy().into_owned();
        let mut args = vec![
            "holt-mapper",
            "--bind-address",
            &bind,
            "--state-dir",
            &state_dir,
            "--kubeconfig",
            &kubeconfig,
            "--snapshot-interval-ms",
            "1000",
            "--resolved-ips-interval-ms",
            "0",
            "--authorization-namespace",
            ns,
        ];
        args.extend_from_slice(flags);
        let args = <holt_mapper::args::Args as clap::Parser>::try_parse_from(args)?;
        let running = holt_mapper::serve::Background::start(args).await?;
        let (at, url) = (running.address, running.url());
        mapper_service(client, ns, "holt-mapper", at).await?;
        let http = Client::try_from(kube::Config::new(url.parse()?))?;
        eventually("the mapper ready", TIMEOUT, || async {
            Ok(http
                .request_text(http::Request::get("/readyz").body(Vec::new())?)
                .await
                .ok())
        })
        .await?;
        Ok(ServedMapper {
            at,
            url,
            running,
            _state: state,
            _link: link,
        })
    }

    /// Reports `connections` as the sniffer `token` belongs to.
    async fn report(&self, token: &str, connections: Vec<Connection>) -> anyhow::Result<()> {
        self.report_with_http(token, connections, Vec::new()).await
    }

    /// [`ServedMapper::report`] with HTTP request lines.
    async fn report_with_http(
        &self,
        token: &str,
        connections: Vec<Connection>,
        http: Vec<HttpRequest>,
    ) -> anyhow::Result<()> {
        let mut config = kube::Config::new(self.url.parse()?);
        config.auth_info.token = Some(token.to_owned().into());
        let client = Client::try_from(config)?;
        let report = Report {
            node: "node-a".into(),
            dns: vec![],
            connections,
            counters: Counters::default(),
            http,
        };
        let post = http::Request::post(holt_mapper_api::REPORTS_PATH).body(serde_json::to_vec(&report)?)?;
        client.request_text(post).await?;
        Ok(())
    }

    async fn stop(self) -> anyhow::Result<()> {
        Ok(self.running.stop().await?)
    }
}

/// A ServiceAccount `name` in `ns` granted `rules` there, and its token for `audiences` (none: the API
/// server's).
async fn account(
    client: &Client,
    ns: &str,
    name: &str,
    rules: Vec<PolicyRule>,
    audiences: &[&str],
) -> anyhow::Result<ServiceAccountToken> {
    let token = service_account_token(client, ns, name, audiences).await?;
    if !rules.is_empty() {
        bind_role(client, ns, name, rules, &[(ns, name)]).await?;
    }
    Ok(token)
}

/// A file in `dir` holding the token of a ServiceAccount `mapper-admin` of `ns` with the mapper's admin
/// role, for the mapper's audience: what `--token-file` takes.
async fn admin_token_file(client: &Client, ns: &str, dir: &Path) -> anyhow::Result<String> {
    let admin = account(client, ns, "mapper-admin", Role::Admin.rules(), &[TOKEN_AUDIENCE]).await?;
    let path = dir.join("token");
    std::fs::write(&path, &admin.token)?;
    Ok(path.to_string_lossy().into_owned())
}

/// What reaching Service `holt-mapper` on `port` through the API server takes: `get` (GET) and
/// `create` (POST) on its proxy subresource, whose name is `<service>:<port>` when the port is given.
fn service_proxy(port: u16) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["services/proxy".into()]),
        resource_names: Some(vec![format!("holt-mapper:{port}")]),
        verbs: vec!["get".into(), "create".into()],
        ..PolicyRule::default()
    }
}

/// A mapper served for a new namespace `<prefix>-…` holding one Deployment per `(name, pod IP)` in `pods`,
/// to which a sniffer has reported `calls` (source IP, destination IP).
async fn mapper_with_calls(
    prefix: &str,
    pods: &[(&str, &str)],
    calls: &[(&str, &str)],
) -> anyhow::Result<(&'static ControlPlane, Client, String, ServedMapper)> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, prefix).await?;
    for (name, ip) in pods {
        deployment_with_pod_ips(&client, &ns, name, &[ip]).await?;
    }
    let served = ServedMapper::start(plane, &client, &ns).await?;
    let sniffer = account(&client, &ns, "sniffer", Role::Sniffer.rules(), &[TOKEN_AUDIENCE]).await?;
    let connections = calls.iter().map(|(src, dst)| connection(src, dst)).collect();
    served.report(&sniffer.token, connections).await?;
    Ok((plane, client, ns, served))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holt_mapper_reaches_the_mapper_through_the_api_server_and_by_url() -> anyhow::Result<()> {
    // The tutorial's calls, reported by a sniffer.
    let pods = [
        ("client", "10.244.7.1"),
        ("client2", "10.244.7.2"),
        ("server", "10.244.7.3"),
    ];
    let calls = [("10.244.7.1", "10.244.7.3"), ("10.244.7.2", "10.244.7.3")];
    let (plane, client, ns, served) = mapper_with_calls("mapper-cli", &pods, &calls).await?;
    let (at, url) = (served.at, served.url.clone());

    // The admin kubeconfig authenticates with a client certificate, which the API server does not pass
    // on: the mapper gets a token for it from --token-file.
    let credentials = tempfile::tempdir()?;
    let token_file = admin_token_file(&client, &ns, credentials.path()).await?;

    let kubeconfig = plane.kubeconfig().to_string_lossy().into_owned();
    let port = at.port().to_string();
    let via_api = [
        "mapper",
        "--kubeconfig",
        &kubeconfig,
        "--mapper-namespace",
        &ns,
        "--mapper-service",
        "holt-mapper",
        "--mapper-port",
        &port,
        "--token-file",
        &token_file,
    ];
    let run = |extra: &[&str]| {
        let mut all: Vec<&str> = via_api.to_vec();
        all.extend_from_slice(extra);
        holt(&all)
    };

    let exported: Value = serde_json::from_str(&stdout(run(&["export", "--format", "json", "-n", &ns])))?;
    assert_eq!(exported, tutorial_json(&ns));

    let listed = stdout(run(&["list", "-n", &ns]));
    assert_eq!(
        listed,
        format!(
            "client in namespace {ns} calls:\n  - server in namespace {ns}\nclient2 in namespace {ns} calls:\n  - server in namespace {ns}\n"
        )
    );
    assert_eq!(
        stdout(holt(&[
            "mapper",
            "--url",
            &url,
            "--token-file",
            &token_file,
            "list",
            "--namespace",
            &ns
        ])),
        listed,
        "--url gives the same"
    );

    let only = stdout(run(&["export", "--client", &format!("client2.{ns}")]));
    assert!(
        only.contains("name: client2") && !only.contains("name: client\n"),
        "{only}"
    );
    let to_server = stdout(run(&[
        "export",
        "--server",
        &format!("server.{ns}"),
        "--format",
        "json",
    ]));
    assert_eq!(serde_json::from_str::<Value>(&to_server)?, tutorial_json(&ns));

    // --exclude-services (before or after the command): by name as a client, by name.namespace as a
    // server (then no call is left).
    let without_client = stdout(run(&["--exclude-services", "client", "list", "-n", &ns]));
    assert_eq!(
        without_client,
        format!("client2 in namespace {ns} calls:\n  - server in namespace {ns}\n")
    );
    let without_server = stdout(run(&[
        "export",
        "-n",
        &ns,
        "--format",
        "json",
        "--exclude-services",
        &format!("nothing,server.{ns}"),
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&without_server)?,
        serde_json::json!([])
    );
    // --exclude-labels: judged on the pods (the Deployments label theirs app=<name>).
    let without_client2 = stdout(run(&["list", "-n", &ns, "--exclude-labels", "app=client2"]));
    assert_eq!(
        without_client2,
        format!("client in namespace {ns} calls:\n  - server in namespace {ns}\n")
    );
    let nothing = run(&["--exclude-labels", "app=server", "list", "-n", &ns]);
    assert_eq!(
        String::from_utf8_lossy(&nothing.stderr),
        "no discovered intents match\n"
    );
    assert_eq!(stdout(nothing), "");

    let v1 = stdout(run(&["export", "-n", &ns, "--output-version", "v1"]));
    assert!(v1.starts_with("apiVersion: k8s.otterize.com/v1alpha3\n"), "{v1}");
    assert!(v1.contains("calls:\n  - name: server\n"), "{v1}");

    let out = tempfile::tempdir()?;
    let dir = out.path().join("intents");
    let dir_arg = dir.to_string_lossy().into_owned();
    stdout(run(&[
        "export",
        "-n",
        &ns,
        "--output-type",
        "dir",
        "-o",
        &dir_arg,
    ]));
    let client_file = read(&dir.join(format!("client.{ns}.yaml")));
    let client_yaml: Value = serde_yaml::from_str(&client_file)?;
    assert_eq!(client_yaml["spec"], tutorial_json(&ns)[0]["spec"]);
    assert!(dir.join(format!("client2.{ns}.yaml")).exists());
    assert_eq!(std::fs::read_dir(&dir)?.count(), 2);

    let single = out.path().join("all.yaml");
    let single_arg = single.to_string_lossy().into_owned();
    stdout(run(&["export", "-n", &ns, "-o", &single_arg]));
    let documents: Vec<Value> = serde_yaml::Deserializer::from_str(&read(&single))
        .map(|document| {
            serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(document).expect("yaml"))
                .expect("json")
        })
        .collect();
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[1]["metadata"]["name"], "client2");

    for (format, check) in [
        ("dot", format!("\"client.{ns}\" -> \"server.{ns}\";")),
        ("mermaid", "flowchart LR".to_owned()),
        ("svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"".to_owned()),
    ] {
        let path = out.path().join(format!("graph.{format}"));
        let path_arg = path.to_string_lossy().into_owned();
        stdout(run(&[
            "visualize",
            "-n",
            &ns,
            "--format",
            format,
            "-o",
            &path_arg,
        ]));
        let text = read(&path);
        assert!(text.contains(&check), "{format}: {text}");
    }

    // The reference's spelling (`network-mapper`), pictures chosen by the file's extension.
    let reference = |extra: &[&str]| {
        let mut all: Vec<&str> = via_api.to_vec();
        all[0] = "network-mapper";
        all.extend_from_slice(extra);
        holt(&all)
    };
    for (name, magic) in [
        ("graph.png", &b"\x89PNG\r\n\x1a\n"[..]),
        ("graph.jpeg", &[0xFF, 0xD8, 0xFF][..]),
        ("graph-by-flag", &[0xFF, 0xD8, 0xFF][..]),
    ] {
        let path = out.path().join(name);
        let path_arg = path.to_string_lossy().into_owned();
        let mut args = vec!["visualize", "-n", &ns, "-o", &path_arg];
        if name == "graph-by-flag" {
            args.extend(["--format", "jpg"]);
        }
        stdout(reference(&args));
        let bytes = std::fs::read(&path)?;
        assert!(
            bytes.starts_with(magic),
            "{name}: {:?}",
            &bytes[..8.min(bytes.len())]
        );
        assert!(bytes.len() > 1000, "{name}: a drawing, {} bytes", bytes.len());
    }
    let gif = out.path().join("graph.gif").to_string_lossy().into_owned();
    let refused = reference(&["visualize", "-n", &ns, "-o", &gif]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("cannot write a .gif file"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let mismatch = out.path().join("graph.svg").to_string_lossy().into_owned();
    let refused = reference(&["visualize", "-n", &ns, "--format", "png", "-o", &mismatch]);
    assert!(!refused.status.success(), "png into a .svg file is refused");

    // Errors name what was tried.
    let missing = holt(&[
        "mapper",
        "--kubeconfig",
        &kubeconfig,
        "--mapper-namespace",
        &ns,
        "--mapper-service",
        "nope",
        "list",
    ]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains(&format!(
            "mapper Service {ns}/nope port 9090 through the API server https://"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("answered 404"), "{stderr}");
    let bad_filter = run(&["list", "--server", "no-namespace"]);
    assert!(!bad_filter.status.success());
    assert!(String::from_utf8_lossy(&bad_filter.stderr).contains("server must be name.namespace"));

    let reset = run(&["reset"]);
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert_eq!(stdout(run(&["list", "-n", &ns])), "");

    served.stop().await
}

/// `holt mapper list` shows under each server the HTTP paths the client requested (from a sniffer's
/// report) and the Kafka topics it used (from a broker's authorizer log: lines in the format the harness's
/// real broker writes, which `holt-mapper/tests/kafka_topics.rs` reads from the broker itself), in the
/// reference's words; a broker whose connection was not seen gets a line of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holt_mapper_list_shows_http_paths_and_kafka_topics_under_their_servers() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, "mapper-cli-l7").await?;
    // 10.244.12.x: each test of this file has a network of its own (7, 8, 9, 11 are taken), since the
    // mapper sees every namespace of the shared API server and two pods at one address resolve to neither.
    for (name, ip) in [("client", "10.244.12.1"), ("server", "10.244.12.2")] {
        deployment_with_pod_ips(&client, &ns, name, &[ip]).await?;
    }
    let logs = tempfile::tempdir()?;
    let log = logs.path().join("authorizer.log");
    let decision = |verdict: &str, operation: &str, topic: &str| {
        format!(
            "[2026-12-05 16:57:18,417] DEBUG Principal = User:CN=client.{ns} is {verdict} operation = {operation} \
             from host = 127.0.0.1 on resource = Topic:LITERAL:{topic} for request = Produce with \
             resourceRefCount = 1 based on rule MatchingAcl(...) (kafka.authorizer.logger)\n"
        )
    };
    std::fs::write(
        &log,
        [
            decision("Allowed", "WRITE", "orders"),
            decision("Allowed", "DESCRIBE", "orders"),
            decision("Denied", "DESCRIBE", "payments"),
        ]
        .concat(),
    )?;
    let source = format!("kafka.{ns}={}", log.display());
    let served = ServedMapper::start_with(
        plane,
        &client,
        &ns,
        &[
            "--kafka-authorizer-log",
            &source,
            "--kafka-log-interval-ms",
            "100",
        ],
    )
    .await?;
    let sniffer = account(&client, &ns, "sniffer", Role::Sniffer.rules(), &[TOKEN_AUDIENCE]).await?;
    let request = |method: &str, path: &str| HttpRequest {
        src_ip: "10.244.12.1".parse().expect("ip"),
        dst_ip: "10.244.12.2".parse().expect("ip"),
        dst_port: 8080,
        method: method.into(),
        path: path.into(),
        last_seen_ms: now_ms(),
    };
    served
        .report_with_http(
            &sniffer.token,
            vec![connection("10.244.12.1", "10.244.12.2")],
            vec![
                request("GET", "/orders/17"),
                request("POST", "/orders/18"),
                request("GET", "/health"),
            ],
        )
        .await?;
    let credentials = tempfile::tempdir()?;
    let token_file = admin_token_file(&client, &ns, credentials.path()).await?;

    let expected = format!(
        "client in namespace {ns} calls:\n\
         \x20 - kafka in namespace {ns}\n\
         \x20   - Kafka topic: orders, operations: [produce describe]\n\
         \x20   - Kafka topic: payments, operations: [describe]\n\
         \x20 - server in namespace {ns}\n\
         \x20   - path /health, methods: [GET]\n\
         \x20   - path /orders/*, methods: [GET,POST]\n"
    );
    let list = || {
        stdout(holt(&[
            "mapper",
            "--url",
            &served.url,
            "--token-file",
            &token_file,
            "list",
            "-n",
            &ns,
        ]))
    };
    // The log is read every 100 ms: wait for it, then compare (a diff when it never matches).
    let settled = eventually("the topics and paths listed", TIMEOUT, || async {
        Ok((list() == expected).then_some(()))
    })
    .await;
    if settled.is_err() {
        assert_eq!(list(), expected);
    }
    served.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_reach_the_mapper_with_their_kubeconfig_token_and_need_the_verb() -> anyhow::Result<()> {
    let pods = [("caller", "10.244.8.1"), ("callee", "10.244.8.2")];
    let calls = [("10.244.8.1", "10.244.8.2")];
    let (plane, client, ns, served) = mapper_with_calls("mapper-users", &pods, &calls).await?;

    // Users whose kubeconfigs hold a token for the API server (as cloud and OIDC logins give), each
    // allowed through the service proxy: one may reset, one may read, one may do neither at the mapper.
    let dir = tempfile::tempdir()?;
    let kubeconfig = |user: &ServiceAccountToken| -> anyhow::Result<String> {
        let path = dir.path().join(format!("{}.kubeconfig", user.name));
        user.write_kubeconfig(&path, plane.url(), plane.ca_file())?;
        Ok(path.to_string_lossy().into_owned())
    };
    let with_rules = |mapper: Role| {
        let mut rules = mapper.rules();
        rules.push(service_proxy(served.at.port()));
        rules
    };
    let alice = kubeconfig(&account(&client, &ns, "alice", with_rules(Role::Admin), &[]).await?)?;
    let bob = kubeconfig(&account(&client, &ns, "bob", with_rules(Role::Reader), &[]).await?)?;
    let carol =
        kubeconfig(&account(&client, &ns, "carol", vec![service_proxy(served.at.port())], &[]).await?)?;
    let port = served.at.port().to_string();
    let mapper = |kubeconfig: &str, command: &[&str]| {
        let mut args = vec![
            "mapper",
            "--kubeconfig",
            kubeconfig,
            "--mapper-namespace",
            &ns,
            "--mapper-service",
            "holt-mapper",
            "--mapper-port",
            &port,
        ];
        args.extend_from_slice(command);
        holt(&args)
    };
    let listed = format!("caller in namespace {ns} calls:\n  - callee in namespace {ns}\n");

    // A reader reads, through the API server and by URL, and may not reset.
    assert_eq!(stdout(mapper(&bob, &["list", "-n", &ns])), listed);
    let by_url = holt(&[
        "mapper",
        "--kubeconfig",
        &bob,
        "--url",
        &served.url,
        "list",
        "-n",
        &ns,
    ]);
    assert_eq!(stdout(by_url), listed);
    let refused = mapper(&bob, &["reset"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    eprintln!("a reader resets:\n{stderr}");
    assert!(
        stderr.contains("answered 403")
            && stderr.contains(&format!("system:serviceaccount:{ns}:bob"))
            && stderr.contains("deletecollection"),
        "{stderr}"
    );
    assert_eq!(stdout(mapper(&bob, &["list", "-n", &ns])), listed, "not reset");

    // Someone the API server lets through to the mapper, but without a verb at the mapper.
    let refused = mapper(&carol, &["list", "-n", &ns]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("answered 403") && stderr.contains("`list` on `discoveredintents.mapper.holt.dev`"),
        "{stderr}"
    );

    // A user with a client certificate reaches the mapper, which cannot tell who it is: the CLI says
    // what to do.
    let dave = plane.user("dave", None)?;
    let rolebinding = |name: &str| -> anyhow::Result<RoleBinding> {
        Ok(serde_json::from_value(json!({
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "carol"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dave"}]
        }))?)
    };
    Api::<RoleBinding>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &rolebinding("dave")?)
        .await?;
    let refused = mapper(&dave.kubeconfig.to_string_lossy(), &["list", "-n", &ns]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    eprintln!("a user with a client certificate lists:\n{stderr}");
    assert!(
        stderr.contains("answered 401")
            && stderr.contains("client certificate")
            && stderr.contains("--token"),
        "{stderr}"
    );

    // The verb `deletecollection` resets.
    let reset = mapper(&alice, &["reset"]);
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert_eq!(stdout(mapper(&bob, &["list", "-n", &ns])), "");

    served.stop().await
}

/// The shadow-mode tutorial behind a mapper with the operator's configuration (`defaultShadow`), checking who
/// calls: in a new namespace, Deployments `client`, `client2` and `server` (port 80) at `10.244.<net>.1`, `.2`
/// and `.3`; `client` declares its call to `server` (a ClientIntents); a sniffer reported both clients calling
/// it.
struct ShadowTutorial {
    plane: &'static ControlPlane,
    client: Client,
    ns: String,
    served: ServedMapper,
    /// Holds the operator's configuration; the test's other files go here too.
    files: tempfile::TempDir,
}

impl ShadowTutorial {
    async fn start(prefix: &str, net: u8) -> anyhow::Result<ShadowTutorial> {
        let plane = ControlPlane::shared().await?;
        let client = plane.client().await?;
        holt_testenv::install_crds_without_conversion(&client, &holt_api::crds::crds_yaml()?).await?;
        let ns = plane.create_namespace(&client, prefix).await?;
        let ip = |host: u8| format!("10.244.{net}.{host}");
        for (name, host, ports) in [("client", 1, &[][..]), ("client2", 2, &[]), ("server", 3, &[80])] {
            holt_testenv::deployment_serving(&client, &ns, name, &[ip(host).as_str()], ports).await?;
        }
        let intents = json!({
            "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
            "metadata": {"name": "client"},
            "spec": {"workload": {"name": "client", "kind": "Deployment"},
                     "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]}
        });
        holt_testenv::create_custom_object(&client, &ns, "clientintents", intents).await?;
        let files = tempfile::tempdir()?;
        let config = files.path().join("operator-config.yaml");
        std::fs::write(&config, "mode: defaultShadow\n")?;
        let config = config.to_string_lossy().into_owned();
        let served = ServedMapper::start_with(plane, &client, &ns, &["--operator-config", &config]).await?;
        let sniffer = account(&client, &ns, "sniffer", Role::Sniffer.rules(), &[TOKEN_AUDIENCE]).await?;
        let connections = [1, 2]
            .into_iter()
            .map(|host| connection(&ip(host), &ip(3)))
            .collect();
        served.report(&sniffer.token, connections).await?;
        Ok(ShadowTutorial {
            plane,
            client,
            ns,
            served,
            files,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holt_mapper_insights_prints_the_calls_fate_as_json_and_as_the_plans_table() -> anyhow::Result<()> {
    let ShadowTutorial {
        plane,
        client,
        ns,
        served,
        files,
    } = ShadowTutorial::start("insights-cli", 9).await?;
    let reader = account(&client, &ns, "reader", Role::Reader.rules(), &[TOKEN_AUDIENCE]).await?;
    let token_file = files.path().join("reader");
    std::fs::write(&token_file, &reader.token)?;
    let token_file = token_file.to_string_lossy().into_owned();

    let url = served.url.clone();
    let run = |extra: &[&str]| {
        let mut args = vec!["mapper", "--url", &url, "--token-file", &token_file];
        args.extend_from_slice(extra);
        holt(&args)
    };
    let json = |extra: &[&str]| -> anyhow::Result<Insights> {
        let mut args = vec!["insights", "-o", "json"];
        args.extend_from_slice(extra);
        Ok(serde_json::from_str(&stdout(run(&args)))?)
    };
    let all = eventually(
        "both calls and client's intents in the insights",
        TIMEOUT,
        || async {
            let insights = tokio::task::block_in_place(|| json(&["-n", &ns]))?;
            Ok((insights.calls.len() == 2 && insights.calls.iter().any(|c| c.declared)).then_some(insights))
        },
    )
    .await?;
    let fates: Vec<(&str, bool, bool, bool)> = all
        .calls
        .iter()
        .map(|c| {
            let allowed = c.now == Outcome::Allowed;
            (
                c.client.name.as_str(),
                c.declared,
                allowed,
                c.if_protected.is_blocked(),
            )
        })
        .collect();
    assert_eq!(
        fates,
        [("client", true, true, false), ("client2", false, true, true)]
    );
    assert!(!all.server("server").context("the server's row")?.ready_to_protect);

    // The table: the one `holt plan --traffic` prints, headed by where the calls come from.
    let table = stdout(run(&["insights", "-n", &ns]));
    eprintln!("holt mapper insights:\n{table}");
    let heading = format!("Discovered calls (mapper at {url}): 2 call(s), 0 blocked now.\n");
    assert!(table.starts_with(&heading), "{table}");
    let row = |first: &str| -> Vec<&str> {
        let prefix = format!("{ns}/{first} ");
        let line = table.lines().find(|l| l.starts_with(&prefix));
        line.map(|l| l.split_whitespace().collect()).unwrap_or_default()
    };
    let server = format!("{ns}/server");
    assert_eq!(row("client")[1..4], [server.as_str(), "yes", "allowed"]);
    assert_eq!(row("client2")[1..4], [server.as_str(), "no", "allowed"]);
    assert!(row("client2")[4].starts_with("blocked"), "{:?}", row("client2"));
    let server_row = row("server").join(" ");
    assert!(
        server_row.contains("shadow (defaultShadow)")
            && server_row.contains(&format!("{ns}/client2"))
            && server_row.ends_with(" no"),
        "{server_row}"
    );

    // Filters: a server by name or name.namespace, a namespace, and the exclusions of `holt mapper`. By name
    // alone, the other tests' namespaces count too: their ClientIntents declare calls to a `server` that
    // this mapper never heard of, listed as declared and not seen.
    let by_name = json(&["--server", "server"])?;
    assert_eq!((&by_name.calls, &by_name.servers), (&all.calls, &all.servers));
    assert_eq!(json(&["--server", &format!("server.{ns}")])?, all);
    assert_eq!(json(&["--server", "client"])?, Insights::default());
    assert_eq!(json(&["--namespace", "elsewhere"])?, Insights::default());
    let excluded = stdout(run(&[
        "--exclude-services",
        "client2",
        "insights",
        "-n",
        &ns,
        "-o",
        "json",
    ]));
    let excluded: Insights = serde_json::from_str(&excluded)?;
    assert_eq!(excluded.calls.len(), 1);
    assert!(excluded.servers[0].ready_to_protect);

    // Bad input: an output format the command does not have.
    let yaml = run(&["insights", "-o", "yaml"]);
    assert_eq!(yaml.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&yaml.stderr);
    assert!(stderr.contains("invalid value 'yaml' for '--output"), "{stderr}");
    served.stop().await?;

    // A mapper that is gone: a clear error naming it, non-zero.
    let gone = run(&["insights"]);
    assert!(!gone.status.success());
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(
        stderr.contains(&format!("cannot reach the mapper at {url}")),
        "{stderr}"
    );

    // A mapper without the operator's configuration (in a namespace of its own, checking no one): its
    // answer says how to turn the insights on.
    let off_ns = plane.create_namespace(&client, "insights-off").await?;
    let off = ServedMapper::start_with(plane, &client, &off_ns, &["--insecure-skip-authentication"]).await?;
    let output = holt(&["mapper", "--url", &off.url, "insights"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("answered 404") && stderr.contains("--operator-config"),
        "{stderr}"
    );
    off.stop().await
}

/// An answer of `holt mapper ui`: its status, headers (names in lower case) and body.
struct LocalAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl LocalAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to `holt mapper ui` (`Connection: close`, `Host` its own unless `headers` say
/// otherwise).
fn local_request(
    at: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<LocalAnswer> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&at, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("host: 127.0.0.1:{}\r\n", at.port()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(LocalAnswer {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// `holt mapper ui` as a user runs it: the mapper checks who calls (authentication on) and is reached
/// through the API server with the user's kubeconfig token; the page, opened from the local proxy in a real
/// headless Chromium, draws the tutorial's calls with their states. Opened on the mapper directly, it says
/// the mapper asks for a token and how to give it one. The proxy passes on only reads, for its own host,
/// within its bounds, answers `304` to a page that holds the current insights, and stops on Ctrl-C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holt_mapper_ui_serves_the_page_with_the_users_token() -> anyhow::Result<()> {
    let tutorial = ShadowTutorial::start("ui-cli", 11).await?;
    let (plane, client, ns) = (tutorial.plane, &tutorial.client, &tutorial.ns);
    // A reader whose kubeconfig token the API server lets through to the mapper's Service.
    let mut rules = Role::Reader.rules();
    rules.push(service_proxy(tutorial.served.at.port()));
    let bob = account(client, ns, "bob", rules, &[]).await?;
    let kubeconfig = tutorial.files.path().join("bob.kubeconfig");
    bob.write_kubeconfig(&kubeconfig, plane.url(), plane.ca_file())?;

    let port = tutorial.served.at.port().to_string();
    let mut proxy = tokio::process::Command::new(env!("CARGO_BIN_EXE_holt"))
        .args(["mapper", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--mapper-namespace", ns, "--mapper-service", "holt-mapper"])
        .args(["--mapper-port", &port, "ui", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(proxy.stdout.take().context("stdout")?);
    let mut first = String::new();
    tokio::time::timeout(
        TIMEOUT,
        tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut first),
    )
    .await??;
    eprintln!("holt mapper ui: {first}");
    let page = first
        .split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:"))
        .with_context(|| format!("no address in {first:?}"))?
        .to_owned();
    assert!(
        first.contains("through the API server") && page.ends_with("/ui/"),
        "{first}"
    );
    let at: SocketAddr = page
        .trim_start_matches("http://")
        .trim_end_matches("/ui/")
        .parse()?;

    // The insights through the proxy: the token is the user's; the ETag comes back, and with it a 304.
    let query = format!("/v1/insights?namespace={ns}");
    let answer = eventually("both calls through the proxy", TIMEOUT, || async {
        let answer = local_request(at, "GET", &query, &[], b"")?;
        anyhow::ensure!(answer.status == 200, "{}: {}", answer.status, answer.body);
        let insights: Insights = serde_json::from_str(&answer.body)?;
        Ok((insights.calls.len() == 2).then_some(answer))
    })
    .await?;
    let etag = answer.header("etag").context("an ETag")?;
    let again = local_request(at, "GET", &query, &[("if-none-match", etag)], b"")?;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("cross-origin-resource-policy"), Some("same-origin"));
    // Only reads, only for its own host, within its bounds.
    let status = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        local_request(at, method, path, headers, body).map(|answer| answer.status)
    };
    assert_eq!(status("POST", "/v1/reset", &[], b"")?, 405);
    assert_eq!(status("GET", "/v1/reset", &[], b"")?, 404);
    assert_eq!(status("GET", "/metrics", &[], b"")?, 404);
    assert_eq!(
        status("GET", "/v1/insights", &[("host", "attacker.example")], b"")?,
        403
    );
    assert_eq!(status("GET", "/v1/insights", &[], &[b'x'; 20_000])?, 413);
    let root = local_request(at, "GET", "/", &[], b"")?;
    assert_eq!((root.status, root.header("location")), (302, Some("/ui/")));
    let script = local_request(at, "GET", "/ui/graph.js", &[], b"")?;
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    assert!(script.body.contains("../v1/insights"));

    // The page in a real browser, from the proxy.
    let mut browser = holt_testenv::Browser::start(1200, 700).await?;
    browser
        .open_until(
            &format!("{page}?poll=300"),
            "Number(document.body.dataset.updates) >= 1",
            TIMEOUT,
        )
        .await?;
    let drawn: Vec<(String, String)> = browser
        .evaluate(&format!(
            "[...document.querySelectorAll('#graph [data-call^=\"{ns}/\"]')].map(e => [e.dataset.call, e.dataset.state])"
        ))
        .await?;
    assert_eq!(
        drawn,
        [
            (format!("{ns}/client->{ns}/server"), "declared".to_owned()),
            (format!("{ns}/client2->{ns}/server"), "undeclared".to_owned()),
        ]
    );
    let server: Vec<String> = browser
        .evaluate(&format!(
            "(e => [e.dataset.enforcement, e.dataset.ready])(document.querySelector('[data-server=\"{ns}/server\"]'))"
        ))
        .await?;
    assert_eq!(server, ["shadow", "false"]);

    // The page opened on the mapper itself, which checks who calls: it says what to do.
    browser.open(&format!("{}/ui/", tutorial.served.url)).await?;
    browser
        .wait_until(
            "the page says the mapper asks for a token",
            "document.getElementById('status').classList.contains('problem')",
            TIMEOUT,
        )
        .await?;
    let status: String = browser
        .evaluate("document.getElementById('status').textContent")
        .await?;
    assert!(
        status.contains("answered 401") && status.contains("holt mapper ui"),
        "{status}"
    );

    // Ctrl-C stops it.
    let pid = rustix::process::Pid::from_raw(i32::try_from(proxy.id().context("pid")?)?).context("pid")?;
    rustix::process::kill_process(pid, rustix::process::Signal::INT)?;
    let stopped = tokio::time::timeout(TIMEOUT, proxy.wait()).await??;
    assert!(stopped.success(), "{stopped:?}");
    tutorial.served.stop().await
}
