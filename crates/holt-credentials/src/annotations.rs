//! The pod annotations that ask for credentials, as the reference reads them, and their parsing.
//!
//! In: a pod's annotations. Out: `Ok(None)` when the pod asks for no certificate (no
//! `tls-secret-name`), its [`CertificateSettings`], or an [`AnnotationError`] naming the annotation that
//! is wrong and why.
//!
//! Every annotation is read under `credentials-operator.otterize.com/` and, failing that (absent or
//! empty), under the deprecated `spire-integration.otterize.com/` prefix: the new name wins. For two
//! annotations the reference's deprecated names differ (`svid-file-name` for `cert-file-name`,
//! `bundle-file-name` for `ca-file-name`); both those and the plain prefix swap are read. An empty value
//! counts as absent, as in the reference.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::settings::{CertificateSettings, Format};

/// The annotations' prefix.
pub const PREFIX: &str = "credentials-operator.otterize.com/";
/// The deprecated prefix, still read.
pub const DEPRECATED_PREFIX: &str = "spire-integration.otterize.com/";

pub const TLS_SECRET_NAME: &str = "tls-secret-name";
pub const CERT_TYPE: &str = "cert-type";
pub const CERT_TTL: &str = "cert-ttl";
pub const DNS_NAMES: &str = "dns-names";
pub const CERT_FILE_NAME: &str = "cert-file-name";
pub const CA_FILE_NAME: &str = "ca-file-name";
pub const KEY_FILE_NAME: &str = "key-file-name";
pub const KEYSTORE_FILE_NAME: &str = "keystore-file-name";
pub const TRUSTSTORE_FILE_NAME: &str = "truststore-file-name";
pub const JKS_PASSWORD: &str = "jks-password";
pub const RESTART_ON_RENEWAL: &str = "restart-pod-on-certificate-renewal";

/// Every annotation read (without prefix), for filtering a pod's annotations down to these.
pub const NAMES: [&str; 11] = [
    TLS_SECRET_NAME,
    CERT_TYPE,
    CERT_TTL,
    DNS_NAMES,
    CERT_FILE_NAME,
    CA_FILE_NAME,
    KEY_FILE_NAME,
    KEYSTORE_FILE_NAME,
    TRUSTSTORE_FILE_NAME,
    JKS_PASSWORD,
    RESTART_ON_RENEWAL,
];

/// The reference's deprecated names that are not the prefix swap of the current ones.
const DEPRECATED_ALIASES: [(&str, &str); 2] = [
    (CERT_FILE_NAME, "svid-file-name"),
    (CA_FILE_NAME, "bundle-file-name"),
];

/// Defaults, as the reference's.
pub const DEFAULT_CERT_FILE: &str = "cert.pem";
pub const DEFAULT_CA_FILE: &str = "ca.pem";
pub const DEFAULT_KEY_FILE: &str = "key.pem";
pub const DEFAULT_KEYSTORE_FILE: &str = "keystore.jks";
pub const DEFAULT_TRUSTSTORE_FILE: &str = "truststore.jks";
pub const DEFAULT_JKS_PASSWORD: &str = "password";

/// An annotation Holt cannot act on. `annotation` is the full name as written on the pod.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    #[error("{annotation}: `{value}` is not a certificate type: use `pem` or `jks`")]
    CertType { annotation: String, value: String },
    #[error(
        "{annotation}: `{value}` is not a lifetime: write a whole number of seconds from 1 to 2147483647"
    )]
    Ttl { annotation: String, value: String },
    #[error("{annotation}: `{name}` is not a DNS name ({why})")]
    DnsName {
        annotation: String,
        name: String,
        why: &'static str,
    },
    #[error("{annotation}: `{value}` is not a Secret name ({why})")]
    SecretName {
        annotation: String,
        value: String,
        why: &'static str,
    },
    #[error("{annotation}: `{value}` is not a Secret key (letters, digits, `-`, `_` and `.`, at most 253)")]
    FileName { annotation: String, value: String },
    #[error("{annotation} and {other}: both name the Secret key `{value}`")]
    SameFileName {
        annotation: String,
        other: String,
        value: String,
    },
    #[error("{annotation}: `{value}` is neither `true` nor `false`")]
    Boolean { annotation: String, value: String },
}

impl AnnotationError {
    /// The reference's Event reason for the error (its alerts match on them).
    pub fn reason(&self) -> &'static str {
        match self {
            AnnotationError::Ttl { .. } => "CertTTLError",
            AnnotationError::DnsName { .. } => "CertDNSResolutionFailed",
            _ => "EnsuringPodTLSFailed",
        }
    }
}

