//! The real helm: `helm template` and `helm install` of a trivial chart made in a temp dir.

use anyhow::{Context, ensure};
use holt_testenv::{ControlPlane, helm};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

fn write_chart(root: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let chart = root.join("greeter");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: greeter\nversion: 0.1.0\n",
    )?;
    std::fs::write(chart.join("values.yaml"), "greeting: hello\n")?;
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\n  \
         namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    )?;
    Ok(chart)
}

#[tokio::test]
async fn helm_template_renders_a_trivial_chart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let chart = write_chart(dir.path())?;
    let output = helm(dir.path())?
        .args(["template", "demo"])
        .arg(&chart)
        .args(["--namespace", "shop", "--set", "greeting=bonjour"])
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let map: ConfigMap = serde_yaml::from_str(&stdout).context(stdout.to_string())?;
    assert_eq!(map.metadata.name.as_deref(), Some("demo-greeting"));
    assert_eq!(map.metadata.namespace.as_deref(), Some("shop"));
    assert_eq!(
        map.data.unwrap_or_default().get("greeting").map(String::as_str),
        Some("bonjour")
    );

    let lint = helm(dir.path())?.arg("lint").arg(&chart).output().await?;
    ensure!(
        lint.status.success(),
        "helm lint: {}",
        String::from_utf8_lossy(&lint.stdout)
    );
    Ok(())
}

#[tokio::test]
async fn helm_installs_into_the_test_apiserver() -> anyhow::Result<()> {
    let cp = ControlPlane::shared().await?;
    let client = cp.client().await?;
    let ns = cp.create_namespace(&client, "helm").await?;
    let dir = tempfile::tempdir()?;
    let chart = write_chart(dir.path())?;
    let output = helm(dir.path())?
        .arg("install")
        .arg("--kubeconfig")
        .arg(cp.kubeconfig())
        .args(["--namespace", &ns, "demo"])
        .arg(&chart)
        .output()
        .await?;
    ensure!(
        output.status.success(),
        "helm install failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let map = Api::<ConfigMap>::namespaced(client, &ns)
        .get("demo-greeting")
        .await?;
    assert_eq!(
        map.data.unwrap_or_default().get("greeting").map(String::as_str),
        Some("hello")
    );
    Ok(())
}
