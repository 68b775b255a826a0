//! The access graph page (`GET /ui/`) in a real headless Chromium, loaded from a real `holt-mapper` binary
//! (authentication off, as for local development: the page then reads `/v1/insights` directly) that watches
//! a real kube-apiserver and is fed sniffer reports, in `defaultShadow` mode.
//!
//! The shop, the shadow-mode tutorial grown by two servers: `client` declares `server`, `vault` and `db` and
//! calls `server` and `db`; `client-other`, declared nowhere, calls `server` and `vault`, which a
//! ProtectedService protects. So the graph has a call of each state: declared and seen (client → server,
//! client → db), seen and not declared (client-other → server), declared and not seen (client → vault),
//! blocked now (client-other → vault); `vault` is enforced, `server` and `db` are in shadow, `db` alone is
//! ready to protect. Another namespace has a call of its own, which the namespace filter hides.
//!
//! Asserted on the DOM: each edge with its state, each server's enforcement and readiness, the filter,
//! the details a real mouse click opens, and — after a new call is reported — the new edge drawn without a
//! reload, the selection kept, and the polls answered `304` with no new computation while nothing changed;
//! past the page's `max` workloads, namespaces drawn whole.
//! Screenshots are kept as test artifacts (`$CARGO_TARGET_TMPDIR/graph_page/*.png`).
//!
//! This file holds one test: the mapper watches every namespace of the test process's API server, and the
//! assertions on the whole drawing count on no other test declaring calls there.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use holt_mapper::shared::now_ms;
use holt_testenv::{Browser, ControlPlane, deployment_serving, eventually};
use pretty_assertions::assert_eq;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The pod addresses of this test (no other test of this binary uses them).
fn ip(host: u8) -> String {
    format!("10.245.7.{host}")
}

async fn client_intents(client: &kube::Client, ns: &str, name: &str, servers: &[&str]) -> anyhow::Result<()> {
    let targets: Vec<_> = servers
        .iter()
        .map(|server| json!({"kubernetes": {"name": server, "kind": "Deployment"}}))
        .collect();
    let intents = json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": name},
        "spec": {"workload": {"name": name, "kind": "Deployment"}, "targets": targets}
    });
    Ok(holt_testenv::create_custom_object(client, ns, "clientintents", intents).await?)
}

/// Every drawn call: `data-call` → `data-state`.
async fn drawn_calls(browser: &mut Browser) -> anyhow::Result<BTreeMap<String, String>> {
    let pairs: Vec<(String, String)> = browser
        .evaluate("[...document.querySelectorAll('#graph [data-call]')].map(e => [e.dataset.call, e.dataset.state])")
        .await?;
    Ok(pairs.into_iter().collect())
}

/// Every drawn server: `data-server` → (`data-enforcement`, `data-ready`).
async fn drawn_servers(browser: &mut Browser) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let rows: Vec<(String, String, String)> = browser
        .evaluate(
            "[...document.querySelectorAll('#graph [data-server]')]\
             .map(e => [e.dataset.server, e.dataset.enforcement, e.dataset.ready])",
        )
        .await?;
    Ok(rows.into_iter().map(|(s, e, r)| (s, (e, r))).collect())
}

async fn drawn_workloads(browser: &mut Browser) -> anyhow::Result<Vec<String>> {
    browser
        .evaluate("[...document.querySelectorAll('#graph [data-workload]')].map(e => e.dataset.workload)")
        .await
}

/// Clicks what `selector` matches, waits for the details panel to show `selected` (`call:…`,
/// `server:…`), and returns the panel's text.
async fn click_for_details(browser: &mut Browser, selector: &str, selected: &str) -> anyhow::Result<String> {
    browser.click(selector).await?;
    browser
        .wait_until(
            &format!("the details of {selected}"),
            &format!("document.getElementById('details').dataset.selected === '{selected}'"),
            TIMEOUT,
        )
        .await?;
    browser
        .evaluate("document.getElementById('details').innerText")
        .await
}