/// One annotation's value, found under the current or a deprecated name.
struct Found<'a> {
    annotation: String,
    value: &'a str,
    deprecated: bool,
}

fn find<'a>(annotations: &'a BTreeMap<String, String>, name: &str) -> Option<Found<'a>> {
    let current = format!("{PREFIX}{name}");
    if let Some(value) = annotations.get(&current).filter(|v| !v.is_empty()) {
        return Some(Found {
            annotation: current,
            value,
            deprecated: false,
        });
    }
    let alias = DEPRECATED_ALIASES
        .iter()
        .find(|(current, _)| *current == name)
        .map(|(_, alias)| *alias);
    [Some(name), alias]
        .into_iter()
        .flatten()
        .find_map(|deprecated_name| {
            let annotation = format!("{DEPRECATED_PREFIX}{deprecated_name}");
            annotations
                .get(&annotation)
                .filter(|v| !v.is_empty())
                .map(|value| Found {
                    annotation,
                    value,
                    deprecated: true,
                })
        })
}

/// True when `name` is one of the annotations read here, under any prefix: the pod watch keeps only these.
pub fn is_credentials_annotation(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(PREFIX)
        .or_else(|| name.strip_prefix(DEPRECATED_PREFIX))
    else {
        return false;
    };
    NAMES.contains(&rest) || DEPRECATED_ALIASES.iter().any(|(_, alias)| *alias == rest)
}

/// The pod's certificate settings; `Ok(None)` when it asks for none.
pub fn settings_of(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<CertificateSettings>, AnnotationError> {
    let Some(secret) = find(annotations, TLS_SECRET_NAME) else {
        return Ok(None);
    };
    let mut deprecated = Vec::new();
    let mut read = |name: &str| {
        let found = find(annotations, name);
        if let Some(found) = &found
            && found.deprecated
        {
            deprecated.push(found.annotation.clone());
        }
        found
    };
    // Read in a fixed order so that the list of deprecated annotations is stable.
    let secret = read(TLS_SECRET_NAME).unwrap_or(secret);
    check_secret_name(&secret.annotation, secret.value)?;
    let cert_type = read(CERT_TYPE);
    let ttl = read(CERT_TTL);
    let dns_names = read(DNS_NAMES);
    let restart = read(RESTART_ON_RENEWAL);
    let format = match &cert_type {
        None => pem_format(&mut read)?,
        Some(found) => match found.value.trim().to_ascii_lowercase().as_str() {
            "pem" => pem_format(&mut read)?,
            "jks" => jks_format(&mut read)?,
            _ => {
                return Err(AnnotationError::CertType {
                    annotation: found.annotation.clone(),
                    value: found.value.to_owned(),
                });
            }
        },
    };
    let ttl = match ttl {
        None => None,
        Some(found) => parse_ttl(&found)?,
    };
    let dns_names = match dns_names {
        None => Vec::new(),
        Some(found) => parse_dns_names(&found)?,
    };
    let restart_on_renewal = match restart {
        None => false,
        Some(found) => parse_boolean(&found)?,
    };
    deprecated.dedup();
    Ok(Some(CertificateSettings {
        secret_name: secret.value.to_owned(),
        format,
        ttl,
        dns_names,
        restart_on_renewal,
        deprecated_annotations: deprecated,
    }))
}

/// A file name annotation's value (checked) or its default, with the annotation it came from.
fn file_name<'a>(
    read: &mut impl FnMut(&str) -> Option<Found<'a>>,
    name: &str,
    default: &str,
) -> Result<(String, String), AnnotationError> {
    match read(name) {
        None => Ok((format!("{PREFIX}{name}"), default.to_owned())),
        Some(found) => {
            check_file_name(&found.annotation, found.value)?;
            Ok((found.annotation, found.value.to_owned()))
        }
    }
}

fn distinct(files: &[&(String, String)]) -> Result<(), AnnotationError> {
    for (i, (annotation, value)) in files.iter().enumerate() {
        if let Some((other, _)) = files[..i].iter().find(|(_, v)| v == value) {
            return Err(AnnotationError::SameFileName {
                annotation: other.clone(),
                other: annotation.clone(),
                value: value.clone(),
            });
        }
    }
    Ok(())
}

