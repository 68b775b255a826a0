//! `holt mapper insights` as a user runs it: the built `holt` binary against a real mapper (served
//! in-process by URL, checking its callers' tokens against the real kube-apiserver) that runs with an
//! operator configuration in `defaultShadow` mode and has heard the tutorial's calls: `client` (declared by a
//! ClientIntents) and `client2` (not declared) call `server`. The JSON and the table (the one `holt plan
//! --traffic` prints), the `--namespace` and `--server` filters, and the errors: an unknown `-o`, a mapper
//! that cannot be reached, a mapper without insights.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::Context;
use holt_insights::{Insights, Outcome};
use holt_mapper::access::Role;
use holt_mapper::shared::now_ms;
use holt_mapper_api::{Connection, Counters, Report, SeenBy, TOKEN_AUDIENCE};
use holt_testenv::{ControlPlane, bind_role, deployment_serving, eventually, service_account_token};
use kube::Client;
use kube::api::{DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use pretty_assertions::assert_eq;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

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

/// A mapper served in-process on loopback, checking permissions in `ns`, with the operator's configuration
/// when `operator_config` is given; stopped when `stop` is sent.
struct ServedMapper {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), holt_mapper::serve::ServeError>>,
    _state: tempfile::TempDir,
}

impl ServedMapper {
    async fn start(plane: &ControlPlane, ns: &str, operator_config: Option<&str>) -> anyhow::Result<Self> {
        let state = tempfile::tempdir()?;
        let state_dir = state.path().display().to_string();
        let kubeconfig = plane.kubeconfig().display().to_string();
        let mut args = vec![
            "holt-mapper",
            "--bind-address",
            "127.0.0.1:0",
            "--state-dir",
            &state_dir,
            "--kubeconfig",
            &kubeconfig,
            "--resolved-ips-interval-ms",
            "0",
            "--authorization-namespace",
            ns,
        ];
        if let Some(config) = operator_config {
            args.extend(["--operator-config", config]);
        }
        let args = <holt_mapper::args::Args as clap::Parser>::try_parse_from(args)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound) = tokio::sync::oneshot::channel::<SocketAddr>();
        let task = tokio::spawn(holt_mapper::serve::serve(
            args,
            async move {
                let _ = stopped.await;
            },
            move |address| {
                let _ = bound_tx.send(address);
            },
        ));
        let url = format!("http://{}", bound.await.context("the mapper did not start")?);
        let http = Client::try_from(kube::Config::new(url.parse()?))?;
        eventually("the mapper ready", TIMEOUT, || async {
            Ok(http
                .request_text(http::Request::get("/readyz").body(Vec::new())?)
                .await
                .ok())
        })
        .await?;
        Ok(ServedMapper {
            url,
            stop: Some(stop),
            task,
            _state: state,
        })
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await??;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holt_mapper_insights_prints_the_calls_fate_as_json_and_as_the_plans_table() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let mut crds = String::new();
    for crd in &holt_api::crds::crds()? {
        crds.push_str("---\n");
        crds.push_str(&holt_api::crds::to_yaml(crd)?);
    }
    holt_testenv::install_crds_without_conversion(&client, &crds).await?;
    let ns = plane.create_namespace(&client, "insights-cli").await?;
    for (name, ip, ports) in [
        ("client", "10.244.9.1", &[][..]),
        ("client2", "10.244.9.2", &[]),
        ("server", "10.244.9.3", &[80]),
    ] {
        deployment_serving(&client, &ns, name, &[ip], ports).await?;
    }
    let gvk = GroupVersionKind::gvk("k8s.otterize.com", "v2beta1", "ClientIntents");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "clientintents");
    let intents: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": "client"},
        "spec": {"workload": {"name": "client", "kind": "Deployment"},
                 "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]}
    }))?;
    kube::Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &resource)
        .create(&PostParams::default(), &intents)
        .await?;

    // Who calls the mapper: a sniffer reports, a reader reads (tokens for the mapper's audience).
    let mut tokens = Vec::new();
    for (name, role) in [("sniffer", Role::Sniffer), ("reader", Role::Reader)] {
        let account = service_account_token(&client, &ns, name, &[TOKEN_AUDIENCE]).await?;
        bind_role(&client, &ns, name, role.rules(), &[(ns.as_str(), name)]).await?;
        tokens.push(account.token);
    }
    let credentials = tempfile::tempdir()?;
    let token_file = credentials.path().join("reader");
    std::fs::write(&token_file, &tokens[1])?;
    let token_file = token_file.display().to_string();
    let config = credentials.path().join("operator-config.yaml");
    std::fs::write(&config, "mode: defaultShadow\n")?;

    let mapper = ServedMapper::start(plane, &ns, Some(&config.display().to_string())).await?;
    let mut reporter = kube::Config::new(mapper.url.parse()?);
    reporter.auth_info.token = Some(tokens[0].clone().into());
    let report = Report {
        node: "node-a".into(),
        dns: vec![],
        connections: [("10.244.9.1", "10.244.9.3"), ("10.244.9.2", "10.244.9.3")]
            .map(|(src, dst)| Connection {
                src_ip: src.parse().expect("ip"),
                dst_ip: dst.parse().expect("ip"),
                dst_port: 80,
                seen_by: SeenBy::Syn,
                src_hostname: None,
                last_seen_ms: now_ms(),
            })
            .to_vec(),
        counters: Counters::default(),
    };
    Client::try_from(reporter)?
        .request_text(http::Request::post(holt_mapper_api::REPORTS_PATH).body(serde_json::to_vec(&report)?)?)
        .await?;

    let url = mapper.url.clone();
    let run = |extra: &[&str]| {
        let mut args = vec!["mapper", "--url", &url, "--token-file", &token_file, "insights"];
        args.extend_from_slice(extra);
        holt(&args)
    };
    let json = |extra: &[&str]| -> anyhow::Result<Insights> {
        let mut args = vec!["-o", "json"];
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
            (
                c.client.name.as_str(),
                c.declared,
                c.now == Outcome::Allowed,
                c.if_protected.is_blocked(),
            )
        })
        .collect();
    assert_eq!(
        fates,
        [("client", true, true, false), ("client2", false, true, true)]
    );
    assert_eq!(all.servers.len(), 1);
    assert!(!all.servers[0].ready_to_protect);

    // The table: the one `holt plan --traffic` prints, headed by where the calls come from.
    let table = stdout(run(&["-n", &ns]));
    eprintln!("holt mapper insights:\n{table}");
    let expected_heading = format!("Discovered calls (mapper at {url}): 2 call(s), 0 blocked now.\n");
    assert!(table.starts_with(&expected_heading), "{table}");
    let row = |client: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{ns}/{client} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(
        row("client")[1..4],
        [&format!("{ns}/server") as &str, "yes", "allowed"]
    );
    assert_eq!(
        row("client2")[1..4],
        [&format!("{ns}/server") as &str, "no", "allowed"]
    );
    assert!(
        row("client2")[4].starts_with("blocked"),
        "if protected: {:?}",
        row("client2")
    );
    let server_row = table
        .lines()
        .find(|l| l.starts_with(&format!("{ns}/server ")))
        .context("the server's row")?;
    assert!(
        server_row.contains("shadow (defaultShadow)")
            && server_row.contains(&format!("{ns}/client2"))
            && server_row.trim_end().ends_with("no"),
        "{server_row}"
    );

    // Filters: by server (name or name.namespace), by namespace, and the exclusions of `holt mapper`.
    assert_eq!(json(&["--server", "server"])?, all);
    assert_eq!(json(&["--server", &format!("server.{ns}")])?, all);
    assert_eq!(json(&["--server", "client"])?, Insights::default());
    assert_eq!(json(&["--namespace", "elsewhere"])?, Insights::default());
    let without_client2 = {
        let mut args = vec!["mapper", "--url", &url, "--token-file", &token_file];
        args.extend([
            "--exclude-services",
            "client2",
            "insights",
            "-n",
            &ns,
            "-o",
            "json",
        ]);
        serde_json::from_str::<Insights>(&stdout(holt(&args)))?
    };
    assert_eq!(without_client2.calls.len(), 1);
    assert!(without_client2.servers[0].ready_to_protect);

    // Bad input: an output format the command does not have.
    let yaml = run(&["-o", "yaml"]);
    assert_eq!(yaml.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&yaml.stderr);
    assert!(stderr.contains("invalid value 'yaml' for '--output"), "{stderr}");
    mapper.stop().await?;

    // A mapper that is not there: a clear error naming it, non-zero.
    let gone = run(&[]);
    assert!(!gone.status.success());
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(
        stderr.contains(&format!("cannot reach the mapper at {url}")),
        "{stderr}"
    );

    // A mapper without the operator's configuration: its answer says how to turn the insights on.
    let off = ServedMapper::start(plane, &ns, None).await?;
    let output = holt(&[
        "mapper",
        "--url",
        &off.url,
        "--token-file",
        &token_file,
        "insights",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("answered 404") && stderr.contains("--operator-config"),
        "{stderr}"
    );
    off.stop().await
}
