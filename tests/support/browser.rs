//! A real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), behind a small blocking facade so that a browser test reads like
//! the other tests: open a page, fill a field, press a key, read what is shown.
//!
//! Each [`Browser`] runs its own `chromedriver` on a free loopback port and kills it when
//! dropped; each [`Page`] is one browser session with its own cookies (two pages are two
//! people). Screenshots go to `target/browser-screenshots/`, kept as test artefacts.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    driver: Child,
    url: String,
    runtime: tokio::runtime::Runtime,
}

/// Where the driver is: `CHROMEDRIVER` or Debian's path.
fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_string())
}

impl Browser {
    pub fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver)");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Browser {
            driver,
            url,
            runtime,
        }
    }

    /// A new browser session (its own profile and cookies), `width` x `height` pixels,
    /// asking for pages in `language` first.
    pub fn page(&self, width: u32, height: u32, language: &str) -> Page<'_> {
        let chrome = serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
                format!("--lang={language}"),
            ],
            "prefs": { "intl.accept_languages": language },
        });
        let mut chrome = chrome;
        if width < 500 {
            // A desktop window is never narrower than 500 px: a phone is emulated.
            chrome["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1 },
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), chrome);
        let client = self
            .runtime
            .block_on(async {
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&self.url)
                    .await
            })
            .expect("a Chromium session");
        Page {
            browser: self,
            client,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub struct Page<'b> {
    browser: &'b Browser,
    client: Client,
}

impl Page<'_> {
    fn run<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.browser.runtime.block_on(work)
    }

    pub fn goto(&self, url: &str) {
        self.run(self.client.goto(url)).expect("the page loads");
    }

    /// The path and query the browser shows now.
    pub fn location(&self) -> String {
        let url = self.run(self.client.current_url()).unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The page's text as a person sees it (rendered, not the markup).
    pub fn text(&self) -> String {
        self.text_of("body")
    }

    /// Waits until the page shows `needle` (after a click or a key that loads a page), and
    /// returns its text then.
    pub fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Mid-navigation the body may be gone: read again.
            let shown = self.run(async {
                let body = self.client.find(Locator::Css("body")).await.ok()?;
                body.text().await.ok()
            });
            if let Some(text) = shown.filter(|t| t.contains(needle)) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never shown, at {}: {}",
                self.location(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn text_of(&self, css: &str) -> String {
        let found = self.run(self.client.find(Locator::Css(css)));
        let element = found.unwrap_or_else(|e| panic!("{css} on the page: {e}"));
        self.run(element.text()).unwrap()
    }

    pub fn count(&self, css: &str) -> usize {
        self.run(self.client.find_all(Locator::Css(css)))
            .unwrap()
            .len()
    }

    pub fn source(&self) -> String {
        self.run(self.client.source()).unwrap()
    }

    pub fn click(&self, css: &str) {
        let element = self
            .run(self.client.find(Locator::Css(css)))
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"));
        self.run(element.click()).expect("clickable");
    }

    /// Types `text` into the field `css` (after clearing it).
    pub fn fill(&self, css: &str, text: &str) {
        let element = self
            .run(self.client.find(Locator::Css(css)))
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"));
        self.run(element.clear()).unwrap();
        self.run(element.send_keys(text)).unwrap();
    }

    /// Types into whatever has the focus now (as a person does after a shortcut).
    pub fn type_here(&self, text: &str) {
        let element = self.run(self.client.active_element()).unwrap();
        self.run(element.send_keys(text)).unwrap();
    }

    /// Presses one key on the page, as the keyboard does (not into a field).
    pub fn press(&self, key: char) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.run(self.client.perform_actions(keys))
            .expect("the key is pressed");
    }

    pub fn is_checked(&self, css: &str) -> bool {
        let element = self.run(self.client.find(Locator::Css(css))).unwrap();
        self.run(element.is_selected()).unwrap()
    }

    /// The text of the open confirmation, accepted.
    pub fn accept_confirmation(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = self.run(self.client.get_alert_text()) {
                self.run(self.client.accept_alert()).unwrap();
                return text;
            }
            assert!(Instant::now() < deadline, "no confirmation was asked");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the browser is at `path` (a navigation started by a click or a key).
    pub fn wait_for_location(&self, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let at = self.location();
            if matches(&at) {
                return at;
            }
            assert!(Instant::now() < deadline, "still at {at}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `script` in the page (an async function body whose last argument is the
    /// callback), and returns what it passed back.
    pub fn run_async_script(&self, script: &str) -> serde_json::Value {
        self.run(self.client.execute_async(script, vec![]))
            .expect("the script runs")
    }

    /// Runs `script` (a function body) in the page; what it returned.
    pub fn script(&self, script: &str) -> serde_json::Value {
        self.run(self.client.execute(script, vec![]))
            .expect("the script runs")
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.run(self.client.set_window_size(width, height))
            .unwrap();
    }

    /// Saves a screenshot of the whole window as `target/browser-screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let png = self.run(self.client.screenshot()).expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = super::repo_path("target/browser-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Page<'_> {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self.browser.runtime.block_on(client.close());
    }
}
