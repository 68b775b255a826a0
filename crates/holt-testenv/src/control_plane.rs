//! A Kubernetes control plane for tests: etcd + kube-apiserver (+ kube-controller-manager), an admin
//! kubeconfig, and client certificates for more users.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};

use crate::apiserver::{Apiserver, ApiserverFiles};
use crate::controller_manager::{ControllerManager, ControllerManagerFiles};
use crate::error::{Error, write_file};
use crate::etcd::Etcd;
use crate::kubeconfig::{self, ClientFiles};
use crate::node_network::NodeAddressing;
use crate::pki::{CertificateAuthority, IssuedCert, key_pair_pem};
use crate::ports::with_fresh_ports;
use crate::process::{Lifetime, Process, ProcessInfo};
use crate::rundir::RunDir;
use crate::shared::{SharedCell, get_or_start};

/// How to start a [`ControlPlane`].
#[derive(Debug, Clone)]
pub struct ControlPlaneOptions {
    /// Also run kube-controller-manager (garbage collection, namespace deletion, Deployments,
    /// ReplicaSets, EndpointSlices). Default: true.
    pub controller_manager: bool,
    /// Who stops the processes. Default: [`Lifetime::Test`].
    pub lifetime: Lifetime,
    /// Where to keep configuration, data and logs. Default: a fresh directory in this test process's
    /// scratch directory.
    pub dir: Option<PathBuf>,
    /// Prepare for a node (see [`crate::Cluster`]): the API server on the node's IP with ServiceAccount
    /// admission and the `kubernetes` Service's Endpoints, the controllers a node needs. Default: none.
    pub node: Option<NodeAddressing>,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            controller_manager: true,
            lifetime: Lifetime::Test,
            dir: None,
            node: None,
        }
    }
}

impl ControlPlaneOptions {
    /// etcd and the API server only: no kube-controller-manager (nothing garbage-collects, deletes
    /// namespaces or runs Deployments), for tests and benchmarks that measure the API server and webhooks.
    pub fn without_controller_manager() -> Self {
        Self {
            controller_manager: false,
            ..Self::default()
        }
    }
}

/// A Kubernetes user with a client certificate signed by the control plane's CA.
#[derive(Debug, Clone)]
pub struct KubeUser {
    /// The user name (the certificate's CN).
    pub name: String,
    /// The group (the certificate's O), if any.
    pub group: Option<String>,
    /// The certificate and key.
    pub cert: IssuedCert,
    /// A kubeconfig that authenticates as this user.
    pub kubeconfig: PathBuf,
}

impl KubeUser {
    /// A client that acts as this user.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        kubeconfig::client(&self.kubeconfig).await
    }
}