fn pem_format<'a>(read: &mut impl FnMut(&str) -> Option<Found<'a>>) -> Result<Format, AnnotationError> {
    let cert = file_name(read, CERT_FILE_NAME, DEFAULT_CERT_FILE)?;
    let ca = file_name(read, CA_FILE_NAME, DEFAULT_CA_FILE)?;
    let key = file_name(read, KEY_FILE_NAME, DEFAULT_KEY_FILE)?;
    distinct(&[&cert, &ca, &key])?;
    Ok(Format::Pem {
        cert_file: cert.1,
        ca_file: ca.1,
        key_file: key.1,
    })
}

fn jks_format<'a>(read: &mut impl FnMut(&str) -> Option<Found<'a>>) -> Result<Format, AnnotationError> {
    let keystore = file_name(read, KEYSTORE_FILE_NAME, DEFAULT_KEYSTORE_FILE)?;
    let truststore = file_name(read, TRUSTSTORE_FILE_NAME, DEFAULT_TRUSTSTORE_FILE)?;
    distinct(&[&keystore, &truststore])?;
    let password = read(JKS_PASSWORD).map_or_else(|| DEFAULT_JKS_PASSWORD.to_owned(), |f| f.value.to_owned());
    Ok(Format::Jks {
        keystore_file: keystore.1,
        truststore_file: truststore.1,
        password,
    })
}

/// Seconds, 1 to `i32::MAX` (the reference's int32); `0` is the provider's default, as in the reference.
fn parse_ttl(found: &Found<'_>) -> Result<Option<Duration>, AnnotationError> {
    let error = || AnnotationError::Ttl {
        annotation: found.annotation.clone(),
        value: found.value.to_owned(),
    };
    let text = found.value.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error());
    }
    let seconds: i32 = text.parse().map_err(|_| error())?;
    Ok((seconds > 0).then(|| Duration::from_secs(seconds.unsigned_abs().into())))
}

/// Comma-separated DNS names; spaces around each are dropped, empty entries and repeats skipped.
fn parse_dns_names(found: &Found<'_>) -> Result<Vec<String>, AnnotationError> {
    let mut names: Vec<String> = Vec::new();
    for name in found.value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if let Err(why) = check_dns_name(name) {
            return Err(AnnotationError::DnsName {
                annotation: found.annotation.clone(),
                name: name.to_owned(),
                why,
            });
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// `true` or `false` (any case); the reference restarts whenever the annotation is present, so an empty
/// value counts as `true` (an empty value never reaches here: it is absent).
fn parse_boolean(found: &Found<'_>) -> Result<bool, AnnotationError> {
    match found.value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AnnotationError::Boolean {
            annotation: found.annotation.clone(),
            value: found.value.to_owned(),
        }),
    }
}

/// A DNS name as certificates carry it: labels of letters, digits and `-` (not at either end), at most 63
/// each and 253 in all; the first label may be `*`.
pub fn check_dns_name(name: &str) -> Result<(), &'static str> {
    if name.len() > 253 {
        return Err("longer than 253 characters");
    }
    for (index, label) in name.split('.').enumerate() {
        if label.is_empty() {
            return Err("an empty label");
        }
        if index == 0 && label == "*" {
            continue;
        }
        if label.len() > 63 {
            return Err("a label longer than 63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("only letters, digits, `-` and `.` are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with `-`");
        }
    }
    Ok(())
}

