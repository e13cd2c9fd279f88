//! Opens a page in real headless Chromium and reports what a person would notice: each chart's
//! size on screen, the console errors, and every network request the page made. It speaks the
//! `DevTools` protocol over `--remote-debugging-pipe` (commands on fd 3, answers on fd 4, each a JSON
//! message ended by a NUL byte), so no port is opened and no client library is needed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The Chromium binary: `$CHROMIUM`, else `chromium` on the PATH.
///
/// When it is missing, a test skips with a message on stderr, except under CI (`CI` set), where
/// a missing browser is a failure: the check must not vanish silently.
pub fn find() -> Option<PathBuf> {
    let candidate = std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromium"))
                .find(|path| path.is_file())
        })
    });
    if candidate.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "chromium is not installed, and CI is set: the browser test must run in CI (apt-get install chromium)"
        );
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium); the browser test did not run"
        );
    }
    candidate
}

/// One `<figure class="chart">` of the page as laid out.
#[derive(Debug, Clone)]
pub struct ChartBox {
    /// The figure's id.
    pub id: String,
    /// The width and height of its `<svg>` in CSS pixels (0 when it has none).
    pub width: f64,
    pub height: f64,
    /// `<text>` elements inside the SVG (labels, titles of axes).
    pub texts: u64,
}

/// What the page did while it loaded.
#[derive(Debug, Default)]
pub struct PageReport {
    /// The charts, in page order.
    pub charts: Vec<ChartBox>,
    /// Console errors, uncaught exceptions and browser log entries at level error.
    pub errors: Vec<String>,
    /// URLs the page requested, the page itself excluded.
    pub requests: Vec<String>,
}

struct Browser {
    child: Child,
    commands: ChildStdin,
    replies: Receiver<Value>,
    next_id: u64,
    events: Vec<Value>,
}

impl Browser {
    fn launch(binary: &Path, profile: &Path) -> Self {
        // sh moves our pipes to fds 3 and 4, where --remote-debugging-pipe expects them.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg("sh")
            .arg(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let commands = child.stdin.take().unwrap();
        let answers = child.stdout.take().unwrap();
        let (tx, replies) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(answers);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).unwrap_or(0) > 0 {
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && tx.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        Self {
            child,
            commands,
            replies,
            next_id: 0,
            events: Vec::new(),
        }
    }

    fn receive(&mut self, deadline: Instant, what: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.replies.recv_timeout(left) {
            Ok(value) => value,
            Err(RecvTimeoutError::Timeout) => panic!("chromium did not answer in time ({what})"),
            Err(RecvTimeoutError::Disconnected) => panic!("chromium closed the pipe ({what})"),
        }
    }

    /// Sends a command and waits for its answer, keeping the events that arrive meanwhile.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "callers build the parameters with json! in place"
    )]
    fn call(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        self.commands.flush().unwrap();
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            let reply = self.receive(deadline, method);
            if reply["id"] == json!(id) {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
            self.events.push(reply);
        }
    }

    fn wait_for_event(&mut self, method: &str, session: &str) {
        let seen = |e: &Value| e["method"] == method && e["sessionId"] == session;
        if self.events.iter().any(seen) {
            return;
        }
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            let event = self.receive(deadline, method);
            let done = seen(&event);
            self.events.push(event);
            if done {
                return;
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Loads `page` (a local file) in headless Chromium at `width` CSS pixels and reports on it.
pub fn open(binary: &Path, page: &Path, width: u32) -> PageReport {
    let profile = tempfile::tempdir().unwrap();
    let mut browser = Browser::launch(binary, profile.path());
    let target = browser.call("Target.createTarget", json!({"url": "about:blank"}), None);
    let target = target["targetId"].as_str().unwrap().to_owned();
    let attached = browser.call(
        "Target.attachToTarget",
        json!({"targetId": target, "flatten": true}),
        None,
    );
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    let s = Some(session.as_str());
    for domain in ["Runtime", "Log", "Network", "Page"] {
        browser.call(&format!("{domain}.enable"), json!({}), s);
    }
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        s,
    );
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    browser.call("Page.navigate", json!({"url": url}), s);
    browser.wait_for_event("Page.loadEventFired", &session);
    let measured = browser.call(
        "Runtime.evaluate",
        json!({
            "expression": "Array.from(document.querySelectorAll('figure.chart')).map(f => {
                const svg = f.querySelector('svg');
                const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                return {id: f.id, width: box.width, height: box.height,
                        texts: svg ? svg.querySelectorAll('text').length : 0};
            })",
            "returnByValue": true,
        }),
        s,
    );
    browser.call("Browser.close", json!({}), None);
    let charts = measured["result"]["value"]
        .as_array()
        .expect("the page evaluates")
        .iter()
        .map(|c| ChartBox {
            id: c["id"].as_str().unwrap_or_default().to_owned(),
            width: c["width"].as_f64().unwrap_or_default(),
            height: c["height"].as_f64().unwrap_or_default(),
            texts: c["texts"].as_u64().unwrap_or_default(),
        })
        .collect();
    let mut report = PageReport {
        charts,
        ..PageReport::default()
    };
    for event in &browser.events {
        let params = &event["params"];
        match event["method"].as_str().unwrap_or_default() {
            "Runtime.consoleAPICalled"
                if params["type"] == "error" || params["type"] == "assert" =>
            {
                report.errors.push(format!("console: {}", params["args"]));
            }
            "Runtime.exceptionThrown" => report
                .errors
                .push(format!("exception: {}", params["exceptionDetails"])),
            "Log.entryAdded" if params["entry"]["level"] == "error" => report
                .errors
                .push(format!("log: {}", params["entry"]["text"])),
            "Network.requestWillBeSent" => {
                let requested = params["request"]["url"].as_str().unwrap_or_default();
                if requested != url {
                    report.requests.push(requested.to_owned());
                }
            }
            _ => {}
        }
    }
    report
}
