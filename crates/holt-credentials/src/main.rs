//! `holt-credentials`: the credentials operator binary. Every flag also reads an environment variable (shown
//! by `holt-credentials --help`); docs/credentials.md describes them.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use holt_credentials::ca::RotationPolicy;
use holt_credentials::ca_store::DEFAULT_SECRET_NAME;
use holt_credentials::controller::{Options, Progress};
use holt_credentials::provider::ProviderKind;
use holt_credentials::provider::cert_manager::Issuer;
use holt_credentials::provider::spire::{SpiffeId, Spire, SpireAddress};
use holt_credentials::rbac::LEASE_NAME;
use holt_credentials::renewal::check_fraction;
use holt_credentials::subject::TrustDomain;
use holt_runtime::duration::parse_duration;
use holt_runtime::leader::{self, LeaseOptions};
use tracing::info;

#[derive(Parser, Debug)]
#[command(name = "holt-credentials", version, about = "Holt's credentials operator")]
struct Args {
    /// Who issues certificates: `builtin` (Holt's own CA, kept in a Secret), `spire` (the SPIRE server at
    /// --spire-server-address) or `cert-manager` (Certificates for the issuer --cert-manager-issuer-name).
    #[arg(long, env = "HOLT_CERTIFICATE_PROVIDER", default_value = "builtin")]
    certificate_provider: ProviderKind,

    /// The SPIFFE trust domain of the certificates' URI SAN
    /// (`spiffe://<trust domain>/otterize/namespace/<ns>/service/<workload>`).
    #[arg(long, env = "HOLT_TRUST_DOMAIN", default_value = "example.org", value_parser = parse_trust_domain)]
    trust_domain: TrustDomain,

    /// With `spire`: the SPIRE server's admin API, its local unix socket (`unix:///run/spire/server/api.sock`
    /// or an absolute path). TCP with mTLS is not supported yet and is refused.
    #[arg(long, env = "HOLT_SPIRE_SERVER_ADDRESS", value_name = "ADDRESS", value_parser = parse_spire_address)]
    spire_server_address: Option<SpireAddress>,

    /// With `spire`: the parent ID of the entries Holt registers, which also marks them as Holt's (default:
    /// `spiffe://<trust domain>/holt/credentials-operator`).
    #[arg(long, env = "HOLT_SPIRE_PARENT_ID", value_name = "SPIFFE_ID", value_parser = parse_spiffe_id)]
    spire_parent_id: Option<SpiffeId>,

    /// With `cert-manager`: the Issuer (in each workload's namespace) or ClusterIssuer that signs.
    #[arg(long, env = "HOLT_CERT_MANAGER_ISSUER_NAME", value_name = "NAME")]
    cert_manager_issuer_name: Option<String>,

    /// With `cert-manager`: the issuer is a ClusterIssuer.
    #[arg(
        long,
        env = "HOLT_CERT_MANAGER_USE_CLUSTER_ISSUER",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value_t = false
    )]
    cert_manager_use_cluster_issuer: bool,

    /// The namespace the operator runs in (where its CA Secret and leader Lease live).
    #[arg(long, env = "POD_NAMESPACE", default_value = "holt-system")]
    operator_namespace: String,

    /// The Secret (in the operator's namespace) that holds the built-in CA: created on first start, rotated
    /// by Holt.
    #[arg(long, env = "HOLT_CA_SECRET_NAME", default_value = DEFAULT_SECRET_NAME)]
    ca_secret_name: String,

    /// Sign with the user's CA instead: a Secret in the operator's namespace with `tls.crt` and `tls.key`
    /// (and optionally `previous-tls.crt`/`previous-tls.key`, still trusted), never written by Holt.
    #[arg(long, env = "HOLT_USER_CA_SECRET_NAME", value_name = "SECRET")]
    user_ca_secret_name: Option<String>,

    /// The lifetime of a CA Holt creates (`365d`, `8760h`, ...).
    #[arg(long, env = "HOLT_CA_VALIDITY", default_value = "365d", value_parser = parse_duration)]
    ca_validity: Duration,

    /// A new CA is created when the current one has less than this left; both are trusted until the old one
    /// ends (at most half of --ca-validity).
    #[arg(long, env = "HOLT_CA_ROTATE_BEFORE", default_value = "30d", value_parser = parse_duration)]
    ca_rotate_before: Duration,

    /// How long a new CA is trusted before it signs, so that every pod has it in its trust bundle first.
    #[arg(long, env = "HOLT_CA_PROPAGATION_DELAY", default_value = "1h", value_parser = parse_duration)]
    ca_propagation_delay: Duration,

    /// How often the CA Secret is read again (a user's CA replaced, Holt's deleted).
    #[arg(long, env = "HOLT_CA_CHECK_INTERVAL", default_value = "1m", value_parser = parse_duration)]
    ca_check_interval: Duration,

    /// A certificate's lifetime when the pod's `cert-ttl` annotation sets none.
    #[arg(long, env = "HOLT_DEFAULT_CERT_TTL", default_value = "24h", value_parser = parse_duration)]
    default_cert_ttl: Duration,

    /// The share of a certificate's lifetime after which it is renewed (0 < share < 1).
    #[arg(long, env = "HOLT_RENEW_AT", default_value_t = holt_credentials::renewal::DEFAULT_RENEW_FRACTION, value_parser = parse_fraction)]
    renew_at: f64,

    /// Secrets brought up to date at once.
    #[arg(long, env = "HOLT_MAX_CONCURRENT_ISSUES", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_concurrent_issues: u32,

    /// The pod annotation that overrides a pod's workload name (as for the intents operator).
    #[arg(
        long,
        env = "HOLT_WORKLOAD_NAME_OVERRIDE_ANNOTATION",
        default_value = holt_model::labels::WORKLOAD_NAME_OVERRIDE
    )]
    workload_name_override_annotation: String,

    /// Name the pods of Jobs after their container images instead of the Job (as for the intents operator).
    #[arg(
        long,
        env = "HOLT_USE_IMAGE_NAME_FOR_SERVICE_ID_FOR_JOBS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value_t = false
    )]
    use_image_name_for_service_id_for_jobs: bool,

    /// Serve only pods of these namespaces (comma-separated; default: every namespace). The chart then
    /// grants Secret writes in these namespaces only.
    #[arg(long, env = "HOLT_WATCHED_NAMESPACES", value_delimiter = ',', num_args = 0..)]
    watched_namespaces: Vec<String>,

    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, env = "HOLT_HEALTH_PROBE_BIND_ADDRESS", default_value = "0.0.0.0:8181")]
    health_probe_bind_address: SocketAddr,

    /// Write only while holding a Lease, so that several replicas never both write.
    #[arg(long, env = "HOLT_LEADER_ELECT")]
    leader_elect: bool,

    /// Namespace of the leader Lease (default: --operator-namespace).
    #[arg(long, env = "HOLT_LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,

    #[command(flatten)]
    log: holt_runtime::LogArgs,
}