/// A Secret name: a DNS-1123 subdomain (lower-case letters, digits, `-` and `.`, at most 253).
fn check_secret_name(annotation: &str, value: &str) -> Result<(), AnnotationError> {
    let error = |why| AnnotationError::SecretName {
        annotation: annotation.to_owned(),
        value: value.to_owned(),
        why,
    };
    if value.len() > 253 {
        return Err(error("longer than 253 characters"));
    }
    for label in value.split('.') {
        if label.is_empty() {
            return Err(error("an empty part between dots"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(error("only lower-case letters, digits, `-` and `.` are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(error("must start and end with a letter or digit"));
        }
    }
    Ok(())
}

/// A Secret data key: letters, digits, `-`, `_` and `.`, at most 253, not `.` or `..`.
fn check_file_name(annotation: &str, value: &str) -> Result<(), AnnotationError> {
    let valid = value.len() <= 253
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    match valid {
        true => Ok(()),
        false => Err(AnnotationError::FileName {
            annotation: annotation.to_owned(),
            value: value.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<CertificateSettings>, AnnotationError> {
        settings_of(&annotations(pairs))
    }

    const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

    #[test]
    fn a_pod_without_a_secret_name_asks_for_nothing() {
        assert_eq!(settings(&[]), Ok(None));
        assert_eq!(settings(&[(SECRET, "")]), Ok(None), "an empty value is absent");
        assert_eq!(
            settings(&[("credentials-operator.otterize.com/cert-type", "jks")]),
            Ok(None)
        );
    }

    #[test]
    fn defaults_are_the_references() {
        let s = settings(&[(SECRET, "cart-tls")]).expect("valid").expect("asks");
        assert_eq!(s.secret_name, "cart-tls");
        assert_eq!(
            s.format,
            Format::Pem {
                cert_file: "cert.pem".into(),
                ca_file: "ca.pem".into(),
                key_file: "key.pem".into()
            }
        );
        assert_eq!(s.ttl, None);
        assert!(s.dns_names.is_empty());
        assert!(!s.restart_on_renewal);
        assert!(s.deprecated_annotations.is_empty());
        let jks = settings(&[
            (SECRET, "cart-tls"),
            ("credentials-operator.otterize.com/cert-type", "JKS"),
        ])
        .expect("valid")
        .expect("asks");
        assert_eq!(
            jks.format,
            Format::Jks {
                keystore_file: "keystore.jks".into(),
                truststore_file: "truststore.jks".into(),
                password: "password".into()
            }
        );
    }

    #[test]
    fn every_annotation_is_read() {
        let s = settings(&[
            (SECRET, "cart-tls"),
            ("credentials-operator.otterize.com/cert-type", "jks"),
            ("credentials-operator.otterize.com/cert-ttl", "3600"),
            (
                "credentials-operator.otterize.com/dns-names",
                "cart.example.com, *.cart.svc,cart.example.com,",
            ),
            ("credentials-operator.otterize.com/keystore-file-name", "ks.jks"),
            ("credentials-operator.otterize.com/truststore-file-name", "ts.jks"),
            ("credentials-operator.otterize.com/jks-password", "s3cret"),
            (
                "credentials-operator.otterize.com/restart-pod-on-certificate-renewal",
                "True",
            ),
        ])
        .expect("valid")
        .expect("asks");
        assert_eq!(s.ttl, Some(Duration::from_secs(3600)));
        assert_eq!(s.dns_names, ["cart.example.com", "*.cart.svc"]);
        assert!(s.restart_on_renewal);
        assert_eq!(
            s.format,
            Format::Jks {
                keystore_file: "ks.jks".into(),
                truststore_file: "ts.jks".into(),
                password: "s3cret".into()
            }
        );
        let pem = settings(&[
            (SECRET, "cart-tls"),
            ("credentials-operator.otterize.com/cert-file-name", "tls.crt"),
            ("credentials-operator.otterize.com/ca-file-name", "ca.crt"),
            ("credentials-operator.otterize.com/key-file-name", "tls.key"),
        ])
        .expect("valid")
        .expect("asks");
        assert_eq!(pem.format.files(), ["tls.crt", "ca.crt", "tls.key"]);
    }

    #[test]
    fn the_deprecated_prefix_is_read_and_the_new_one_wins() {
        let s = settings(&[
            ("spire-integration.otterize.com/tls-secret-name", "old-tls"),
            ("spire-integration.otterize.com/svid-file-name", "svid.pem"),
            ("spire-integration.otterize.com/bundle-file-name", "bundle.pem"),
            ("spire-integration.otterize.com/cert-ttl", "60"),
            ("credentials-operator.otterize.com/cert-ttl", "120"),
        ])
        .expect("valid")
        .expect("asks");
        assert_eq!(s.secret_name, "old-tls");
        assert_eq!(s.ttl, Some(Duration::from_secs(120)), "the new name wins");
        assert_eq!(s.format.files(), ["svid.pem", "bundle.pem", "key.pem"]);
        assert_eq!(
            s.deprecated_annotations,
            [
                "spire-integration.otterize.com/tls-secret-name",
                "spire-integration.otterize.com/svid-file-name",
                "spire-integration.otterize.com/bundle-file-name"
            ]
        );
        // The plain prefix swap is read too, and an empty new value falls back to the deprecated one.
        let swapped = settings(&[
            (SECRET, "new-tls"),
            ("spire-integration.otterize.com/tls-secret-name", "old-tls"),
            ("spire-integration.otterize.com/cert-file-name", "c.pem"),
            ("credentials-operator.otterize.com/key-file-name", ""),
            ("spire-integration.otterize.com/key-file-name", "k.pem"),
        ])
        .expect("valid")
        .expect("asks");
        assert_eq!(swapped.secret_name, "new-tls");
        assert_eq!(swapped.format.files(), ["c.pem", "ca.pem", "k.pem"]);
    }

    #[test]
    fn errors_name_the_annotation_and_the_value() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: [Case; 9] = [
            (
                &[("credentials-operator.otterize.com/cert-type", "pkcs12")],
                "credentials-operator.otterize.com/cert-type: `pkcs12` is not a certificate type",
                "EnsuringPodTLSFailed",
            ),
            (
                &[("spire-integration.otterize.com/cert-type", "p12")],
                "spire-integration.otterize.com/cert-type: `p12`",
                "EnsuringPodTLSFailed",
            ),
            (
                &[("credentials-operator.otterize.com/cert-ttl", "-5")],
                "credentials-operator.otterize.com/cert-ttl: `-5` is not a lifetime",
                "CertTTLError",
            ),
            (
                &[("credentials-operator.otterize.com/cert-ttl", "2147483648")],
                "`2147483648` is not a lifetime",
                "CertTTLError",
            ),
            (
                &[("credentials-operator.otterize.com/cert-ttl", "1h")],
                "`1h` is not a lifetime",
                "CertTTLError",
            ),
            (
                &[(
                    "credentials-operator.otterize.com/dns-names",
                    "ok.example,bad name",
                )],
                "credentials-operator.otterize.com/dns-names: `bad name` is not a DNS name",
                "CertDNSResolutionFailed",
            ),
            (
                &[("credentials-operator.otterize.com/key-file-name", "../key")],
                "credentials-operator.otterize.com/key-file-name: `../key` is not a Secret key",
                "EnsuringPodTLSFailed",
            ),
            (
                &[("credentials-operator.otterize.com/ca-file-name", "cert.pem")],
                "credentials-operator.otterize.com/cert-file-name and credentials-operator.otterize.com/ca-file-name: both name the Secret key `cert.pem`",
                "EnsuringPodTLSFailed",
            ),
            (
                &[(
                    "credentials-operator.otterize.com/restart-pod-on-certificate-renewal",
                    "yes",
                )],
                "credentials-operator.otterize.com/restart-pod-on-certificate-renewal: `yes` is neither",
                "EnsuringPodTLSFailed",
            ),
        ];
        for (extra, message, reason) in cases {
            let mut pairs = vec![(SECRET, "cart-tls")];
            pairs.extend_from_slice(extra);
            let error = settings(&pairs).expect_err(message);
            assert!(error.to_string().contains(message), "{error} / {message}");
            assert_eq!(error.reason(), reason, "{error}");
        }
        let error = settings(&[(SECRET, "Cart_TLS")]).expect_err("bad name");
        assert!(
            error.to_string().starts_with(
                "credentials-operator.otterize.com/tls-secret-name: `Cart_TLS` is not a Secret name"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_zero_ttl_is_the_providers_default_and_the_largest_is_int32() {
        let ttl = |value: &str| {
            settings(&[
                (SECRET, "s"),
                ("credentials-operator.otterize.com/cert-ttl", value),
            ])
            .map(|s| s.and_then(|s| s.ttl))
        };
        assert_eq!(ttl("0"), Ok(None));
        assert_eq!(ttl("2147483647"), Ok(Some(Duration::from_secs(2_147_483_647))));
        assert_eq!(ttl(" 60 "), Ok(Some(Duration::from_secs(60))));
    }

    #[test]
    fn only_these_annotations_are_kept_by_the_watch() {
        assert!(is_credentials_annotation(SECRET));
        assert!(is_credentials_annotation(
            "spire-integration.otterize.com/svid-file-name"
        ));
        assert!(is_credentials_annotation(
            "spire-integration.otterize.com/jks-password"
        ));
        assert!(!is_credentials_annotation(
            "credentials-operator.otterize.com/svid-expires-at"
        ));
        assert!(!is_credentials_annotation(
            "kubectl.kubernetes.io/last-applied-configuration"
        ));
    }

    #[test]
    fn dns_names_follow_rfc_1123_labels() {
        for good in ["a", "cart.shop", "*.cart.shop", "x-1.example.com"] {
            assert_eq!(check_dns_name(good), Ok(()), "{good}");
        }
        for bad in ["", "a..b", "-a.b", "a-.b", "a_b.c", "a.*.c", &"a".repeat(64)] {
            assert!(check_dns_name(bad).is_err(), "{bad}");
        }
    }
}
