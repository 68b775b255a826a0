//! A pod's container as a local command line, the way a kubelet would start it: the image's entrypoint
//! (the binary of that name), the container's arguments and environment (values, the downward API), its
//! volumes materialised as directories (ConfigMaps, Secrets, projected ServiceAccount tokens, emptyDir and
//! claims as scratch directories, host paths as themselves) and, unless the pod opts out, a kubeconfig holding
//! a token of the pod's ServiceAccount bound to the pod — and nothing else: the process starts with an empty
//! environment, so no credential of the test leaks into it.
//!
//! What a pod would see differently, the command line is rewritten for, and only that: `0.0.0.0:<port>`
//! becomes the pod's own loopback address (its network namespace), a mount path becomes the directory that
//! stands for the volume, and a Service's cluster DNS name becomes the address of its forwarder
//! ([`crate::forward`]). Anything else a container asks for that cannot be stood in for (a `command`,
//! several containers, another volume type, another downward API field) is an error naming it, never
//! ignored.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount, Volume};
use kube::Api;

use crate::binaries::Binaries;
use crate::error::Error;
use crate::token::{self, TokenOptions};

/// One argument replaced for the local run, with the reason (shown in the test's output).
#[derive(Debug, Clone)]
pub struct ArgOverride {
    /// The binary whose containers it applies to, e.g. `holt-operator`.
    pub binary: String,
    /// The flag, e.g. `--webhook-service-name`; the container must pass it as `<flag>=<value>`.
    pub flag: String,
    pub value: String,
    pub why: String,
}

/// What the node provides to the containers it runs.
#[allow(missing_debug_implementations)] // kube::Client is not Debug
pub struct Environment<'a> {
    pub admin: &'a kube::Client,
    pub api_server: &'a str,
    pub ca_file: &'a Path,
    pub node_name: &'a str,
    pub binaries: &'a Binaries,
    /// Cluster DNS names (`svc.ns.svc.cluster.local`, `svc.ns.svc`, `svc.ns`) and the address of the
    /// forwarder standing for each Service.
    pub services: &'a BTreeMap<String, IpAddr>,
    pub overrides: &'a [ArgOverride],
}

/// A command line ready to run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Readiness probe: HTTP path and container port, if any.
    pub readiness: Option<(String, u16)>,
    /// The container's ports by name.
    pub ports: BTreeMap<String, u16>,
}

/// The binary an image runs: the last path segment of its name, without the tag
/// (`localhost/holt/holt-operator:0.1.0` → `holt-operator`).
pub fn image_binary(image: &str) -> &str {
    let name = image.rsplit('/').next().unwrap_or(image);
    name.split(['@', ':']).next().unwrap_or(name)
}

