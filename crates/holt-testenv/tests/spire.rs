//! The real SPIRE server's admin API, through its own CLI on the admin socket.

use anyhow::{Context, ensure};
use holt_testenv::SpireServer;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::parse_x509_pem;

#[tokio::test]
async fn entry_is_created_and_an_x509_svid_is_minted() -> anyhow::Result<()> {
    let spire = SpireServer::shared().await?;
    let td = spire.trust_domain();
    let spiffe_id = format!("spiffe://{td}/ns/shop/sa/checkout");
    let created = spire
        .run(
            &["entry", "create"],
            &[
                "-parentID",
                &format!("spiffe://{td}/holt/node"),
                "-spiffeID",
                &spiffe_id,
                "-selector",
                "k8s:ns:shop",
            ],
        )
        .await?;
    ensure!(created.contains("Entry ID"), "{created}");
    let shown = spire.run(&["entry", "show"], &["-spiffeID", &spiffe_id]).await?;
    ensure!(
        shown.contains("Found 1 entry") && shown.contains("k8s:ns:shop"),
        "{shown}"
    );

    let dir = tempfile::tempdir()?;
    let out = dir.path().display().to_string();
    spire
        .run(&["x509", "mint"], &["-spiffeID", &spiffe_id, "-write", &out])
        .await?;
    let svid_pem = std::fs::read(dir.path().join("svid.pem")).context("svid.pem written")?;
    let bundle_pem = std::fs::read(dir.path().join("bundle.pem")).context("bundle.pem written")?;
    ensure!(dir.path().join("key.pem").is_file(), "key.pem written");

    let (_, svid_pem) = parse_x509_pem(&svid_pem)?;
    let svid = svid_pem.parse_x509()?;
    let (_, bundle_pem) = parse_x509_pem(&bundle_pem)?;
    let bundle = bundle_pem.parse_x509()?;
    let san = svid.subject_alternative_name()?.context("the SVID has a SAN")?;
    let uris: Vec<&str> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        })
        .collect();
    assert_eq!(uris, [spiffe_id.as_str()]);
    // Signed by the server's CA, which is in the trust bundle.
    svid.verify_signature(Some(bundle.public_key()))?;
    ensure!(bundle.is_ca(), "the bundle certificate is a CA");
    Ok(())
}
