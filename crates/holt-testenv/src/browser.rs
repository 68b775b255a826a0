//! A real headless Chromium (Debian's `chromium`, installed by `scripts/install-system-packages.sh`) for the
//! tests of Holt's web pages, driven over the DevTools protocol. In: a URL, JavaScript expressions, points to
//! click. Out: what the expressions return (JSON), and screenshots (PNG).
//!
//! No WebSocket: Chromium is started with `--remote-debugging-pipe`, which reads protocol messages from its
//! file descriptor 3 and writes its answers to 4, each a JSON text ended by a NUL byte. A shell maps the two
//! onto the child's standard input and output (`3<&0 4>&1`), so the test talks to it through ordinary
//! pipes. Chromium runs as root here, so with `--no-sandbox`; with every background service off
//! (`--disable-background-networking` and the rest): the machine's closed network refuses their
//! connections, and a test must not depend on them. A missing `chromium` is an error, never a skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// How long one protocol command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium binary: `HOLT_CHROMIUM`, else `chromium` on the `PATH`.
pub fn chromium_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("HOLT_CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .context(
            "chromium is not installed: the access graph's tests need Debian's chromium \
             (scripts/install-system-packages.sh installs it; HOLT_CHROMIUM names another binary)",
        )
}

/// One headless Chromium with one page; killed, and its profile removed, when dropped.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    commands: ChildStdin,
    answers: BufReader<ChildStdout>,
    next_id: u64,
    /// The page's protocol session.
    session: String,
    profile: PathBuf,
    /// Chromium's own log (its standard error).
    pub log: PathBuf,
}

impl Browser {
    /// Starts Chromium with a fresh profile and a page of `width` × `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Browser> {
        let binary = chromium_binary()?;
        let unique = format!(
            "holt-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let profile = std::env::temp_dir().join(&unique);
        std::fs::create_dir_all(&profile).with_context(|| format!("create {}", profile.display()))?;
        let log = std::env::temp_dir().join(format!("{unique}.log"));
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let commands = child.stdin.take().context("chromium's command pipe")?;
        let answers = BufReader::new(child.stdout.take().context("chromium's answer pipe")?);
        let mut browser = Browser {
            child,
            commands,
            answers,
            next_id: 0,
            session: String::new(),
            profile,
            log,
        };
        let created = browser
            .command(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target = created["targetId"]
            .as_str()
            .context("Target.createTarget gave no targetId")?
            .to_owned();
        let attached = browser
            .command(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await?;
        browser.session = attached["sessionId"]
            .as_str()
            .context("Target.attachToTarget gave no sessionId")?
            .to_owned();
        browser
            .page(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
            )
            .await?;
        Ok(browser)
    }

    /// Sends one command (to the browser, or to a session) and returns its result; events in between are
    /// skipped.
    async fn command(&mut self, session: Option<&str>, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = Value::from(session);
        }
        let mut bytes = serde_json::to_vec(&message)?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .await
            .with_context(|| format!("send {method} to chromium (log: {})", self.log.display()))?;
        self.commands.flush().await?;
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, async {
            loop {
                let mut buffer = Vec::new();
                let read = self.answers.read_until(0, &mut buffer).await?;
                if read == 0 {
                    bail!("chromium closed its pipe (log: {})", self.log.display());
                }
                buffer.pop();
                let answer: Value = serde_json::from_slice(&buffer)?;
                if answer["id"].as_u64() == Some(id) {
                    return Ok(answer);
                }
            }
        })
        .await
        .with_context(|| format!("{method}: no answer from chromium within {COMMAND_TIMEOUT:?}"))??;
        if let Some(error) = answer.get("error") {
            bail!("{method} failed: {error}");
        }
        Ok(answer["result"].clone())
    }

    /// A command to the page.
    async fn page(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let session = self.session.clone();
        self.command(Some(&session), method, params).await
    }

    /// Loads `url` in the page and waits until its document has loaded.
    pub async fn open(&mut self, url: &str) -> anyhow::Result<()> {
        let navigated = self.page("Page.navigate", json!({"url": url})).await?;
        if let Some(error) = navigated.get("errorText").and_then(Value::as_str) {
            bail!("chromium cannot load {url}: {error}");
        }
        self.wait_until(
            &format!("{url} loaded"),
            "document.readyState === 'complete'",
            Duration::from_secs(30),
        )
        .await
    }

