//! Holt's Java keystores as Java reads them: `keytool` (Java's own, from the machine's JDK) lists the
//! keystore's key entry with its chain and the truststore's CAs with the password, refuses a wrong password,
//! and converts the keystore to PKCS#12, which decrypts the private key. No keytool, no pass.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_credentials::ca::{CaCertificate, CaSet, RotationPolicy};
use holt_credentials::provider::BuiltInCa;
use holt_credentials::secret;
use holt_credentials::settings::Format;
use holt_credentials::subject::{Subject, TrustDomain};
use jiff::Timestamp;

const DAY: Duration = Duration::from_secs(86_400);

/// `keytool args…`: its output (stdout and stderr) and whether it succeeded. Fails when keytool cannot run.
fn keytool(args: &[&str]) -> anyhow::Result<(bool, String)> {
    let output = Command::new("keytool")
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .context("running keytool (Java's, from a JDK): it must be installed for this test")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), text))
}

fn list(store: &Path, password: &str) -> anyhow::Result<(bool, String)> {
    let path = store.display().to_string();
    keytool(&[
        "-list",
        "-v",
        "-keystore",
        &path,
        "-storetype",
        "JKS",
        "-storepass",
        password,
    ])
}

#[test]
fn keytool_lists_both_stores_with_the_password_and_decrypts_the_key() -> anyhow::Result<()> {
    let now = Timestamp::now();
    // Two CAs in the bundle, as during a rotation: the old one issues, both are trusted.
    let old = CaCertificate::generate(now - 200 * DAY, 365 * DAY)?;
    let new = CaCertificate::generate(now - Duration::from_secs(60), 365 * DAY)?;
    let provider = BuiltInCa {
        cas: Arc::new(CaSet::new(vec![old, new])),
        policy: RotationPolicy::default(),
        default_ttl: DAY,
    };
    // A password outside ASCII checks that it is hashed as Java does (UTF-16); the reference's default is
    // the other. PKCS#12 takes ASCII passwords only, so the conversion below uses the second.
    let dir = tempfile::tempdir()?;
    for password in ["s3cret-pässword", "password"] {
        let stores = dir.path().join(password);
        std::fs::create_dir(&stores)?;
        check_stores(&provider, &stores, password, now)?;
    }
    let keystore = dir.path().join("password/keystore.jks");
    let password = "password";
    // Converting to PKCS#12 recovers the private key with the key protector.
    let p12 = dir.path().join("converted.p12");
    let (ok, text) = keytool(&[
        "-importkeystore",
        "-noprompt",
        "-srckeystore",
        &keystore.display().to_string(),
        "-srcstoretype",
        "JKS",
        "-srcstorepass",
        password,
        "-destkeystore",
        &p12.display().to_string(),
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        password,
    ])?;
    ensure!(
        ok,
        "keytool could not convert the keystore (the key did not decrypt):\n{text}"
    );
    ensure!(text.contains("1 entries successfully imported"), "{text}");
    let (ok, text) = keytool(&[
        "-list",
        "-keystore",
        &p12.display().to_string(),
        "-storetype",
        "PKCS12",
        "-storepass",
        password,
    ])?;
    ensure!(ok && text.contains("PrivateKeyEntry"), "{text}");
    Ok(())
}

/// Writes the JKS files of a certificate from `provider` into `dir` with `password` and lists them.
fn check_stores(provider: &BuiltInCa, dir: &Path, password: &str, now: Timestamp) -> anyhow::Result<()> {
    let subject = Subject::new(
        "cart",
        "shop",
        &["cart.example.com".to_owned()],
        &TrustDomain::new("example.org")?,
    );
    let issued = provider.issue(&subject, None, now)?;
    let bundle = provider.trust_bundle(now);
    ensure!(bundle.der.len() == 2, "two CAs trusted");
    let format = Format::Jks {
        keystore_file: "keystore.jks".into(),
        truststore_file: "truststore.jks".into(),
        password: password.into(),
    };
    let files = secret::files(&format, &issued, &bundle, now, [42; 20])?;
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes)?;
    }
    let keystore = dir.join("keystore.jks");
    let truststore = dir.join("truststore.jks");

    let (ok, text) = list(&keystore, password)?;
    ensure!(ok, "keytool -list on the keystore failed:\n{text}");
    for expected in [
        "Keystore type: JKS",
        "Your keystore contains 1 entry",
        "Alias name: pkey",
        "Entry type: PrivateKeyEntry",
        "Certificate chain length: 2",
        "Owner: CN=cart.shop",
        "DNSName: cart.shop",
        "DNSName: cart.example.com",
        "URIName: spiffe://example.org/otterize/namespace/shop/service/cart",
    ] {
        ensure!(
            text.contains(expected),
            "`{expected}` not in keytool's listing:\n{text}"
        );
    }

    let (ok, text) = list(&truststore, password)?;
    ensure!(ok, "keytool -list on the truststore failed:\n{text}");
    for expected in [
        "Your keystore contains 2 entries",
        "Alias name: ca-0",
        "Alias name: ca-1",
        "Entry type: trustedCertEntry",
        "Owner: CN=holt-credentials-ca-",
    ] {
        ensure!(
            text.contains(expected),
            "`{expected}` not in keytool's listing:\n{text}"
        );
    }

    // Java checks the store's digest against the password.
    let (ok, text) = list(&keystore, "wrong-password")?;
    ensure!(!ok, "a wrong password was accepted:\n{text}");
    ensure!(text.contains("password was incorrect"), "{text}");

    Ok(())
}
