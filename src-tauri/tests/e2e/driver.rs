//! A W3C WebDriver session on the real app: `tauri-driver` (which drives
//! WebKitWebDriver, which starts `gavel-desktop`) on free ports, with a
//! data directory of its own. Only what the tests use: find elements by
//! CSS selector (the UI's accessible labels), click, type, read, run a
//! script, take a screenshot.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a test waits for something to appear before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// WebDriver's key codes (a second CONTROL releases it).
pub const CONTROL: char = '\u{E009}';
pub const BACKSPACE: char = '\u{E003}';
pub const HOME: char = '\u{E011}';
pub const END: char = '\u{E010}';
pub const DOWN: char = '\u{E015}';

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// The app under test and the driver that runs it.
pub struct App {
    driver: Child,
    /// An X server of this app's own: its screenshots are what the screen
    /// shows, and tests running side by side never overlap.
    xvfb: Child,
    display: String,
    base: String,
    session: String,
    agent: ureq::Agent,
    _home: tempfile::TempDir,
    home_path: PathBuf,
    name: String,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// The app under test: the binary cargo built beside this test (with the
/// same features: `custom-protocol` embeds the front end), or
/// `GAVEL_DESKTOP_BIN`.
fn app_binary() -> PathBuf {
    let path = std::env::var_os("GAVEL_DESKTOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gavel-desktop")));
    assert!(path.exists(), "{} does not exist", path.display());
    path
}

/// A data directory that already holds the example bundles (as after
/// "Load example bundles").
pub fn home_with_examples() -> tempfile::TempDir {
    home_with_examples_and(&[])
}

/// The examples, and the `submitted` references frozen for approval (by an
/// identity whose key lived only in memory while the store was made).
pub fn home_with_examples_and(submitted: &[&str]) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("data directory");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let console = gavel_console::Console::open(
            home.path(),
            std::sync::Arc::new(gavel_console::MemoryKeychain::default()),
        )
        .await
        .expect("store");
        console.init(true).await.expect("examples");
        if !submitted.is_empty() {
            console
                .generate_identity("Grace Hopper", "grace@example.com", None, None)
                .await
                .expect("identity");
        }
        for reference in submitted {
            console.submit(reference, None).await.expect("submit");
        }
    });
    home
}

/// Where each test's screenshots go.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("GAVEL_E2E_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

impl App {
    /// Starts the app on an empty data directory.
    pub fn start(name: &str) -> App {
        let home = tempfile::tempdir().expect("data directory");
        Self::start_in(name, home)
    }

    /// Starts the app on `home`.
    pub fn start_in(name: &str, home: tempfile::TempDir) -> App {
        let path = home.path().to_path_buf();
        Self::start_with_home_path(name, home, &path)
    }