/// A running control plane. Dropping it stops its processes (test lifetime).
#[derive(Debug)]
pub struct ControlPlane {
    // Processes first: they are dropped (killed) before the directory is removed.
    controller_manager: Option<ControllerManager>,
    /// `None` while stopped by [`ControlPlane::stop_apiserver`].
    apiserver: Option<Process>,
    etcd: Process,
    etcd_url: String,
    apiserver_port: u16,
    lifetime: Lifetime,
    node: Option<NodeAddressing>,
    ca: CertificateAuthority,
    url: String,
    ca_file: PathBuf,
    kubeconfig: PathBuf,
    startup: Vec<(&'static str, Duration)>,
    next: AtomicUsize,
    dir: RunDir,
}

static SHARED: SharedCell<ControlPlane> = SharedCell::const_new();

impl ControlPlane {
    /// Starts etcd, kube-apiserver and (by default) kube-controller-manager, and waits until they are
    /// ready.
    pub async fn start(options: ControlPlaneOptions) -> Result<Self, Error> {
        let dir = RunDir::new("kube", options.dir.as_deref(), options.lifetime).map_err(Error::io(
            "kube-apiserver",
            "create the directory for",
            "the control plane",
        ))?;
        let began = Instant::now();
        let ca = CertificateAuthority::new("holt-testenv-kube-ca").map_err(Error::pki("kube-apiserver"))?;
        let paths = Paths::in_dir(&dir);
        write_file("kube-apiserver", &paths.ca, ca.cert_pem())?;
        write_file("kube-apiserver", &paths.ca_key, ca.key_pem())?;
        let mut names = vec![
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
        ];
        if let Some(node) = &options.node {
            names.push(node.node_ip.to_string());
            names.push(node.kubernetes_service_ip.to_string());
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let serving = ca
            .issue_server("kube-apiserver", &names)
            .map_err(Error::pki("kube-apiserver"))?;
        write_pair(&paths.serving_cert, &paths.serving_key, &serving)?;
        let (sa_key, sa_pub) =
            key_pair_pem("the service-account signing key").map_err(Error::pki("kube-apiserver"))?;
        write_file("kube-apiserver", &paths.sa_key, sa_key)?;
        write_file("kube-apiserver", &paths.sa_pub, sa_pub)?;
        let admin = ca
            .issue_client(ADMIN_USER, Some("system:masters"))
            .map_err(Error::pki("kube-apiserver"))?;
        write_pair(&paths.admin_cert, &paths.admin_key, &admin)?;

        let mut startup = Vec::new();
        let etcd = with_fresh_ports(|| Etcd::start(dir.path(), options.lifetime)).await?;
        startup.push(("etcd", etcd.startup));
        let files = paths.apiserver();
        let apiserver = with_fresh_ports(|| {
            Apiserver::start(
                dir.path(),
                &etcd.client_url,
                &files,
                options.lifetime,
                None,
                options.node.as_ref(),
            )
        })
        .await?;
        startup.push(("kube-apiserver", apiserver.startup));

        let controller_manager = if options.controller_manager {
            let files = ControllerManagerFiles {
                kubeconfig: &paths.kubeconfig,
                ca: &paths.ca,
                client: files.admin,
                serving_cert: &paths.serving_cert,
                serving_key: &paths.serving_key,
            };
            let cm = with_fresh_ports(|| {
                ControllerManager::start(dir.path(), &files, options.lifetime, options.node.is_some())
            })
            .await?;
            startup.push(("kube-controller-manager", cm.startup));
            Some(cm)
        } else {
            None
        };
        startup.push(("control plane", began.elapsed()));
        Ok(Self {
            controller_manager,
            apiserver: Some(apiserver.process),
            etcd: etcd.process,
            etcd_url: etcd.client_url,
            apiserver_port: apiserver.port,
            lifetime: options.lifetime,
            node: options.node.clone(),
            ca,
            url: apiserver.url,
            ca_file: paths.ca,
            kubeconfig: paths.kubeconfig,
            startup,
            next: AtomicUsize::new(1),
            dir,
        })
    }

    /// The control plane shared by every test of this test process (started by the first caller with
    /// the default options; stopped by the watchdog when the process ends). Give each test its own
    /// namespace with [`ControlPlane::create_namespace`].
    pub async fn shared() -> Result<&'static Self, Error> {
        get_or_start(&SHARED, "control plane", || {
            Self::start(ControlPlaneOptions::default())
        })
        .await
    }

    /// The apiserver's URL (`https://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin kubeconfig (user `holt-testenv-admin` in group `system:masters`); works with kubectl.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The CA certificate file that signed the apiserver's serving certificate and every client
    /// certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The directory holding configuration, data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An admin client. Make one per test: a client belongs to the tokio runtime that made it.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        kubeconfig::client(&self.kubeconfig).await
    }

    /// A new user with a client certificate `O=<group>, CN=<name>`, and a kubeconfig for it.
    pub fn user(&self, name: &str, group: Option<&str>) -> Result<KubeUser, Error> {
        let cert = self
            .ca
            .issue_client(name, group)
            .map_err(Error::pki("kube-apiserver"))?;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let stem = format!("user-{n}-{}", file_safe(name));
        let (cert_file, key_file) = (
            self.dir.join(&format!("{stem}.crt")),
            self.dir.join(&format!("{stem}.key")),
        );
        write_pair(&cert_file, &key_file, &cert)?;
        let kubeconfig = self.dir.join(&format!("{stem}.kubeconfig"));
        let files = ClientFiles {
            user: name,
            cert: &cert_file,
            key: &key_file,
        };
        kubeconfig::write(&kubeconfig, &self.url, &self.ca_file, &files)?;
        Ok(KubeUser {
            name: name.to_owned(),
            group: group.map(str::to_owned),
            cert,
            kubeconfig,
        })
    }

