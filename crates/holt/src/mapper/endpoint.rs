//! How the CLI reaches the mapper: a URL (`--url`), or the mapper's Service through the API server's
//! service proxy (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/...`) with the kubeconfig, which
//! needs no port-forward and works wherever `kubectl` does.
//!
//! And who the mapper sees: it wants a bearer token ([`credential`]): `--token`/`--token-file`, else
//! the kubeconfig's own (a token, a token file, an exec plugin or an OIDC login). By URL it goes in
//! `Authorization`; through the API server in [`FORWARDED_AUTHORIZATION_HEADER`], since the API server
//! authenticates the user with `Authorization` and removes it before passing the request on. A client
//! certificate cannot be passed on at all: such users give `--token`.

use std::path::{Path, PathBuf};

use clap::Args;
use holt_mapper_api::FORWARDED_AUTHORIZATION_HEADER;
use http::{HeaderName, HeaderValue, header};
use kube::client::ConfigExt;
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
    /// Bearer token for the mapper (default: the kubeconfig's token, if it has one). For example a
    /// ServiceAccount's: `kubectl create token NAME -n NAMESPACE --audience holt-mapper`.
    #[arg(
        long,
        env = "HOLT_MAPPER_TOKEN",
        hide_env_values = true,
        global = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// File holding the bearer token for the mapper (instead of `--token`).
    #[arg(long, env = "HOLT_MAPPER_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid mapper URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot load the kubeconfig{}: {reason}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Kubeconfig { path: Option<PathBuf>, reason: String },
    #[error("cannot reach the {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("the {target} answered {code}: {message}{hint}")]
    Refused {
        target: String,
        code: u16,
        message: String,
        /// What to do about it, when the CLI knows.
        hint: String,
    },
    #[error("cannot read the token file {path}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
    #[error("the token {source_name} holds characters an HTTP header cannot carry")]
    Token { source_name: String },
}

/// Where the bearer token sent to the mapper came from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CredentialSource {
    /// `--token` or `--token-file`.
    Given,
    /// The kubeconfig's token.
    Kubeconfig,
    /// None: the kubeconfig authenticates with a client certificate (or not at all).
    None { client_certificate: bool },
}

/// The bearer token for the mapper and where it came from.
#[derive(Clone)]
struct Credential {
    value: Option<HeaderValue>,
    source: CredentialSource,
}

/// A connection to the mapper's API.
#[derive(Clone)]
pub struct Endpoint {
    client: kube::Client,
    /// Prepended to every API path.
    prefix: String,
    /// What is being reached, for error messages.
    target: String,
    credential: Credential,
    /// The header the credential goes in.
    credential_header: HeaderName,
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
            // The kubeconfig is only a source of a token here: without one, none is sent.
            let kubeconfig = kubeconfig(args).await.ok();
            return Ok(Endpoint {
                client,
                prefix,
                target: format!("mapper at {url}"),
                credential: credential(args, kubeconfig.as_ref()).await?,
                credential_header: header::AUTHORIZATION,
            });
        }
        let kubeconfig_error = |source: kube::Error| EndpointError::Kubeconfig {
            path: args.kubeconfig.clone(),
            reason: describe(&source),
        };
        let config = kubeconfig(args).await?;
        let credential = credential(args, Some(&config)).await?;
        let apiserver = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(kubeconfig_error)?;
        Ok(Endpoint {
            credential,
            credential_header: HeaderName::from_static(FORWARDED_AUTHORIZATION_HEADER),
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

    /// What is reached (`mapper at URL`, or the Service through the API server), as errors name it.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub async fn get(&self, path_and_query: &str) -> Result<String, EndpointError> {
        self.send(http::Method::GET, path_and_query).await
    }

    pub async fn post(&self, path: &str) -> Result<String, EndpointError> {
        self.send(http::Method::POST, path).await
    }

    /// Sends `GET path_and_query` with the credential and `headers`, and returns the answer as it is (any
    /// status, the body unread): what `holt mapper ui` passes back to the browser.
    pub async fn forward(
        &self,
        path_and_query: &str,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<http::Response<kube::client::Body>, EndpointError> {
        let mut request = http::Request::builder()
            .method(http::Method::GET)
            .uri(format!("{}{path_and_query}", self.prefix));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(value) = &self.credential.value {
            request = request.header(self.credential_header.clone(), value.clone());
        }
        let request =
            request
                .body(kube::client::Body::from(Vec::new()))
                .map_err(|e| EndpointError::Unreachable {
                    target: self.target.clone(),
                    reason: e.to_string(),
                })?;
        self.client
            .send(request)
            .await
            .map_err(|source| EndpointError::Unreachable {
                target: self.target.clone(),
                reason: describe(&source),
            })
    }

    async fn send(&self, method: http::Method, path_and_query: &str) -> Result<String, EndpointError> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.prefix));
        if let Some(value) = &self.credential.value {
            request = request.header(self.credential_header.clone(), value.clone());
        }
        let request = request.body(Vec::new()).map_err(|e| EndpointError::Unreachable {
            target: self.target.clone(),
            reason: e.to_string(),
        })?;
        match self.client.request_text(request).await {
            Ok(text) => Ok(text),
            Err(kube::Error::Api(status)) => Err(EndpointError::Refused {
                target: self.target.clone(),
                code: status.code,
                message: status.message.trim().to_owned(),
                hint: hint(status.code, &self.credential.source),
            }),
            Err(source) => Err(EndpointError::Unreachable {
                target: self.target.clone(),
                reason: describe(&source),
            }),
        }
    }
}

