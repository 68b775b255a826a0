//! One mutual-TLS connection to one broker: TCP connect and TLS handshake under the connect timeout, the
//! ApiVersions exchange that fixes the version of every later request, then one request at a time, each
//! under the request timeout, matched to its response by correlation id.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Message, Request, StrBytes};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::Error;
use crate::framing::{self, FrameError};
use crate::tls::TlsIdentity;
use crate::versions::{ApiVersionsOutcome, BrokerVersions, read_api_versions};

/// Who we say we are and how long we wait.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionOptions {
    pub client_id: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

/// An open, negotiated connection to one broker.
pub(crate) struct Connection {
    address: String,
    stream: TlsStream<TcpStream>,
    next_correlation_id: i32,
    versions: BrokerVersions,
    options: ConnectionOptions,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.address)
            .field("next_correlation_id", &self.next_correlation_id)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `address` (`host:port`), verifies the broker's certificate for `server_name`, presents
    /// our certificate, and negotiates versions.
    pub async fn open(
        address: &str,
        server_name: ServerName<'static>,
        tls: &TlsIdentity,
        options: &ConnectionOptions,
    ) -> Result<Self, Error> {
        let timeout = options.connect_timeout;
        let timed_out = |operation: &str| Error::Timeout {
            address: address.to_owned(),
            operation: operation.to_owned(),
            after: timeout,
        };
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| timed_out("TCP connect"))?
            .map_err(|source| Error::Connect {
                address: address.to_owned(),
                source,
            })?;
        // Requests are small and each waits for its answer: send them at once.
        tcp.set_nodelay(true).map_err(|source| Error::Connect {
            address: address.to_owned(),
            source,
        })?;
        let stream = tokio::time::timeout(timeout, tls.connector().connect(server_name, tcp))
            .await
            .map_err(|_| timed_out("TLS handshake"))?
            .map_err(|e| io_error(address, "the TLS handshake", e))?;
        let mut connection = Self {
            address: address.to_owned(),
            stream,
            next_correlation_id: 0,
            versions: BrokerVersions::default(),
            options: options.clone(),
        };
        connection.versions = connection.api_versions().await?;
        Ok(connection)
    }

    /// The address this connection went to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What the broker announced in ApiVersions.
    pub fn versions(&self) -> &BrokerVersions {
        &self.versions
    }

    /// Sends `request` at the highest version both sides support and returns the broker's response.
    pub async fn send<R: Request>(&mut self, request: &R) -> Result<R::Response, Error> {
        let api = framing::api_name(R::KEY);
        let version = self
            .versions
            .negotiate::<R>()
            .ok_or_else(|| Error::UnsupportedVersion {
                address: self.address.clone(),
                api,
                ours: R::VERSIONS.to_string(),
                broker: self
                    .versions
                    .range(R::KEY)
                    .map_or_else(|| "none".to_owned(), |(min, max)| format!("{min}..{max}")),
            })?;
        let body = self.exchange(request, version).await?;
        framing::decode_body::<R>(body, version).map_err(|e| self.protocol(api, e))
    }

    /// ApiVersions at the highest version we know, once more at the broker's highest if it is older.
    async fn api_versions(&mut self) -> Result<BrokerVersions, Error> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("holt-kafka"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut version = <ApiVersionsRequest as Message>::VERSIONS.max;
        for _ in 0..2 {
            let body = self.exchange(&request, version).await?;
            let code = framing::leading_error_code(&body);
            let outcome = read_api_versions(body, version, code)
                .map_err(|e| self.protocol("ApiVersions", FrameError::Decode(e)))?;
            match outcome {
                ApiVersionsOutcome::Supported(response) => return self.accept(&response),
                ApiVersionsOutcome::AskAgainAt(lower) => version = lower,
                ApiVersionsOutcome::Unsupported { broker } => {
                    return Err(Error::UnsupportedVersion {
                        address: self.address.clone(),
                        api: "ApiVersions",
                        ours: <ApiVersionsRequest as Message>::VERSIONS.to_string(),
                        broker: broker.map_or_else(|| "none".to_owned(), |(a, b)| format!("{a}..{b}")),
                    });
                }
            }
        }
        Err(self.protocol(
            "ApiVersions",
            FrameError::Decode("the broker refused two ApiVersions versions".to_owned()),
        ))
    }

    fn accept(&self, response: &ApiVersionsResponse) -> Result<BrokerVersions, Error> {
        if response.error_code != 0 {
            return Err(Error::from_code("ApiVersions", response.error_code, None));
        }
        Ok(BrokerVersions::from_response(response))
    }

    /// Writes one request frame and reads its response frame, under the request timeout; returns the
    /// response body.
    async fn exchange<R: Request>(&mut self, request: &R, version: i16) -> Result<Bytes, Error> {
        let api = framing::api_name(R::KEY);
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = framing::encode_request(request, version, correlation_id, &self.options.client_id)
            .map_err(|e| self.protocol(api, e))?;
        let after = self.options.request_timeout;
        let frame = tokio::time::timeout(after, self.round_trip(&frame))
            .await
            .map_err(|_| Error::Timeout {
                address: self.address.clone(),
                operation: api.to_owned(),
                after,
            })?
            .map_err(|e| io_error(&self.address, api, e))?;
        framing::split_response(
            frame,
            framing::response_header_version::<R>(version),
            correlation_id,
        )
        .map_err(|e| self.protocol(api, e))
    }

    /// Writes `frame`, reads one size-prefixed frame back.
    async fn round_trip(&mut self, frame: &[u8]) -> std::io::Result<Bytes> {
        self.stream.write_all(frame).await?;
        self.stream.flush().await?;
        let mut prefix = [0u8; 4];
        self.stream.read_exact(&mut prefix).await?;
        let size = framing::response_size(prefix)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut body = vec![0u8; size];
        self.stream.read_exact(&mut body).await?;
        Ok(Bytes::from(body))
    }

    fn protocol(&self, api: &'static str, error: FrameError) -> Error {
        Error::Protocol {
            address: self.address.clone(),
            api,
            reason: error.to_string(),
        }
    }
}

/// Sorts an I/O error: a TLS failure (bad certificate, alert from the broker), a bad frame size, or a
/// broken connection.
fn io_error(address: &str, operation: &str, error: std::io::Error) -> Error {
    if let Some(tls) = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return Error::Tls {
            address: address.to_owned(),
            reason: tls.to_string(),
        };
    }
    if let Some(frame) = error.get_ref().and_then(|e| e.downcast_ref::<FrameError>()) {
        return Error::Protocol {
            address: address.to_owned(),
            api: "response",
            reason: frame.to_string(),
        };
    }
    Error::Io {
        address: address.to_owned(),
        operation: operation.to_owned(),
        source: error,
    }
}