    /// Creates a namespace named `<prefix>-<n>` (unique in this control plane) and returns its name.
    pub async fn create_namespace(&self, client: &kube::Client, prefix: &str) -> Result<String, Error> {
        let mut prefix: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        prefix.truncate(50);
        let prefix = prefix.trim_matches('-');
        let name = format!(
            "{}-{}",
            if prefix.is_empty() { "test" } else { prefix },
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        kube::Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(Error::kube(format!("create namespace {name}")))?;
        Ok(name)
    }

    /// Kills kube-apiserver (etcd and the controller-manager keep running), for tests of what clients do
    /// while the API server is away. [`ControlPlane::start_apiserver`] brings it back on the same URL.
    pub fn stop_apiserver(&mut self) {
        self.apiserver = None;
    }

    /// Starts kube-apiserver again after [`ControlPlane::stop_apiserver`], on the same URL, with the same
    /// certificates and the same etcd (every object is still there); returns once it is ready, with the
    /// time it took. Does nothing when it is running.
    pub async fn start_apiserver(&mut self) -> Result<Duration, Error> {
        if self.apiserver.is_some() {
            return Ok(Duration::ZERO);
        }
        let paths = Paths::in_dir(&self.dir);
        let files = paths.apiserver();
        let apiserver = Apiserver::start(
            self.dir.path(),
            &self.etcd_url,
            &files,
            self.lifetime,
            Some(self.apiserver_port),
            self.node.as_ref(),
        )
        .await?;
        self.apiserver = Some(apiserver.process);
        Ok(apiserver.startup)
    }

    /// Where the control plane's certificates and kubeconfigs are.
    pub(crate) fn paths(&self) -> Paths {
        Paths::in_dir(&self.dir)
    }

    /// The CA, to issue more certificates (the kubelet's serving certificate).
    pub(crate) fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// How long each component took from spawn to ready, and the whole start.
    pub fn startup_times(&self) -> &[(&'static str, Duration)] {
        &self.startup
    }

    /// The running processes (etcd, kube-apiserver, kube-controller-manager).
    pub fn processes(&self) -> Vec<ProcessInfo> {
        let mut list = vec![self.etcd.info()];
        list.extend(self.apiserver.as_ref().map(Process::info));
        list.extend(self.controller_manager.as_ref().map(|cm| cm.process.info()));
        list
    }
}

fn write_pair(cert_file: &Path, key_file: &Path, cert: &IssuedCert) -> Result<(), Error> {
    write_file("kube-apiserver", cert_file, &cert.cert_pem)?;
    write_file("kube-apiserver", key_file, &cert.key_pem)
}

/// The user of the admin kubeconfig.
const ADMIN_USER: &str = "holt-testenv-admin";

/// Where a control plane's files are in its directory: written by [`ControlPlane::start`], read again by
/// [`ControlPlane::start_apiserver`].
pub(crate) struct Paths {
    pub(crate) ca: PathBuf,
    pub(crate) ca_key: PathBuf,
    pub(crate) serving_cert: PathBuf,
    pub(crate) serving_key: PathBuf,
    pub(crate) sa_key: PathBuf,
    pub(crate) sa_pub: PathBuf,
    pub(crate) admin_cert: PathBuf,
    pub(crate) admin_key: PathBuf,
    pub(crate) kubeconfig: PathBuf,
}

impl Paths {
    fn in_dir(dir: &RunDir) -> Self {
        Self {
            ca: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            serving_cert: dir.join("serving.crt"),
            serving_key: dir.join("serving.key"),
            sa_key: dir.join("sa.key"),
            sa_pub: dir.join("sa.pub"),
            admin_cert: dir.join("admin.crt"),
            admin_key: dir.join("admin.key"),
            kubeconfig: dir.join("admin.kubeconfig"),
        }
    }

    /// What kube-controller-manager and kube-scheduler get.
    pub(crate) fn controller(&self) -> ControllerManagerFiles<'_> {
        ControllerManagerFiles {
            kubeconfig: &self.kubeconfig,
            ca: &self.ca,
            client: self.admin(),
            serving_cert: &self.serving_cert,
            serving_key: &self.serving_key,
        }
    }

    fn admin(&self) -> ClientFiles<'_> {
        ClientFiles {
            user: ADMIN_USER,
            cert: &self.admin_cert,
            key: &self.admin_key,
        }
    }

    fn apiserver(&self) -> ApiserverFiles<'_> {
        ApiserverFiles {
            ca: &self.ca,
            serving_cert: &self.serving_cert,
            serving_key: &self.serving_key,
            service_account_key: &self.sa_key,
            service_account_public_key: &self.sa_pub,
            admin_kubeconfig: &self.kubeconfig,
            admin: ClientFiles {
                user: ADMIN_USER,
                cert: &self.admin_cert,
                key: &self.admin_key,
            },
        }
    }
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
