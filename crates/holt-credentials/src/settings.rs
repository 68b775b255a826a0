//! What one pod asks for: the Secret to write, in which format and under which keys, the certificate's
//! lifetime and extra names, and whether its workload restarts after a renewal. Read from the pod's
//! annotations by [`crate::annotations::settings_of`].

use std::time::Duration;

/// The file names (Secret keys) and the password of a certificate's Secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The certificate, the trust bundle and the private key, PEM.
    Pem {
        cert_file: String,
        ca_file: String,
        key_file: String,
    },
    /// A Java keystore with the key and its chain, and a truststore with the trust bundle, both JKS
    /// protected by `password`.
    Jks {
        keystore_file: String,
        truststore_file: String,
        password: String,
    },
}

impl Format {
    /// The reference's name of the format (the `cert-type` annotation's value).
    pub fn cert_type(&self) -> &'static str {
        match self {
            Format::Pem { .. } => "pem",
            Format::Jks { .. } => "jks",
        }
    }

    /// The Secret keys the format writes, in a fixed order.
    pub fn files(&self) -> Vec<&str> {
        match self {
            Format::Pem {
                cert_file,
                ca_file,
                key_file,
            } => vec![cert_file, ca_file, key_file],
            Format::Jks {
                keystore_file,
                truststore_file,
                ..
            } => vec![keystore_file, truststore_file],
        }
    }
}

/// The certificate settings of one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSettings {
    /// The Secret to write, in the pod's namespace.
    pub secret_name: String,
    pub format: Format,
    /// The certificate's lifetime; `None`: the provider's default.
    pub ttl: Option<Duration>,
    /// Extra DNS names, after `<workload>.<namespace>`, as written (without repeats).
    pub dns_names: Vec<String>,
    /// Bump the workload's pod template after the certificate is renewed (a rolling restart).
    pub restart_on_renewal: bool,
    /// Annotations read under the deprecated `spire-integration.otterize.com/` names.
    pub deprecated_annotations: Vec<String>,
}
