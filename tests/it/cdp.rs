//! A small Chrome DevTools Protocol client over Chromium's `--remote-debugging-pipe`, so that
//! the browser tests can click, type and read the page as a reader would, with no driver
//! and no new dependency: Chromium reads commands on its fd 3 and answers on its fd 4, each
//! message one JSON object ended by a NUL byte; a shell maps the child's stdin and stdout
//! to those two.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A headless Chromium driven through the protocol, with one page attached.
pub struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    /// Events read while waiting for an answer, kept for `wait_event`.
    events: Vec<Value>,
    next_id: u64,
    session: String,
}

const WAIT: Duration = Duration::from_secs(30);

/// How the browser tests run Chromium: as the book prints its PDF.
pub use auditbook::render::pdf::HEADLESS;

impl Browser {
    /// Starts `chromium` with `profile` as its user-data folder and attaches to a new page.
    pub fn start(chromium: &Path, profile: &Path, width: u32, height: u32) -> Browser {
        let mut child = Command::new("sh")
            .arg("-c")
            // fd 3 ← our commands (stdin), fd 4 → our reader (stdout); Chromium's own
            // output on stdout is dropped, its log stays on stderr.
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(chromium)
            .args(HEADLESS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let commands = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut message = Vec::new();
            while reader
                .read_until(0, &mut message)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                message.pop_if(|b| *b == 0);
                if let Ok(value) = serde_json::from_slice::<Value>(&message) {
                    if tx.send(value).is_err() {
                        break;
                    }
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            child,
            commands,
            messages,
            events: Vec::new(),
            next_id: 0,
            session: String::new(),
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        browser.page("Page.enable", json!({}));
        browser.page("Runtime.enable", json!({}));
        browser
    }

    fn send(&mut self, method: &str, params: Value, session: Option<String>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = Value::String(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("chromium reads its pipe");
        self.commands.flush().unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) if m["id"] == id => {
                    if let Some(error) = m.get("error") {
                        panic!("{method} failed: {error}");
                    }
                    return m["result"].clone();
                }
                Ok(event) => self.events.push(event),
                Err(RecvTimeoutError::Timeout) => panic!("no answer to {method} in {WAIT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("chromium went away during {method}"),
            }
        }
    }

    /// A browser-level command.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// A command to the page.
    pub fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(session))
    }

    /// Waits for an event named `method` (one already read counts), and returns it.
    pub fn wait_event(&mut self, method: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) if m["method"] == method => return m,
                Ok(other) => self.events.push(other),
                Err(_) => panic!("no {method} event in {WAIT:?}"),
            }
        }
    }

    /// Opens `url` and waits for its load event (scripts with `defer` have run by then).
    pub fn open(&mut self, url: &str) {
        self.events.retain(|e| e["method"] != "Page.loadEventFired");
        self.page("Page.navigate", json!({"url": url}));
        self.wait_event("Page.loadEventFired");
    }

    /// The value of `expression` evaluated in the page (a promise is awaited); a script
    /// error fails the test with the page's message.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.page(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// The messages the page logged or threw so far (console calls and exceptions).
    pub fn console(&mut self) -> Vec<Value> {
        // Let events already sent arrive.
        while let Ok(m) = self.messages.recv_timeout(Duration::from_millis(100)) {
            self.events.push(m);
        }
        self.events
            .iter()
            .filter(|e| {
                e["method"] == "Runtime.consoleAPICalled"
                    || e["method"] == "Runtime.exceptionThrown"
            })
            .cloned()
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