/// Chooses `namespace` in the page's filter (`""`: all), as the select element does.
async fn filter(browser: &mut Browser, namespace: &str) -> anyhow::Result<()> {
    let value = serde_json::to_string(namespace)?;
    let chosen: bool = browser
        .evaluate(&format!(
            "(() => {{ const s = document.getElementById('namespace'); \
             if (![...s.options].some(o => o.value === {value})) return false; \
             s.value = {value}; s.dispatchEvent(new Event('change')); return true; }})()"
        ))
        .await?;
    anyhow::ensure!(chosen, "the filter offers no namespace {namespace}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_each_calls_state_filters_shows_details_and_follows_the_mapper() -> anyhow::Result<()>
{
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    support::install_crds(&client).await?;
    let shop = plane.create_namespace(&client, "graph-shop").await?;
    let batch = plane.create_namespace(&client, "graph-batch").await?;
    let workloads: [(&str, &str, u8, &[u16]); 7] = [
        (&shop, "client", 1, &[]),
        (&shop, "client-other", 2, &[]),
        (&shop, "server", 3, &[80]),
        (&shop, "vault", 4, &[8200]),
        (&shop, "db", 5, &[5432]),
        (&batch, "job", 6, &[]),
        (&batch, "store", 7, &[6379]),
    ];
    for (ns, name, host, ports) in workloads {
        deployment_serving(&client, ns, name, &[ip(host).as_str()], ports).await?;
    }
    support::service(&client, &shop, "server", 80).await?;
    client_intents(&client, &shop, "client", &["server", "vault", "db"]).await?;
    let protect = json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ProtectedService",
        "metadata": {"name": "vault-protect"}, "spec": {"name": "vault"}
    });
    holt_testenv::create_custom_object(&client, &shop, "protectedservices", protect).await?;

    let state = tempfile::tempdir()?;
    let mapper = support::Mapper::start_in_shadow_mode(
        plane,
        state.path(),
        &[("HOLT_MAPPER_INSECURE_SKIP_AUTHENTICATION", "true")],
    )
    .await?;
    let calls = [(1, 3), (2, 3), (2, 4), (1, 5), (6, 7)];
    for (from, to) in calls {
        mapper.report(&support::connections_report(
            &ip(from),
            [ip(to).parse()?],
            now_ms(),
        ))?;
    }
    // The mapper's own answer first: every call seen, vault enforced (so the page has it all to draw).
    eventually("the mapper's insights of every call", TIMEOUT, || async {
        let (status, body) = mapper.get("/v1/insights")?;
        let insights: holt_insights::Insights = serde_json::from_str(&body).context(status)?;
        let vault_enforced = insights
            .server("vault")
            .is_some_and(|s| s.enforcement.state == "enforced");
        Ok((insights.calls.len() == calls.len() && vault_enforced).then_some(()))
    })
    .await?;

    let mut browser = Browser::start(1600, 600).await?;
    browser
        .open_until(
            &format!("http://{}/ui/?poll=300", mapper.address),
            "Number(document.body.dataset.updates) >= 1",
            TIMEOUT,
        )
        .await?;

    // Each call with its state.
    let call = |client: &str, server: &str| format!("{client}->{server}");
    let (s, b) = (
        |name: &str| format!("{shop}/{name}"),
        |name: &str| format!("{batch}/{name}"),
    );
    let mut expected: BTreeMap<String, String> = [
        (call(&s("client"), &s("server")), "declared"),
        (call(&s("client"), &s("db")), "declared"),
        (call(&s("client-other"), &s("server")), "undeclared"),
        (call(&s("client"), &s("vault")), "unseen"),
        (call(&s("client-other"), &s("vault")), "blocked"),
        (call(&b("job"), &b("store")), "undeclared"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    assert_eq!(drawn_calls(&mut browser).await?, expected);
    let mark = |enforcement: &str, ready: bool| (enforcement.to_owned(), ready.to_string());
    let mut servers: BTreeMap<String, (String, String)> = [
        (s("server"), mark("shadow", false)),
        (s("vault"), mark("enforced", false)),
        (s("db"), mark("shadow", true)),
        (b("store"), mark("shadow", false)),
    ]
    .into_iter()
    .collect();
    assert_eq!(drawn_servers(&mut browser).await?, servers);
    let legend: String = browser
        .evaluate("document.getElementById('legend').innerText")
        .await?;
    for words in [
        "declared and seen",
        "seen, not declared",
        "declared, not seen",
        "blocked now",
        "ready to protect",
    ] {
        assert!(legend.contains(words), "legend: {legend}");
    }

    // The filter: the shop's workloads only; the batch namespace's are hidden.
    assert!(drawn_workloads(&mut browser).await?.contains(&b("job")));
    filter(&mut browser, &shop).await?;
    let shown = drawn_workloads(&mut browser).await?;
    assert_eq!(shown.len(), 5, "{shown:?}");
    assert!(
        shown.iter().all(|w| w.starts_with(&format!("{shop}/"))),
        "{shown:?}"
    );
    assert!(
        !drawn_calls(&mut browser)
            .await?
            .contains_key(&call(&b("job"), &b("store")))
    );

    // A click on a call: its fate now, once protected, once active, with the blocking policy.
    let undeclared = call(&s("client-other"), &s("server"));
    let text = click_for_details(
        &mut browser,
        &format!("[data-call=\"{undeclared}\"] .hit"),
        &format!("call:{undeclared}"),
    )
    .await?;
    for words in [
        "seen, not declared",
        "Declared\nno",
        "Now\nallowed",
        "If its server is protected\nblocked on 80/TCP by",
        "(Holt's, ingress)",
        "If the mode is defaultActive\nblocked on 80/TCP",
    ] {
        assert!(text.contains(words), "{words:?} not in the details:\n{text}");
    }
    // A click on a server: its enforcement and who is not declared.
    let vault = format!("server:{}", s("vault"));
    let text = click_for_details(
        &mut browser,
        &format!("[data-server=\"{}\"] rect", s("vault")),
        &vault,
    )
    .await?;
    for words in [
        "enforced (ProtectedService vault-protect)".to_owned(),
        "Ready to protect\nno".to_owned(),
        format!("Undeclared clients\n{}", s("client-other")),
        format!("Declared clients not seen\n{}", s("client")),
    ] {
        assert!(text.contains(&words), "{words:?} not in the details:\n{text}");
    }

    // The artifact: every namespace, vault selected (its details kept across the filter's redraw).
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("graph_page");
    filter(&mut browser, "").await?;
    screenshot(&mut browser, &artifacts.join("access-graph.png")).await?;
    filter(&mut browser, &shop).await?;

    // While nothing changes, the page's polls are answered 304 and nothing is computed again.
    let computed = mapper.metric("holt_mapper_insights_computations_total")?;
    let not_modified = mapper.metric("holt_mapper_insights_not_modified_total")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let polled = mapper.metric("holt_mapper_insights_not_modified_total")? - not_modified;
    let recomputed = mapper.metric("holt_mapper_insights_computations_total")? - computed;
    assert!(polled >= 5, "{polled} polls answered 304 in 3 s");
    assert!(
        recomputed <= 1,
        "{recomputed} computations for an unchanged state"
    );

    // A new call: drawn without a reload, the server selected still selected, db no longer ready.
    browser
        .evaluate::<bool>("(window.holtTestMarker = 'the same page') !== undefined")
        .await?;
    mapper.report(&support::connections_report(&ip(2), [ip(5).parse()?], now_ms()))?;
    let new_call = call(&s("client-other"), &s("db"));
    browser
        .wait_until(
            "the new call drawn",
            &format!("document.querySelector('[data-call=\"{new_call}\"]') !== null"),
            TIMEOUT,
        )
        .await?;
    let same_page: Option<String> = browser.evaluate("window.holtTestMarker").await?;
    assert_eq!(
        same_page.as_deref(),
        Some("the same page"),
        "the page was reloaded"
    );
    expected.insert(new_call, "undeclared".into());
    expected.remove(&call(&b("job"), &b("store")));
    assert_eq!(drawn_calls(&mut browser).await?, expected);
    servers.insert(s("db"), mark("shadow", false));
    servers.remove(&b("store"));
    assert_eq!(drawn_servers(&mut browser).await?, servers);
    let still: (Option<String>, bool) = browser
        .evaluate(&format!(
            "[document.getElementById('details').dataset.selected, \
             document.querySelector('[data-server=\"{}\"]').classList.contains('selected')]",
            s("vault")
        ))
        .await?;
    assert_eq!(still, (Some(vault), true), "the selection is kept across redraws");

    screenshot(&mut browser, &artifacts.join("access-graph-after-a-new-call.png")).await?;

    // Past `max` workloads (7 here, more than 6), namespaces are drawn whole: one arrow per pair of
    // namespaces, its state the most urgent of its calls, its count on it. A click on a namespace draws its
    // workloads (5: few enough).
    browser
        .open_until(
            &format!("http://{}/ui/?poll=300&max=6", mapper.address),
            "Number(document.body.dataset.updates) >= 1",
            TIMEOUT,
        )
        .await?;
    let collapsed: Vec<(String, String, String)> = browser
        .evaluate(
            "[...document.querySelectorAll('#graph [data-call]')]\
             .map(e => [e.dataset.call, e.dataset.state, e.dataset.count])",
        )
        .await?;
    let pair = |ns: &str| format!("{ns}->{ns}");
    assert_eq!(
        collapsed,
        [
            (pair(&batch), "undeclared".to_owned(), "1".to_owned()),
            (pair(&shop), "blocked".to_owned(), "6".to_owned()),
        ]
    );
    browser
        .click(&format!("[data-namespace-node=\"{shop}\"] rect"))
        .await?;
    browser
        .wait_until(
            "the shop's workloads drawn",
            "document.getElementById('graph').dataset.collapsed === 'false'",
            TIMEOUT,
        )
        .await?;
    assert_eq!(drawn_workloads(&mut browser).await?.len(), 5);
    Ok(())
}

/// A screenshot of the page, kept as a test artifact.
async fn screenshot(browser: &mut Browser, path: &std::path::Path) -> anyhow::Result<()> {
    browser.screenshot(path).await?;
    let png = std::fs::read(path)?;
    anyhow::ensure!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} is no picture of the page",
        path.display()
    );
    eprintln!("screenshot: {}", path.display());
    Ok(())
}
