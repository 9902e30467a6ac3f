//! A WebDriver client for the browser tests: Debian's `chromium` driven headless through
//! `chromedriver` (`.ci/run` installs both), over the WebDriver protocol's JSON (W3C).

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver with one browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

/// An element's WebDriver id.
pub struct Element(String);

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Keys as WebDriver names them.
pub const CONTROL: char = '\u{E009}';
pub const ENTER: char = '\u{E007}';
pub const RELEASE: char = '\u{E000}';

impl Browser {
    /// Starts chromedriver and a headless Chromium; panics with what to install if missing.
    pub fn start() -> Browser {
        let driver_bin =
            std::env::var("BROOKLET_CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
        let chromium = std::env::var("BROOKLET_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&driver_bin).exists() && std::path::Path::new(&chromium).exists(),
            "the browser tests need Chromium and ChromeDriver: apt-get install chromium chromium-driver \
             (.ci/run installs them), or BROOKLET_CHROMIUM and BROOKLET_CHROMEDRIVER"
        );
        let port = free_port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"]}}}});
        let v = b.call("POST", "/session", caps);
        b.session = v["sessionId"].as_str().expect("a session").to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "GET" {
            String::new()
        } else {
            body.to_string()
        };
        let (status, text) = request(&self.addr, method, path, &body);
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(status, 200, "WebDriver {method} {path}: {text}");
        v["value"].clone()
    }

    fn session(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn open(&self, url: &str) {
        self.session("POST", "/url", json!({"url": url}));
    }

    /// The first element `css` selects, once there is one (30 s at most).
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(css, |_| true)
    }

    /// Waits until `css` selects an element whose text satisfies `ok` (30 s at most).
    pub fn wait_for(&self, css: &str, ok: impl Fn(&str) -> bool) -> Element {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.session(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            );
            let mut seen = Vec::new();
            for e in found.as_array().into_iter().flatten() {
                let e = Element(e[ELEMENT].as_str().unwrap().to_string());
                let text = self.text(&e);
                if ok(&text) {
                    return e;
                }
                seen.push(text);
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} as expected (seen: {seen:?}); page: {}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many elements `css` selects.
    pub fn count(&self, css: &str) -> usize {
        let found = self.session(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": css}),
        );
        found.as_array().map_or(0, Vec::len)
    }

    pub fn text(&self, e: &Element) -> String {
        self.session("GET", &format!("/element/{}/text", e.0), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn click(&self, e: &Element) {
        self.session("POST", &format!("/element/{}/click", e.0), json!({}));
    }

    /// Types `keys` into `e` (WebDriver key characters included).
    pub fn type_into(&self, e: &Element, keys: &str) {
        self.session(
            "POST",
            &format!("/element/{}/value", e.0),
            json!({"text": keys}),
        );
    }

    /// Accepts the dialog the page opened (`confirm`), once it is open (10 s at most).
    pub fn accept_dialog(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let path = format!("/session/{}/alert/text", self.session);
        loop {
            let (status, text) = request(&self.addr, "GET", &path, "");
            if status == 200 {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                self.session("POST", "/alert/accept", json!({}));
                return v["value"].as_str().unwrap_or_default().to_string();
            }
            assert!(Instant::now() < deadline, "no dialog opened: {text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `script` in the page and returns its value.
    pub fn script(&self, script: &str) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    pub fn page_text(&self) -> String {
        self.script("return document.body.innerText;")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Makes the browser's network as slow as a link of `latency_ms` round trips and
    /// `bytes_per_second` each way (ChromeDriver's network conditions).
    pub fn throttle(&self, latency_ms: u64, bytes_per_second: u64) {
        self.session(
            "POST",
            "/chromium/network_conditions",
            json!({"network_conditions": {"offline": false, "latency": latency_ms,
                "download_throughput": bytes_per_second, "upload_throughput": bytes_per_second}}),
        );
    }

    /// The page as a PNG, written to `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let png = self.session("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = request(&self.addr, "DELETE", &path, "");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request to chromedriver; its answer is read by its `Content-Length` (chromedriver says
/// `Connection: close` and keeps the connection open).
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}