    /// Starts the app with `GAVEL_HOME` set to `path` (`keep` lives as
    /// long as the app).
    pub fn start_with_home_path(name: &str, keep: tempfile::TempDir, path: &Path) -> App {
        let home = keep;
        let (port, native) = (free_port(), free_port());
        let (xvfb, display) = start_xvfb();
        let driver = Command::new(
            std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".to_string()),
        )
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("GAVEL_HOME", path)
        .env("DISPLAY", &display)
        // The updater may fetch the tests' plain-HTTP loopback server.
        .env("GAVEL_E2E_UPDATER_LOOPBACK", "1")
        // Each test's keys under a service of its own, in the test keyring.
        .env("GAVEL_KEYCHAIN_SERVICE", format!("gavel-e2e-{name}-{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tauri-driver starts (cargo install tauri-driver --locked)");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build();
        let base = format!("http://127.0.0.1:{port}");
        let mut app = App {
            driver,
            xvfb,
            display,
            base,
            session: String::new(),
            agent,
            _home: home,
            home_path: path.to_path_buf(),
            name: name.to_string(),
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app_binary()}
        }}});
        let started = Instant::now();
        let session = loop {
            match app.post_raw("/session", &caps) {
                Ok(v) => break v,
                Err(e) if started.elapsed() < Duration::from_secs(60) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => {
                    let mut log = String::new();
                    if let Some(mut err) = app.driver.stderr.take() {
                        let _ = err.read_to_string(&mut log);
                    }
                    panic!("no WebDriver session: {e}\n{log}");
                }
            }
        };
        app.session = session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        app.resize(1280, 800);
        app
    }

    /// Puts `text` into the field labelled `label` at once, as a paste
    /// does (typing long multi-line text key by key is slow, and newlines
    /// typed into a WebDriver field are not reliable).
    pub fn paste(&self, label: &str, text: &str) {
        self.label(label);
        self.script(
            "const e = document.querySelector(`[aria-label=\"${arguments[0]}\"]`);
             const proto = e instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
             Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, arguments[1]);
             e.dispatchEvent(new Event('input', {bubbles: true}));",
            json!([label, text]),
        );
    }

    /// Reloads the front end, as a user's restart would (what it knows at
    /// start is read again).
    pub fn reload(&self) {
        self.post("/refresh", &json!({}));
        self.label("Screens");
    }

    /// Sets the window's size.
    pub fn resize(&self, width: u32, height: u32) {
        self.post(
            "/window/rect",
            &json!({"x": 0, "y": 0, "width": width, "height": height}),
        );
    }

    fn post_raw(&self, path: &str, body: &Value) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        match self.agent.post(&url).send_json(body.clone()) {
            Ok(r) => r
                .into_json::<Value>()
                .map(|v| v["value"].clone())
                .map_err(|e| e.to_string()),
            Err(ureq::Error::Status(code, r)) => {
                Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn post(&self, rest: &str, body: &Value) -> Value {
        self.post_raw(&self.path(rest), body)
            .unwrap_or_else(|e| panic!("POST {rest}: {e}"))
    }

    fn try_post(&self, rest: &str, body: &Value) -> Result<Value, String> {
        self.post_raw(&self.path(rest), body)
    }

    fn get(&self, rest: &str) -> Value {
        let url = format!("{}{}", self.base, self.path(rest));
        match self.agent.get(&url).call() {
            Ok(r) => r.into_json::<Value>().expect("json")["value"].clone(),
            Err(e) => panic!("GET {rest}: {e}"),
        }
    }

    fn find_now(&self, css: &str) -> Option<Element> {
        self.try_post("/element", &json!({"using": "css selector", "value": css}))
            .ok()
            .and_then(|v| v[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
    }

    /// Every element matching `css` now.
    pub fn all(&self, css: &str) -> Vec<Element> {
        self.try_post("/elements", &json!({"using": "css selector", "value": css}))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
            .collect()
    }

    /// The first element matching `css`, waiting for it to appear.
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(&format!("`{css}` to appear"), || self.find_now(css))
    }

    /// The element with this accessible label.
    pub fn label(&self, label: &str) -> Element {
        self.find(&format!("[aria-label=\"{label}\"]"))
    }

    /// Polls `probe` until it gives something, or fails the test with a
    /// screenshot after [`WAIT`].
    pub fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = probe() {
                return v;
            }
            if started.elapsed() > WAIT {
                let shot = self.screenshot(&format!("{}-failed", self.name));
                panic!(
                    "waited {}s for {what}; screenshot: {}\npage text:\n{}",
                    WAIT.as_secs(),
                    shot.display(),
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks an element, waiting while something (a notification, an
    /// animation) still covers it.
    pub fn click(&self, e: &Element) {
        if let Err(m) = self.try_click(e) {
            panic!("click: {m}");
        }
    }

    /// Clicks an element; `Err` when it left the page (re-rendered) first.
    fn try_click(&self, e: &Element) -> Result<(), String> {
        let path = format!("/element/{}/click", e.0);
        self.wait_for("the element to take a click", || {
            match self.try_post(&path, &json!({})) {
                Ok(_) => Some(Ok(())),
                Err(m) if m.contains("intercepted") || m.contains("not interactable") => None,
                Err(m) => Some(Err(m)),
            }
        })
    }

    /// Clicks the control labelled `label`.
    /// The control is found again when it was re-rendered between being
    /// found and being clicked (a list refreshing, a state arriving).
    pub fn press(&self, label: &str) {
        let mut last = String::new();
        for _ in 0..5 {
            let e = self.label(label);
            match self.try_click(&e) {
                Ok(()) => return,
                Err(m) if m.contains("stale element") => last = m,
                Err(m) => panic!("press `{label}`: {m}"),
            }
        }
        panic!("press `{label}`: it kept being replaced: {last}");
    }

    /// Types into an element (keys as WebDriver sends them).
    pub fn type_into(&self, e: &Element, text: &str) {
        self.post(&format!("/element/{}/value", e.0), &json!({"text": text}));
    }

    /// Replaces the value of the input labelled `label`, as typing does:
    /// select all (Ctrl+A), delete, type.
    pub fn fill(&self, label: &str, text: &str) {
        let e = self.label(label);
        self.type_into(&e, &format!("{CONTROL}a{CONTROL}{BACKSPACE}{text}"));
    }

    /// An attribute of an element (`aria-label`, `aria-valuenow`, …).
    pub fn attr(&self, e: &Element, name: &str) -> Option<String> {
        self.get(&format!("/element/{}/attribute/{name}", e.0))
            .as_str()
            .map(str::to_string)
    }

    /// The element's text content.
    pub fn text(&self, e: &Element) -> String {
        self.get(&format!("/element/{}/property/textContent", e.0))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The text of the element labelled `label` now (`None` while absent).
    pub fn text_of(&self, label: &str) -> Option<String> {
        self.try_post(
            "/execute/sync",
            &json!({
                "script": "const e = document.querySelector(`[aria-label=\"${arguments[0]}\"]`); return e ? e.textContent : null;",
                "args": [label],
            }),
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
    }

    /// The whole page's visible text (for failure messages).
    pub fn page_text(&self) -> String {
        self.try_post(
            "/execute/sync",
            &json!({"script": "return document.body.innerText", "args": []}),
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
    }

    /// Runs `script` in the page (`arguments[i]` are `args`).
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", &json!({"script": script, "args": args}))
    }

    /// Runs `script` in the page as an async function: it calls
    /// `arguments[arguments.length - 1]` with its result.
    pub fn script_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", &json!({"script": script, "args": args}))
    }

    /// Selects the option whose text contains `text` in the `<select>`
    /// labelled `label`, as a user picking it would (a change event).
    pub fn select(&self, label: &str, text: &str) {
        self.label(label);
        self.wait_for(&format!("option `{text}` in `{label}`"), || {
            self.try_select(label, text).then_some(())
        });
    }

    fn try_select(&self, label: &str, text: &str) -> bool {
        let ok = self.script(
            "const s = document.querySelector(`[aria-label=\"${arguments[0]}\"]`);
             const o = [...s.options].find(o => o.textContent.includes(arguments[1]) || o.value === arguments[1]);
             if (!o) return false;
             const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;
             set.call(s, o.value);
             s.dispatchEvent(new Event('change', {bubbles: true}));
             return true;",
            json!([label, text]),
        );
        ok == json!(true)
    }

    /// The app's data directory (`GAVEL_HOME`).
    pub fn home(&self) -> PathBuf {
        self.home_path.clone()
    }

    /// Calls a command as the front end does; answers `{ok}` or the error
    /// body `{code, message}`.
    pub fn invoke(&self, command: &str, args: Value) -> Value {
        self.script_async(
            "const [command, args, done] = arguments;
             window.__TAURI_INTERNALS__.invoke(command, args)
               .then(ok => done({ok: ok === undefined ? null : ok}), e => done({code: e.code, message: e.message}));",
            json!([command, args]),
        )
    }

    /// [`App::invoke`] that must succeed: its result.
    pub fn ok(&self, command: &str, args: Value) -> Value {
        let out = self.invoke(command, args.clone());
        assert!(
            out.get("code").is_none(),
            "`{command}` {args} failed: {out}"
        );
        out["ok"].clone()
    }

    /// Saves a PNG of the screen (the app's window fills it) under the
    /// screenshot directory.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir().join(format!("{name}.png"));
        // Let the page paint what it just changed.
        std::thread::sleep(Duration::from_millis(300));
        let shot = Command::new("sh")
            .args([
                "-c",
                "xwd -root -silent -display \"$1\" | convert xwd:- \"png:$2\"",
                "sh",
            ])
            .arg(&self.display)
            .arg(&path)
            .status();
        assert!(
            shot.is_ok_and(|s| s.success()),
            "xwd | convert failed (Debian packages x11-apps, imagemagick)"
        );
        path
    }
}

/// Starts Xvfb on a display number it picks itself (`-displayfd`).
fn start_xvfb() -> (Child, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts (Debian package xvfb)");
    let mut out = child.stdout.take().expect("Xvfb's stdout");
    let mut number = String::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
        number.push(byte[0] as char);
    }
    assert!(!number.trim().is_empty(), "Xvfb did not say its display");
    (child, format!(":{}", number.trim()))
}

impl Drop for App {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self.agent.delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}