/// Prepares `pod`'s only container to run with address `ip`, its volumes under `dir`. `None` when its
/// image is none of Holt's (such pods are left to a real node).
pub async fn prepare(
    pod: &Pod,
    ip: IpAddr,
    dir: &Path,
    env: &Environment<'_>,
) -> Result<Option<Launch>, Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let unsupported = |reason: String| Error::Unsupported {
        pod: name.clone(),
        reason,
    };
    let Some(spec) = &pod.spec else {
        return Err(unsupported("no spec".to_owned()));
    };
    let [container] = spec.containers.as_slice() else {
        return Err(unsupported(format!(
            "{} containers, not one",
            spec.containers.len()
        )));
    };
    let image = container.image.clone().unwrap_or_default();
    let Some(program) = env.binaries.get(image_binary(&image)) else {
        return Ok(None);
    };
    if spec.init_containers.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(unsupported("init containers".to_owned()));
    }
    if container.command.is_some() {
        return Err(unsupported(
            "a command (the image's entrypoint is the binary)".to_owned(),
        ));
    }

    let volumes_dir = dir.join("volumes");
    let mut volumes = BTreeMap::new();
    for volume in spec.volumes.iter().flatten() {
        let path = materialise(
            volume,
            &namespace,
            spec.service_account_name.as_deref(),
            &volumes_dir,
            env,
        )
        .await
        .map_err(|e| match e {
            Error::Unsupported { reason, .. } => unsupported(reason),
            other => other,
        })?;
        volumes.insert(volume.name.clone(), path);
    }
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let Some(base) = volumes.get(&mount.name) else {
            return Err(unsupported(format!("mount of unknown volume {}", mount.name)));
        };
        let local = match &mount.sub_path {
            Some(sub) if !sub.is_empty() => base.join(sub),
            _ => base.clone(),
        };
        mounts.push((mount.mount_path.clone(), local));
    }
    // Longest mount path first, so that a nested mount wins.
    mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    let rewrite = |text: &str| rewrite(text, ip, &mounts, env.services);

    let mut args: Vec<String> = container.args.iter().flatten().map(|a| rewrite(a)).collect();
    for over in env.overrides.iter().filter(|o| o.binary == image_binary(&image)) {
        let prefix = format!("{}=", over.flag);
        let Some(arg) = args.iter_mut().find(|a| a.starts_with(&prefix)) else {
            return Err(unsupported(format!(
                "override of {} asked for, but the container does not pass it",
                over.flag
            )));
        };
        *arg = format!("{prefix}{}", over.value);
    }

    let mut variables = Vec::new();
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(value), None) => rewrite(value),
            (None, Some(from)) => {
                let field = from
                    .field_ref
                    .as_ref()
                    .map(|f| f.field_path.as_str())
                    .ok_or_else(|| unsupported(format!("env {}: only fieldRef is stood in for", var.name)))?;
                match field {
                    "metadata.name" => name.clone(),
                    "metadata.namespace" => namespace.clone(),
                    "spec.nodeName" => env.node_name.to_owned(),
                    "status.podIP" => ip.to_string(),
                    "spec.serviceAccountName" => spec.service_account_name.clone().unwrap_or_default(),
                    other => return Err(unsupported(format!("env {}: fieldRef {other}", var.name))),
                }
            }
            (None, None) => String::new(),
            (Some(_), Some(_)) => return Err(unsupported(format!("env {}: value and valueFrom", var.name))),
        };
        variables.push((var.name.clone(), value));
    }

    if api_token_mounted(pod, env).await? {
        let account = spec
            .service_account_name
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let options = TokenOptions {
            bound_pod: Some((name.clone(), pod.metadata.uid.clone().unwrap_or_default())),
            ..TokenOptions::default()
        };
        let token = token::mint(env.admin, &namespace, &account, &options).await?;
        let kubeconfig = dir.join("kubeconfig");
        token::write_kubeconfig(&kubeconfig, env.api_server, env.ca_file, &token)?;
        variables.push(("KUBECONFIG".to_owned(), kubeconfig.display().to_string()));
    }

    let ports: BTreeMap<String, u16> = container
        .ports
        .iter()
        .flatten()
        .filter_map(|p| Some((p.name.clone()?, u16::try_from(p.container_port).ok()?)))
        .collect();
    let readiness = container
        .readiness_probe
        .as_ref()
        .and_then(|probe| probe.http_get.as_ref())
        .map(|get| {
            let port = match &get.port {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(port) => {
                    u16::try_from(*port).ok()
                }
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name) => {
                    ports.get(name).copied()
                }
            };
            port.map(|port| (get.path.clone().unwrap_or_else(|| "/".to_owned()), port))
                .ok_or_else(|| unsupported("a readiness probe on an unknown port".to_owned()))
        })
        .transpose()?;

    Ok(Some(Launch {
        program: program.to_path_buf(),
        args,
        env: variables,
        readiness,
        ports,
    }))
}

/// Whether the pod gets an API token: unless the pod or its ServiceAccount says
/// `automountServiceAccountToken: false`.
async fn api_token_mounted(pod: &Pod, env: &Environment<'_>) -> Result<bool, Error> {
    let spec = pod.spec.as_ref();
    if let Some(mount) = spec.and_then(|s| s.automount_service_account_token) {
        return Ok(mount);
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let account = spec
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".to_owned());
    let account = Api::<ServiceAccount>::namespaced(env.admin.clone(), &namespace)
        .get(&account)
        .await
        .map_err(Error::kube(format!("read ServiceAccount {namespace}/{account}")))?;
    Ok(account.automount_service_account_token.unwrap_or(true))
}

/// Writes one volume's content under `dir` and returns the directory that stands for it.
async fn materialise(
    volume: &Volume,
    namespace: &str,
    account: Option<&str>,
    dir: &Path,
    env: &Environment<'_>,
) -> Result<PathBuf, Error> {
    let unsupported = |reason: String| Error::Unsupported {
        pod: String::new(),
        reason,
    };
    if let Some(host) = &volume.host_path {
        return Ok(PathBuf::from(&host.path));
    }
    let path = dir.join(&volume.name);
    std::fs::create_dir_all(&path).map_err(Error::io(format!("create {}", path.display())))?;
    if volume.empty_dir.is_some() || volume.persistent_volume_claim.is_some() {
        return Ok(path);
    }
    if let Some(source) = &volume.config_map {
        let map = Api::<ConfigMap>::namespaced(env.admin.clone(), namespace)
            .get(&source.name)
            .await
            .map_err(Error::kube(format!("read ConfigMap {namespace}/{}", source.name)))?;
        for (key, value) in map.data.unwrap_or_default() {
            write(&path.join(key), value.as_bytes())?;
        }
        return Ok(path);
    }
    if let Some(source) = &volume.secret {
        let name = source.secret_name.clone().unwrap_or_default();
        let secret = Api::<Secret>::namespaced(env.admin.clone(), namespace)
            .get(&name)
            .await
            .map_err(Error::kube(format!("read Secret {namespace}/{name}")))?;
        for (key, value) in secret.data.unwrap_or_default() {
            write(&path.join(key), &value.0)?;
        }
        return Ok(path);
    }
    if let Some(projected) = &volume.projected {
        for source in projected.sources.iter().flatten() {
            let Some(token_source) = &source.service_account_token else {
                return Err(unsupported(format!(
                    "projected volume {}: only serviceAccountToken sources are stood in for",
                    volume.name
                )));
            };
            let options = TokenOptions {
                audiences: token_source.audience.iter().cloned().collect(),
                expiration_seconds: token_source.expiration_seconds,
                bound_pod: None,
            };
            let account = account.unwrap_or("default");
            let token = token::mint(env.admin, namespace, account, &options).await?;
            write(&path.join(&token_source.path), token.as_bytes())?;
        }
        return Ok(path);
    }
    Err(unsupported(format!(
        "volume {} of a type not stood in for",
        volume.name
    )))
}

fn write(path: &Path, content: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(format!("create {}", parent.display())))?;
    }
    std::fs::write(path, content).map_err(Error::io(format!("write {}", path.display())))
}

