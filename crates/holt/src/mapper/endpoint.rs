//! How the CLI reaches the mapper: a URL (`--url`), or the mapper's Service through the API server's
//! service proxy (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/...`) with the kubeconfig, which
//! needs no port-forward and works wherever `kubectl` does.

use std::path::PathBuf;

use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Where the mapper is.
#[derive(Args, Debug, Clone)]
pub struct EndpointArgs {
    /// The mapper's URL (`http://host:9090`); without it the mapper's Service is reached through the API
    /// server.
    #[arg(long, env = "HOLT_MAPPER_URL", global = true)]
    pub url: Option<String>,
    /// Kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`).
    #[arg(long, env = "HOLT_KUBECONFIG", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current one).
    #[arg(long, env = "HOLT_KUBE_CONTEXT", global = true)]
    pub context: Option<String>,
    /// Namespace of the mapper's Service.
    #[arg(
        long,
        env = "HOLT_MAPPER_NAMESPACE",
        default_value = "otterize-system",
        global = true
    )]
    pub mapper_namespace: String,
    /// Name of the mapper's Service.
    #[arg(
        long,
        env = "HOLT_MAPPER_SERVICE",
        default_value = "otterize-network-mapper",
        alias = "mapper-service-name",
        global = true
    )]
    pub mapper_service: String,
    /// Port of the mapper's Service.
    #[arg(
        long,
        env = "HOLT_MAPPER_PORT",
        default_value_t = 9090,
        alias = "mapper-service-port",
        global = true
    )]
    pub mapper_port: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid mapper URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot load the kubeconfig{}: {reason}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Kubeconfig { path: Option<PathBuf>, reason: String },
    #[error("cannot reach the {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("the {target} answered {code}: {message}")]
    Refused {
        target: String,
        code: u16,
        message: String,
    },
}

/// A connection to the mapper's API.
#[derive(Clone)]
pub struct Endpoint {
    client: kube::Client,
    /// Prepended to every API path.
    prefix: String,
    /// What is being reached, for error messages.
    target: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("target", &self.target).finish()
    }
}

impl Endpoint {
    pub async fn connect(args: &EndpointArgs) -> Result<Endpoint, EndpointError> {
        if let Some(url) = &args.url {
            let url = url.trim_end_matches('/');
            let invalid = |reason: String| EndpointError::Url {
                url: url.to_owned(),
                reason,
            };
            let uri: http::Uri = url
                .parse()
                .map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
            if uri.scheme().is_none() || uri.host().is_none() {
                return Err(invalid("expected http://host:port".into()));
            }
            let prefix = uri.path().trim_end_matches('/').to_owned();
            let client = kube::Client::try_from(kube::Config::new(uri)).map_err(|source| {
                EndpointError::Unreachable {
                    target: format!("mapper at {url}"),
                    reason: describe(&source),
                }
            })?;
            return Ok(Endpoint {
                client,
                prefix,
                target: format!("mapper at {url}"),
            });
        }
        let options = KubeConfigOptions {
            context: args.context.clone(),
            ..KubeConfigOptions::default()
        };
        let kubeconfig_error = |source: kube::Error| EndpointError::Kubeconfig {
            path: args.kubeconfig.clone(),
            reason: describe(&source),
        };
        let config = match &args.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| kubeconfig_error(kube::Error::InferKubeconfig(e)))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| kubeconfig_error(kube::Error::InferKubeconfig(e)))?
            }
            None => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| kubeconfig_error(kube::Error::InferKubeconfig(e)))?,
        };
        let apiserver = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(kubeconfig_error)?;
        Ok(Endpoint {
            client,
            prefix: format!(
                "/api/v1/namespaces/{}/services/{}:{}/proxy",
                args.mapper_namespace, args.mapper_service, args.mapper_port
            ),
            target: format!(
                "mapper Service {}/{} port {} through the API server {}",
                args.mapper_namespace,
                args.mapper_service,
                args.mapper_port,
                apiserver.trim_end_matches('/')
            ),
        })
    }

    pub async fn get(&self, path_and_query: &str) -> Result<String, EndpointError> {
        self.send(http::Method::GET, path_and_query).await
    }

    pub async fn post(&self, path: &str) -> Result<String, EndpointError> {
        self.send(http::Method::POST, path).await
    }

    async fn send(&self, method: http::Method, path_and_query: &str) -> Result<String, EndpointError> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.prefix))
            .body(Vec::new())
            .map_err(|e| EndpointError::Unreachable {
                target: self.target.clone(),
                reason: e.to_string(),
            })?;
        match self.client.request_text(request).await {
            Ok(text) => Ok(text),
            Err(kube::Error::Api(status)) => Err(EndpointError::Refused {
                target: self.target.clone(),
                code: status.code,
                message: status.message.trim().to_owned(),
            }),
            Err(source) => Err(EndpointError::Unreachable {
                target: self.target.clone(),
                reason: describe(&source),
            }),
        }
    }
}

/// An error and its sources in one line, leaving out messages their parent already contains (kube's
/// errors often repeat their sources).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut next = error.source();
    while let Some(e) = next {
        let message = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&message)) {
            parts.push(message);
        }
        next = e.source();
    }
    parts.join(": ")
}