impl Args {
    fn options(&self) -> anyhow::Result<Options> {
        let mut options = Options::new(&self.operator_namespace, self.trust_domain.clone());
        options.model.workload_name_override_annotation = self.workload_name_override_annotation.clone();
        options.model.use_image_name_for_service_id_for_jobs = self.use_image_name_for_service_id_for_jobs;
        options.ca.policy = RotationPolicy {
            validity: self.ca_validity,
            rotate_before: self.ca_rotate_before,
            propagation: self.ca_propagation_delay,
        };
        options.ca.policy.check().map_err(|problem| {
            anyhow::anyhow!("--ca-validity, --ca-rotate-before, --ca-propagation-delay: {problem}")
        })?;
        if let Some(user) = &self.user_ca_secret_name {
            options.ca.name = user.clone();
            options.ca.user_supplied = true;
        } else {
            options.ca.name = self.ca_secret_name.clone();
        }
        options.namespaces = self
            .watched_namespaces
            .iter()
            .filter(|n| !n.is_empty())
            .cloned()
            .collect();
        options.ca_check_interval = self.ca_check_interval;
        options.default_ttl = self.default_cert_ttl;
        options.renew_fraction = self.renew_at;
        options.concurrency = self.max_concurrent_issues as usize;
        match self.certificate_provider {
            ProviderKind::BuiltIn => {}
            ProviderKind::Spire => {
                let address = self.spire_server_address.as_ref().ok_or_else(|| {
                    anyhow::anyhow!("--certificate-provider spire needs --spire-server-address")
                })?;
                let parent = match &self.spire_parent_id {
                    Some(parent) => parent.clone(),
                    None => SpiffeId::parse(&format!(
                        "spiffe://{}/holt/credentials-operator",
                        self.trust_domain
                    ))
                    .context("--spire-parent-id (default)")?,
                };
                if parent.trust_domain != self.trust_domain.as_str() {
                    anyhow::bail!(
                        "--spire-parent-id `spiffe://{}{}` is not in --trust-domain `{}`",
                        parent.trust_domain,
                        parent.path,
                        self.trust_domain
                    );
                }
                options.spire = Some(Spire::connect(address, parent).context("--spire-server-address")?);
            }
            ProviderKind::CertManager => {
                let name = self
                    .cert_manager_issuer_name
                    .as_deref()
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--certificate-provider cert-manager needs --cert-manager-issuer-name"
                        )
                    })?;
                options.cert_manager = Some(Issuer {
                    name: name.to_owned(),
                    cluster_issuer: self.cert_manager_use_cluster_issuer,
                });
            }
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    holt_runtime::logging::init(&args.log);
    let options = args.options()?;
    let client = kube::Client::try_default()
        .await
        .context("connecting to the API server")?;
    info!(provider = %args.certificate_provider, trust_domain = %args.trust_domain, "starting");
    // Probes answer from the start (a standby replica is alive but not ready).
    let (progress_tx, progress_rx) = tokio::sync::watch::channel(Progress::default());
    let health = tokio::spawn(holt_credentials::health::serve(
        args.health_probe_bind_address,
        progress_rx,
    ));
    let leadership = match args.leader_elect {
        true => {
            let identity = std::env::var("POD_NAME")
                .unwrap_or_else(|_| format!("holt-credentials-{}", std::process::id()));
            let namespace = args
                .leader_election_namespace
                .as_deref()
                .unwrap_or(&args.operator_namespace);
            info!(%identity, "waiting for the leader Lease");
            Some(
                leader::acquire(
                    client.clone(),
                    LeaseOptions::named(LEASE_NAME, namespace, &identity),
                )
                .await,
            )
        }
        false => None,
    };
    let (controller, mut progress) = holt_credentials::start(client, options);
    tokio::spawn(async move {
        while progress.changed().await.is_ok() {
            let current = progress.borrow().clone();
            progress_tx.send_replace(current);
        }
    });
    holt_runtime::leader::run_leading(controller, health, leadership).await
}

