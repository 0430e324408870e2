//! A small client of the Chrome DevTools protocol: headless Chromium launched on a free
//! port, one page driven over its WebSocket (navigate, evaluate, click, screenshot).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// How long the browser may take to start and a page to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// The Chromium binary: `HONE_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
pub(crate) fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("HONE_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A headless Chromium, killed on drop.
pub(crate) struct Browser {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Browser {
    /// Starts `binary` headless with its own profile folder under `dir`, and waits for its
    /// DevTools port (Chromium writes it to `DevToolsActivePort` in the profile).
    pub(crate) fn launch(binary: &Path, dir: &Path) -> Browser {
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).unwrap_or_else(|e| panic!("{}: {e}", profile.display()));
        let log = std::fs::File::create(dir.join("chromium.log"))
            .unwrap_or_else(|e| panic!("chromium.log: {e}"));
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut browser = Browser {
            child,
            port: 0,
            profile,
        };
        let file = browser.profile.join("DevToolsActivePort");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(port) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|text| text.lines().next().and_then(|l| l.trim().parse().ok()))
            {
                browser.port = port;
                return browser;
            }
            if let Ok(Some(status)) = browser.child.try_wait() {
                panic!(
                    "chromium exited ({status}) before opening its DevTools port; its log:\n{}",
                    std::fs::read_to_string(dir.join("chromium.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port within {PATIENCE:?}; its log:\n{}",
                std::fs::read_to_string(dir.join("chromium.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Connects to the browser's first page.
    pub(crate) async fn page(&self) -> Page {
        let list: Vec<Value> = reqwest::get(format!("http://127.0.0.1:{}/json/list", self.port))
            .await
            .unwrap_or_else(|e| panic!("DevTools /json/list: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("DevTools /json/list: {e}"));
        let url = list
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page among the DevTools targets: {list:?}"))
            .to_string();
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("DevTools WebSocket {url}: {e}"));
        let mut page = Page { socket, next: 0 };
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One page of the browser.
pub(crate) struct Page {
    socket: Socket,
    next: u64,
}

impl Page {
    /// Sends a command and returns its result (events in between are skipped); an error
    /// answer fails the test, naming the command.
    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket
            .send(Message::text(message))
            .await
            .unwrap_or_else(|e| panic!("send {method}: {e}"));
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer within {PATIENCE:?}"))
                .unwrap_or_else(|| panic!("{method}: the browser closed the connection"))
                .unwrap_or_else(|e| panic!("{method}: {e}"));
            let Message::Text(text) = frame else { continue };
            let answer: Value =
                serde_json::from_str(text.as_str()).unwrap_or_else(|e| panic!("{e}: {text}"));
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(error) = answer.get("error") {
                panic!("{method} failed: {error}");
            }
            return answer["result"].clone();
        }
    }

    pub(crate) async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
    }

    /// Evaluates a JavaScript expression in the page and returns its value; an exception
    /// fails the test.
    pub(crate) async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy; on timeout the test fails with the page's text
    /// and a screenshot at `failure_shot`.
    pub(crate) async fn wait_for(&mut self, expression: &str, failure_shot: &Path) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self
                .eval(&format!(
                    "(() => {{ try {{ return {expression}; }} catch (e) {{ return null; }} }})()"
                ))
                .await;
            if !(value.is_null() || value == json!(false) || value == json!("")) {
                return value;
            }
            if Instant::now() > deadline {
                self.screenshot(failure_shot).await;
                let text = self.eval("document.body.innerText").await;
                panic!(
                    "the page never showed `{expression}` (screenshot {}); its text:\n{}",
                    failure_shot.display(),
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A real mouse click (move, press, release) at the centre of the element `selector`
    /// names, after scrolling it into view.
    pub(crate) async fn click(&mut self, selector: &str) {
        let selector_json = serde_json::to_string(selector).unwrap_or_default();
        let point = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({selector_json}); if (!e) return null; \
                 e.scrollIntoView({{block: 'center', inline: 'center'}}); const r = e.getBoundingClientRect(); \
                 return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
            ))
            .await;
        let (Some(x), Some(y)) = (point[0].as_f64(), point[1].as_f64()) else {
            panic!("no element `{selector}` to click");
        };
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await;
        }
    }

    /// Writes a PNG of the page's viewport to `path`.
    pub(crate) async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot data: {e}"));
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