/// One argument or variable as the local process must see it (see the module documentation).
fn rewrite(
    text: &str,
    ip: IpAddr,
    mounts: &[(String, PathBuf)],
    services: &BTreeMap<String, IpAddr>,
) -> String {
    let mut text = text.replace("0.0.0.0:", &format!("{ip}:"));
    // `--flag=/mount/path/...` or `/mount/path/...`.
    let (head, value) = match text.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (format!("{flag}="), value.to_owned()),
        _ => (String::new(), text.clone()),
    };
    for (mount, local) in mounts {
        let inside = value.strip_prefix(mount.as_str());
        if let Some(rest) = inside.filter(|rest| rest.is_empty() || rest.starts_with('/')) {
            text = format!("{head}{}{rest}", local.display());
            break;
        }
    }
    // Longest name first: `svc.ns.svc.cluster.local` before `svc.ns.svc` before `svc.ns`.
    let mut names: Vec<(&String, &IpAddr)> = services.iter().collect();
    names.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    for (name, address) in names {
        for (before, after) in [("//", ":"), ("//", "/")] {
            let pattern = format!("{before}{name}{after}");
            if text.contains(&pattern) {
                text = text.replace(&pattern, &format!("{before}{address}{after}"));
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_name_their_binaries() {
        assert_eq!(
            image_binary("localhost/holt/holt-operator:0.1.0"),
            "holt-operator"
        );
        assert_eq!(image_binary("holt-mapper"), "holt-mapper");
        assert_eq!(image_binary("reg:5000/a/holt-sniffer@sha256:00"), "holt-sniffer");
    }

    #[test]
    fn rewrites_addresses_mounts_and_service_names() {
        let ip: IpAddr = "127.1.2.3".parse().expect("ip");
        let mounts = vec![
            ("/etc/holt/config".to_owned(), PathBuf::from("/tmp/pod/config")),
            ("/var/lib/holt-mapper".to_owned(), PathBuf::from("/tmp/pod/state")),
        ];
        let services = BTreeMap::from([
            ("mapper.ns.svc".to_owned(), "127.9.9.9".parse().expect("ip")),
            ("mapper.ns".to_owned(), "127.9.9.9".parse().expect("ip")),
        ]);
        let go = |t: &str| rewrite(t, ip, &mounts, &services);
        assert_eq!(go("--bind-address=0.0.0.0:9090"), "--bind-address=127.1.2.3:9090");
        assert_eq!(
            go("--config=/etc/holt/config/config.yaml"),
            "--config=/tmp/pod/config/config.yaml"
        );
        assert_eq!(
            go("--state-dir=/var/lib/holt-mapper"),
            "--state-dir=/tmp/pod/state"
        );
        assert_eq!(
            go("--state-dir=/var/lib/holt-mapperx"),
            "--state-dir=/var/lib/holt-mapperx"
        );
        assert_eq!(
            go("--mapper-url=http://mapper.ns.svc:9090"),
            "--mapper-url=http://127.9.9.9:9090"
        );
        assert_eq!(go("--log-format=json"), "--log-format=json");
    }
}
