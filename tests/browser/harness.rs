//! The browser harness: one `chromedriver` per test process (started on first use on
//! a free port, killed with the Chromium processes it started when the process
//! exits), a fresh headless Chromium session per browser, and helpers that wait for
//! what they need instead of sleeping.
//!
//! Outside CI a missing `chromium`/`chromedriver` skips the browser tests with a
//! printed reason; under `CI=true` it fails them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp, User, PASSWORD};

/// Debian's browser and driver; `DIGICON_CHROMIUM` and `DIGICON_CHROMEDRIVER` override.
fn chromium() -> String {
    std::env::var("DIGICON_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("DIGICON_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// How long to wait for an element or a page before failing.
/// The WebDriver key codes of Tab and Enter.
pub const TAB: &str = "\u{e004}";
pub const ENTER: &str = "\u{e007}";

pub const TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

struct Driver {
    url: String,
    chromium: String,
    /// Chromium profiles live here; the watchdog removes it.
    profiles: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_driver() -> Result<Driver, String> {
    let (chromium, chromedriver) = (chromium(), chromedriver());
    for binary in [&chromium, &chromedriver] {
        if !Path::new(binary).exists() {
            return Err(format!(
                "{binary} is missing (apt-get install -y chromium chromium-driver)"
            ));
        }
    }
    let dir = std::env::temp_dir().join(format!("digicon-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).map_err(|e| format!("{}: {e}", profiles.display()))?;
    let log = std::fs::File::create(dir.join("chromedriver.log")).map_err(|e| e.to_string())?;
    let port = free_port();
    let mut command = Command::new(&chromedriver);
    command
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    // Its own process group, so that the watchdog can stop the Chromium processes
    // it starts together with it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {chromedriver}: {e}"))?;
    let group = child.id();
    // Stop chromedriver and its browsers once this test process has gone, however it ends.
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         kill -TERM -{group} 2>/dev/null; sleep 1; kill -KILL -{group} 2>/dev/null; \
         rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the watchdog: {e}"))?;
    // Failure screenshots are of this run only.
    let _ = std::fs::remove_dir_all(screenshot_dir().join("failures"));
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let ready = ureq::get(&format!("{url}/status"))
            .timeout(Duration::from_secs(2))
            .call()
            .ok()
            .and_then(|r| r.into_json::<Value>().ok())
            .is_some_and(|v| v["value"]["ready"] == Value::Bool(true));
        if ready {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let log = std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default();
            return Err(format!("chromedriver did not become ready:\n{log}"));
        }
        std::thread::sleep(POLL);
    }
    Ok(Driver {
        url,
        chromium,
        profiles,
    })
}

/// The process's chromedriver, or why there is none.
fn driver() -> Result<&'static Driver, String> {
    static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();
    DRIVER
        .get_or_init(start_driver)
        .as_ref()
        .map_err(Clone::clone)
}

/// `target/screenshots` of this package (or of `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

/// One test: the app on a fresh SQLite database with the fixture organisation, and
/// the browsers it opened.
pub struct Ctx {
    pub app: TestApp,
    driver: &'static Driver,
    sessions: Mutex<Vec<Client>>,
}

/// Runs a browser test: starts the app and (once per process) chromedriver, runs
/// `test`, then closes every browser it opened, after saving a screenshot of each
/// when the test failed. Returns without running `test` when there is no browser
/// here outside CI.
pub fn browser_test(name: &str, test: impl AsyncFnOnce(&Ctx)) {
    let driver = match driver() {
        Ok(driver) => driver,
        Err(reason) => {
            crate::postgres::skip("the browser tests", &reason);
            return;
        }
    };
    let app = spawn_app(Backend::Sqlite).expect("sqlite app");
    let ctx = Ctx {
        app,
        driver,
        sessions: Mutex::new(Vec::new()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(test(&ctx))
    }));
    let sessions = std::mem::take(&mut *ctx.sessions.lock().expect("sessions"));
    let failed = outcome.is_err();
    runtime.block_on(async {
        for (n, client) in sessions.into_iter().enumerate() {
            if failed {
                save_failure_screenshot(&client, name, n).await;
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
    });
    drop(runtime);
    // The app (and its server thread) stops when `ctx` drops, outside the runtime.
    drop(ctx);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn save_failure_screenshot(client: &Client, name: &str, n: usize) {
    let url = client
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    if let Ok(png) = client.screenshot().await {
        let dir = screenshot_dir().join("failures");
        let path = dir.join(format!("{name}-{n}.png"));
        if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&path, png).is_ok() {
            eprintln!("browser {n} was at {url}; screenshot: {}", path.display());
        }
    }
}

impl Ctx {
    /// A fresh desktop-size browser (its own profile: no cookies shared with others).
    pub async fn browser(&self) -> Browser {
        self.open(DESKTOP, false).await
    }

    /// A fresh browser emulating a 390×844 phone screen.
    pub async fn phone(&self) -> Browser {
        self.open(PHONE, true).await
    }

    async fn open(&self, (width, height): (u32, u32), phone: bool) -> Browser {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let profile = self
            .driver
            .profiles
            .join(format!("profile-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
        let mut chrome = json!({
            "binary": self.driver.chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-dev-shm-usage",
                // A browser set up for Japanese, as the city's staff have.
                "--lang=ja",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        chrome["prefs"] = json!({ "intl.accept_languages": "ja,en-US,en" });
        if phone {
            chrome["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 3.0 },
            });
        }
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), chrome);
        // Leave dialogs open so that a test can see them (`alert_text`).
        capabilities.insert("unhandledPromptBehavior".into(), json!("ignore"));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.driver.url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session from {}: {e}", self.driver.url));
        self.sessions.lock().expect("sessions").push(client.clone());
        Browser {
            client,
            base: self.app.base.clone(),
            driver: self.driver.url.clone(),
        }
    }
}

/// One browser window on the app.
pub struct Browser {
    pub client: Client,
    pub base: String,
    /// The chromedriver's URL.
    driver: String,
}

fn css(selector: &str) -> Locator<'_> {
    Locator::Css(selector)
}

impl Browser {
    /// Opens a path of the app and waits until the page has loaded.
    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        self.wait_loaded().await;
    }

    /// Reloads the current page.
    pub async fn reload(&self) {
        self.mark_page().await;
        self.client.refresh().await.expect("reload");
        self.wait_new_page("a reload").await;
    }

    /// The path and query of the current page, e.g. `/consultations?view=mine`.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    async fn wait_loaded(&self) {
        self.wait_until(
            "the page to load",
            "return document.readyState === 'complete';",
        )
        .await;
    }

    /// Polls a JavaScript condition (a function body returning a boolean) until it
    /// holds, or fails the test after [`TIMEOUT`] saying what it waited for.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let started = Instant::now();
        loop {
            match self.client.execute(script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                Err(e) if e.is_unexpected_alert_open() => {
                    let text = self.client.get_alert_text().await.unwrap_or_default();
                    panic!("a JavaScript dialog opened while waiting for {what}: {text:?}")
                }
                // A navigation in progress may discard the script; try again.
                Err(e) if started.elapsed() > TIMEOUT => {
                    panic!("waiting for {what} on {}: {e}", self.path().await)
                }
                Err(_) => {}
            }
            if started.elapsed() > TIMEOUT {
                panic!(
                    "timed out after {TIMEOUT:?} waiting for {what} on {} ({})",
                    self.path().await,
                    self.describe().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Tags the current document so that [`Browser::wait_new_page`] can tell when
    /// another one has replaced it.
    async fn mark_page(&self) {
        self.client
            .execute("window.__digiconOldPage = true; return true;", vec![])
            .await
            .expect("mark the page");
    }

    async fn wait_new_page(&self, after: &str) {
        self.wait_until(
            &format!("a new page after {after}"),
            "return window.__digiconOldPage === undefined && document.readyState === 'complete';",
        )
        .await;
    }

    /// The element, waiting up to [`TIMEOUT`] for it to appear.
    pub async fn find(&self, selector: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(TIMEOUT)
            .every(POLL)
            .for_element(css(selector))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no `{selector}` on {} ({}): {e}",
                self.path().await,
                self.describe().await
            ),
        }
    }

    /// The page's title and first heading, to say in a failure where the test was.
    pub async fn describe(&self) -> String {
        self.client
            .execute(
                "const h = document.querySelector('h1');
                 return `title ${JSON.stringify(document.title)}, h1 ${JSON.stringify(h ? h.innerText : null)}`;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Opens the closed `<details>` around an element by clicking their summaries, as
    /// a user would before using a field inside.
    async fn reveal(&self, element: &Element) {
        let reference = serde_json::to_value(element).expect("element reference");
        let summaries = self
            .client
            .execute(
                "const out = [];
                 let d = arguments[0].closest('details:not([open])');
                 while (d) {
                   const s = d.querySelector(':scope > summary');
                   if (s) out.unshift(s);
                   d = d.parentElement ? d.parentElement.closest('details:not([open])') : null;
                 }
                 return out;",
                vec![reference],
            )
            .await
            .expect("find closed <details>");
        for summary in summaries.as_array().cloned().unwrap_or_default() {
            let id = summary
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|v| v.as_str())
                .expect("an element reference")
                .to_string();
            Element::from_element_id(self.client.clone(), id.into())
                .click()
                .await
                .expect("open <details>");
        }
    }

    /// The element, waiting for it and opening the `<details>` it is in.
    async fn usable(&self, selector: &str) -> Element {
        let element = self.find(selector).await;
        self.reveal(&element).await;
        element
    }

    /// Waits for an element to appear.
    pub async fn wait_for(&self, selector: &str) {
        self.find(selector).await;
    }

    /// Every element matching now (no waiting).
    pub async fn all(&self, selector: &str) -> Vec<Element> {
        self.client
            .find_all(css(selector))
            .await
            .unwrap_or_else(|e| panic!("find `{selector}`: {e}"))
    }

    /// Whether an element matches now (no waiting).
    pub async fn exists(&self, selector: &str) -> bool {
        !self.all(selector).await.is_empty()
    }

    /// An attribute of every element matching now, in document order.
    pub async fn attrs(&self, selector: &str, attribute: &str) -> Vec<String> {
        let mut values = Vec::new();
        for element in self.all(selector).await {
            values.push(
                element
                    .attr(attribute)
                    .await
                    .expect("attribute")
                    .unwrap_or_default(),
            );
        }
        values
    }

    /// An attribute of the element (waiting for it).
    pub async fn attr(&self, selector: &str, attribute: &str) -> Option<String> {
        self.find(selector)
            .await
            .attr(attribute)
            .await
            .expect("attribute")
    }

    /// The visible text of the element (waiting for it).
    pub async fn text(&self, selector: &str) -> String {
        self.find(selector).await.text().await.expect("text")
    }

    /// The current value of a form field (what the user sees in it).
    pub async fn value(&self, selector: &str) -> String {
        self.find(selector)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Clears a field and types into it.
    pub async fn fill(&self, selector: &str, text: &str) {
        let field = self.usable(selector).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear `{selector}`: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into `{selector}`: {e}"));
    }

    /// Sets a field's value from JavaScript (for `datetime-local`, whose typing is
    /// locale-dependent) and fires `input` and `change`.
    pub async fn set_value(&self, selector: &str, value: &str) {
        let field = self.usable(selector).await;
        let element = serde_json::to_value(&field).expect("element reference");
        self.client
            .execute(
                "arguments[0].value = arguments[1];
                 arguments[0].dispatchEvent(new Event('input', { bubbles: true }));
                 arguments[0].dispatchEvent(new Event('change', { bubbles: true }));
                 return arguments[0].value;",
                vec![element, json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("set `{selector}`: {e}"));
    }

    /// Chooses the option with this value in a `<select>`.
    pub async fn select(&self, selector: &str, value: &str) {
        self.usable(selector)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose `{value}` in `{selector}`: {e}"));
    }

    /// Clicks a link or submit button and waits for the next page to load.
    pub async fn click_and_wait(&self, selector: &str) {
        let element = self.usable(selector).await;
        self.mark_page().await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{selector}`: {e}"));
        self.wait_new_page(&format!("clicking `{selector}`")).await;
    }

    /// Types into whatever has the focus, as a keyboard would: text, and
    /// WebDriver keys such as `TAB` and `ENTER` below.
    pub async fn keys(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type {text:?}: {e}"));
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .attr("id")
            .await
            .expect("id")
            .unwrap_or_default()
    }

    /// Presses Enter on the focused element and waits for the page it leads to.
    pub async fn enter_and_wait(&self) {
        self.mark_page().await;
        self.keys(ENTER).await;
        self.wait_new_page("pressing Enter").await;
    }

    /// Logs in through the login form and waits for the page it leads to.
    pub async fn login(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("form#login-form input#email[name=email]", email)
            .await;
        self.fill("form#login-form input#password[name=password]", password)
            .await;
        self.click_and_wait("form#login-form button#login-submit")
            .await;
        if self.exists("form#login-form").await {
            let flash = self.flash_text().await;
            panic!("login of {email} failed, still on the login form: {flash:?}");
        }
    }

    /// Logs a fixture user in with the fixture password.
    pub async fn login_as(&self, user: &User) {
        self.login(&user.email, PASSWORD).await;
    }

    /// The text of the flash messages on the page, if any.
    pub async fn flash_text(&self) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.all(".flash").await {
            texts.push(element.text().await.unwrap_or_default());
        }
        texts
    }

    /// The `data-event`s of the action forms in `section#actions`, sorted.
    pub async fn actions(&self) -> Vec<String> {
        let mut events = self
            .attrs("section#actions form[data-event]", "data-event")
            .await;
        events.sort();
        events
    }

    /// Waits until `#state` shows a state, failing with the state and flash seen.
    pub async fn expect_state(&self, expected: &str) {
        let started = Instant::now();
        loop {
            let seen = self
                .attrs("#state[data-state]", "data-state")
                .await
                .into_iter()
                .next();
            if seen.as_deref() == Some(expected) {
                return;
            }
            if started.elapsed() > TIMEOUT {
                panic!(
                    "expected #state[data-state={expected}] on {} ({}), saw {seen:?}; flash: {:?}",
                    self.path().await,
                    self.describe().await,
                    self.flash_text().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of a JavaScript dialog open now, if any.
    pub async fn alert_text(&self) -> Option<String> {
        match self.client.get_alert_text().await {
            Ok(text) => Some(text),
            Err(e) if e.is_no_such_alert() => None,
            Err(e) => panic!("asking for an alert: {e}"),
        }
    }

    /// Saves a PNG of the whole page (not only the part in the window) to
    /// `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = match self.full_page_png().await {
            Some(png) => png,
            None => self.client.screenshot().await.expect("screenshot"),
        };
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// The page printed to PDF by Chromium (its print CSS and `@page` size), through
    /// the DevTools protocol's `Page.printToPDF`.
    pub async fn print_pdf(&self) -> Vec<u8> {
        let session = self
            .client
            .session_id()
            .await
            .expect("session")
            .expect("a session id");
        let endpoint = format!("{}/session/{session}/goog/cdp/execute", self.driver);
        let reply: Value = ureq::post(&endpoint)
            .timeout(Duration::from_secs(30))
            .send_json(json!({ "cmd": "Page.printToPDF",
                               "params": { "preferCSSPageSize": true, "printBackground": true } }))
            .expect("Page.printToPDF")
            .into_json()
            .expect("JSON");
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            reply["value"]["data"].as_str().expect("PDF data"),
        )
        .expect("base64")
    }

    /// The whole page through Chromium's DevTools protocol (chromedriver passes
    /// `goog/cdp/execute` on), at most 8,000 CSS pixels high.
    async fn full_page_png(&self) -> Option<Vec<u8>> {
        let session = self.client.session_id().await.ok()??;
        let endpoint = format!("{}/session/{session}/goog/cdp/execute", self.driver);
        let cdp = |cmd: &str, params: Value| -> Option<Value> {
            ureq::post(&endpoint)
                .timeout(TIMEOUT)
                .send_json(json!({ "cmd": cmd, "params": params }))
                .ok()?
                .into_json::<Value>()
                .ok()
                .map(|v| v["value"].clone())
        };
        let metrics = cdp("Page.getLayoutMetrics", json!({}))?;
        let size = &metrics["cssContentSize"];
        let (width, height) = (size["width"].as_f64()?, size["height"].as_f64()?);
        let shot = cdp(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height.min(8000.0), "scale": 1 },
            }),
        )?;
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str()?,
        )
        .ok()
    }
}

/// The list of a data attribute's values, sorted, for comparisons.
pub fn sorted(values: &[&str]) -> Vec<String> {
    let mut values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    values.sort();
    values
}