/// The kubeconfig as `--kubeconfig`, `KUBECONFIG` or `~/.kube/config` and `--context` give it.
async fn kubeconfig(args: &EndpointArgs) -> Result<kube::Config, EndpointError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let kubeconfig_error = |source: kube::config::KubeconfigError| EndpointError::Kubeconfig {
        path: args.kubeconfig.clone(),
        reason: describe(&kube::Error::InferKubeconfig(source)),
    };
    match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(kubeconfig_error)
        }
        None => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(kubeconfig_error),
    }
}

/// The bearer token for the mapper: `--token`, `--token-file`, else the one the kubeconfig sends the
/// API server (static, from a file, from an exec plugin or an OIDC provider: kube's own code gets it),
/// else none.
async fn credential(
    args: &EndpointArgs,
    kubeconfig: Option<&kube::Config>,
) -> Result<Credential, EndpointError> {
    let given = match (&args.token, &args.token_file) {
        (Some(token), _) => Some((token.trim().to_owned(), "given with --token".to_owned())),
        (None, Some(path)) => Some((read_token(path)?, format!("in {}", path.display()))),
        (None, None) => None,
    };
    if let Some((token, source_name)) = given {
        return Ok(Credential {
            value: Some(bearer(&token).ok_or(EndpointError::Token { source_name })?),
            source: CredentialSource::Given,
        });
    }
    let Some(config) = kubeconfig else {
        return Ok(Credential {
            value: None,
            source: CredentialSource::None {
                client_certificate: false,
            },
        });
    };
    let value = kubeconfig_bearer(config).await?;
    let source = if value.is_some() {
        CredentialSource::Kubeconfig
    } else {
        CredentialSource::None {
            client_certificate: config.auth_info.client_certificate.is_some()
                || config.auth_info.client_certificate_data.is_some(),
        }
    };
    Ok(Credential { value, source })
}

/// The `Authorization: Bearer …` value the kubeconfig's authentication would send the API server, if
/// it sends one.
async fn kubeconfig_bearer(config: &kube::Config) -> Result<Option<HeaderValue>, EndpointError> {
    use tower::{Layer, ServiceExt};
    let kubeconfig_error = |reason: String| EndpointError::Kubeconfig { path: None, reason };
    let Some(layer) = config.auth_layer().map_err(|e| kubeconfig_error(describe(&e)))? else {
        return Ok(None);
    };
    // The layer adds the header to a request (refreshing an exec or OIDC token as needed); this
    // service hands the request's header back instead of sending it anywhere.
    let capture = tower::service_fn(|request: http::Request<String>| async move {
        Ok::<_, tower::BoxError>(http::Response::new(
            request.headers().get(header::AUTHORIZATION).cloned(),
        ))
    });
    let value = layer
        .layer(capture)
        .oneshot(http::Request::new(String::new()))
        .await
        .map_err(|e| kubeconfig_error(format!("cannot get the kubeconfig's token: {e}")))?
        .into_body();
    Ok(value.filter(|v| {
        v.as_bytes()
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
    }))
}

fn read_token(path: &Path) -> Result<String, EndpointError> {
    let text = std::fs::read_to_string(path).map_err(|e| EndpointError::TokenFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(EndpointError::TokenFile {
            path: path.to_owned(),
            reason: "it is empty".into(),
        });
    }
    Ok(token.to_owned())
}

fn bearer(token: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// What to do after the mapper refused a credential, when the CLI can tell.
fn hint(code: u16, source: &CredentialSource) -> String {
    match (code, source) {
        (
            401,
            CredentialSource::None {
                client_certificate: true,
            },
        ) => {
            "\n(the kubeconfig authenticates with a client certificate, which the mapper cannot check: give \
             --token or --token-file, e.g. a ServiceAccount's from `kubectl create token NAME -n NAMESPACE \
             --audience holt-mapper`)"
                .to_owned()
        }
        (401, CredentialSource::None { .. }) => {
            "\n(the kubeconfig holds no token: give --token or --token-file, e.g. \
             a ServiceAccount's from `kubectl create token NAME -n NAMESPACE --audience holt-mapper`)"
                .to_owned()
        }
        (403, _) => {
            "\n(a cluster administrator grants it with a Role in the mapper's namespace: docs/mapper.md, \
             access)"
                .to_owned()
        }
        _ => String::new(),
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
