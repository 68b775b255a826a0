//! The headless Chromium driver on a page of its own (a `data:` URL: no server): expressions are
//! evaluated, a mouse click on an SVG path reaches the path's own listener, and a screenshot is a PNG.

use std::time::Duration;

use holt_testenv::Browser;

const PAGE: &str = r#"data:text/html,<!doctype html><body><p id="clicked">none</p>
<svg width="300" height="120"><rect id="box" x="150" y="10" width="100" height="100" fill="gray"/>
<path id="curve" d="M10,60 C60,0 100,120 140,60" stroke="red" stroke-width="12" fill="none"
 onclick="document.getElementById('clicked').textContent='curve'"/></svg></body>"#;

#[tokio::test]
async fn chromium_evaluates_clicks_a_path_and_takes_a_screenshot() -> anyhow::Result<()> {
    let mut browser = Browser::start(400, 300).await?;
    browser.open(PAGE).await?;
    let title: String = browser
        .evaluate("document.getElementById('clicked').textContent")
        .await?;
    assert_eq!(title, "none");
    let error = browser
        .evaluate::<u32>("(() => { throw new Error('on purpose'); })()")
        .await
        .expect_err("a thrown exception is an error");
    assert!(error.to_string().contains("on purpose"), "{error}");
    browser.click("#curve").await?;
    browser
        .wait_until(
            "the click reached the path",
            "document.getElementById('clicked').textContent === 'curve'",
            Duration::from_secs(5),
        )
        .await?;
    let missing = browser.click("#nothing").await.expect_err("nothing to click");
    assert!(missing.to_string().contains("nothing matches"), "{missing}");
    let dir = tempfile::tempdir()?;
    let shot = dir.path().join("page.png");
    browser.screenshot(&shot).await?;
    let png = std::fs::read(&shot)?;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    Ok(())
}