    /// [`Browser::open`], then waits (at most `timeout`) until `ready` — a JavaScript expression — is `true`.
    pub async fn open_until(&mut self, url: &str, ready: &str, timeout: Duration) -> anyhow::Result<()> {
        self.open(url).await?;
        self.wait_until(&format!("{url} ready"), ready, timeout).await
    }

    /// The value of a JavaScript expression in the page (a promise is awaited), as JSON read into `T`; a
    /// thrown exception is an error naming it.
    pub async fn evaluate<T: DeserializeOwned>(&mut self, expression: &str) -> anyhow::Result<T> {
        let evaluated = self
            .page(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(exception) = evaluated.get("exceptionDetails") {
            bail!("the page threw evaluating {expression:?}: {exception}");
        }
        let value = evaluated["result"].get("value").cloned().unwrap_or(Value::Null);
        serde_json::from_value(value.clone())
            .with_context(|| format!("{expression:?} gave {value}, not the expected type"))
    }

    /// Polls `expression` (every 100 ms) until it is `true`, for at most `timeout`.
    pub async fn wait_until(
        &mut self,
        what: &str,
        expression: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = self.evaluate::<Option<bool>>(expression).await;
            if matches!(done, Ok(Some(true))) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let last = match done {
                    Ok(value) => format!("{value:?}"),
                    Err(error) => error.to_string(),
                };
                bail!("{what}: not after {timeout:?} ({expression} gave {last})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element `selector` matches with the mouse, as a person would: scrolled into view, at
    /// a point of it that nothing else covers (on an SVG shape, a point of its outline — the middle of a
    /// path first — else the centre of its box).
    pub async fn click(&mut self, selector: &str) -> anyhow::Result<()> {
        let selector_json = serde_json::to_string(selector)?;
        let expression = format!(
            r#"(() => {{
                const el = document.querySelector({selector_json});
                if (!el) return null;
                el.scrollIntoView({{block: 'center', inline: 'center'}});
                const candidates = [];
                if (typeof el.getTotalLength === 'function') {{
                    const length = el.getTotalLength();
                    const m = el.getScreenCTM();
                    for (const f of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {{
                        const p = el.getPointAtLength(length * f);
                        candidates.push({{x: p.x * m.a + p.y * m.c + m.e, y: p.x * m.b + p.y * m.d + m.f}});
                    }}
                }}
                const box = el.getBoundingClientRect();
                candidates.push({{x: box.left + box.width / 2, y: box.top + box.height / 2}});
                for (const p of candidates) {{
                    const hit = document.elementFromPoint(p.x, p.y);
                    if (hit && (hit === el || el.contains(hit))) return p;
                }}
                return {{covered: true}};
            }})()"#
        );
        let point: Option<Value> = self.evaluate(&expression).await?;
        let point = point.with_context(|| format!("nothing matches {selector}"))?;
        let (Some(x), Some(y)) = (point["x"].as_f64(), point["y"].as_f64()) else {
            bail!("{selector} is covered by other elements: no point of it can be clicked");
        };
        self.click_at(x, y).await
    }

    /// A left click at (`x`, `y`) in the page's viewport.
    pub async fn click_at(&mut self, x: f64, y: f64) -> anyhow::Result<()> {
        self.page(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        )
        .await?;
        for kind in ["mousePressed", "mouseReleased"] {
            self.page(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .await?;
        }
        Ok(())
    }

    /// Writes a PNG of the page's viewport to `path`.
    pub async fn screenshot(&mut self, path: &Path) -> anyhow::Result<()> {
        let shot = self
            .page("Page.captureScreenshot", json!({"format": "png"}))
            .await?;
        let data = shot["data"]
            .as_str()
            .context("Page.captureScreenshot gave no data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("write {}", path.display()))?;
        Ok(())
    }

    /// Chromium's log so far, for a failing test's message.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Browser {
    /// Kills Chromium, waits (at most a second) for it to exit, then removes its profile (tried again while
    /// its helper processes still write there).
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        for _ in 0..50 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for _ in 0..10 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