fn parse_spire_address(text: &str) -> Result<SpireAddress, String> {
    SpireAddress::parse(text).map_err(|e| e.why.to_owned())
}

fn parse_spiffe_id(text: &str) -> Result<SpiffeId, String> {
    SpiffeId::parse(text).map_err(|e| e.to_string())
}

fn parse_trust_domain(text: &str) -> Result<TrustDomain, String> {
    TrustDomain::new(text).map_err(|e| e.to_string())
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number: write a share such as 0.66"))?;
    check_fraction(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn the_defaults_make_valid_options() {
        let args = Args::try_parse_from(["holt-credentials"]).expect("defaults");
        let options = args.options().expect("valid");
        assert_eq!(options.ca.name, "holt-credentials-ca");
        assert!(!options.ca.user_supplied);
        assert_eq!(options.default_ttl, Duration::from_secs(86_400));
        assert_eq!(options.trust_domain.as_str(), "example.org");
        let user =
            Args::try_parse_from(["holt-credentials", "--user-ca-secret-name", "my-ca"]).expect("args");
        let options = user.options().expect("valid");
        assert_eq!(
            (options.ca.name.as_str(), options.ca.user_supplied),
            ("my-ca", true)
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_flag() {
        for args in [
            &["holt-credentials", "--trust-domain", "spiffe://x"][..],
            &["holt-credentials", "--renew-at", "1.5"],
            &["holt-credentials", "--default-cert-ttl", "10"],
            &["holt-credentials", "--certificate-provider", "vault"],
        ] {
            let error = Args::try_parse_from(args).expect_err("refused");
            assert!(error.to_string().contains(args[1]), "{error}");
        }
        let args = Args::try_parse_from(["holt-credentials", "--ca-rotate-before", "300d"]).expect("parses");
        let error = args.options().expect_err("more than half the validity");
        assert!(error.to_string().contains("--ca-rotate-before"), "{error}");
    }

    #[tokio::test]
    async fn each_provider_needs_its_settings_named_by_flag() {
        let spire =
            Args::try_parse_from(["holt-credentials", "--certificate-provider", "spire"]).expect("args");
        let error = spire.options().expect_err("no address");
        assert!(error.to_string().contains("--spire-server-address"), "{error}");
        let spire = Args::try_parse_from([
            "holt-credentials",
            "--certificate-provider",
            "spire",
            "--spire-server-address",
            "unix:///run/spire/api.sock",
        ])
        .expect("args");
        let options = spire.options().expect("valid");
        let connection = options.spire.expect("SPIRE");
        let parent = connection.parent_id();
        assert_eq!(
            (parent.trust_domain.as_str(), parent.path.as_str()),
            ("example.org", "/holt/credentials-operator")
        );
        assert_eq!(connection.address(), "unix:///run/spire/api.sock");
        let tcp = Args::try_parse_from(["holt-credentials", "--spire-server-address", "spire-server:8081"])
            .expect_err("TCP refused");
        assert!(tcp.to_string().contains("--spire-server-address"), "{tcp}");
        let elsewhere = Args::try_parse_from([
            "holt-credentials",
            "--certificate-provider",
            "spire",
            "--spire-server-address",
            "/run/spire/api.sock",
            "--spire-parent-id",
            "spiffe://other.org/holt",
        ])
        .expect("args");
        let error = elsewhere.options().expect_err("other trust domain");
        assert!(error.to_string().contains("--spire-parent-id"), "{error}");

        let cert_manager =
            Args::try_parse_from(["holt-credentials", "--certificate-provider", "cert-manager"])
                .expect("args");
        let error = cert_manager.options().expect_err("no issuer");
        assert!(
            error.to_string().contains("--cert-manager-issuer-name"),
            "{error}"
        );
        let cert_manager = Args::try_parse_from([
            "holt-credentials",
            "--certificate-provider",
            "cert-manager",
            "--cert-manager-issuer-name",
            "ca",
            "--cert-manager-use-cluster-issuer",
        ])
        .expect("args");
        let options = cert_manager.options().expect("valid");
        assert_eq!(
            options.cert_manager,
            Some(Issuer {
                name: "ca".to_owned(),
                cluster_issuer: true
            })
        );
        assert!(options.spire.is_none());
    }
}
