//! The pages a person opens, in a real headless Chromium: Swagger UI at `/docs` lists the
//! operations and authorizes through the OAuth2 password form, ReDoc at `/redoc` lists them too,
//! and the live page at `/` connects to `/ws` and shows a new movie as it is created.
//!
//! Chromium is driven through the Chrome DevTools Protocol by the small client below. Every wait
//! is a promise inside the page that resolves once a DOM condition holds; its deadline only turns
//! a hang into a failure that shows the page's text.
//!
//! Every page runs under the Content-Security-Policy the server sends with it; a script in each
//! document collects the violations the browser reports, and each test checks there were none
//! (a blocked script or style would show there even when the page still seemed to work).
//!
//! Without Chromium (`$CHROMIUM`, else `chromium` on `PATH`) these tests pass with a note on
//! stderr, unless `REQUIRE_CHROMIUM` is set, as CI does.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, WsStream, open_ws, spawn_app};

/// How long a condition may take to hold in the page: only to turn a hang into a failure, never
/// a measure of how fast the page is.
const PATIENCE: Duration = Duration::from_secs(60);

/// How long Chromium may take to answer one DevTools call; longer than [`PATIENCE`] because a
/// wait is one call.
const CDP_PATIENCE: Duration = Duration::from_secs(90);

#[tokio::test]
async fn chromium_answers_through_the_devtools_protocol() {
    let Some(mut browser) = Browser::launch().await else { return };

    assert_eq!(browser.evaluate("1 + 1").await, json!(2));
    browser.navigate("data:text/html,<p id=greeting>Hello</p>").await;
    let text = browser
        .wait_for("the data page", "() => document.querySelector('#greeting')?.textContent")
        .await;
    assert_eq!(text, json!("Hello"));
}

#[tokio::test]
async fn swagger_ui_lists_the_operations() {
    let Some(mut browser) = Browser::launch().await else { return };
    let app = spawn_app().await;

    browser.navigate(&format!("{}/docs", app.address)).await;
    let operations = swagger_operations(&mut browser).await;

    for expected in ["POST /movies/bulk/", "POST /auth/login/", "GET /movies/{id}"] {
        assert!(
            operations.iter().any(|o| o == expected),
            "Swagger UI does not list {expected}; it lists {operations:?}"
        );
    }
    let authorize = browser
        .evaluate("document.querySelector('button.btn.authorize')?.textContent.trim() ?? null")
        .await;
    assert_eq!(authorize, json!("Authorize"), "no Authorize button in Swagger UI");
    browser.assert_all_requests_stayed_on_the_server().await;
    browser.assert_no_policy_violations().await;
}

#[tokio::test]
async fn swagger_ui_authorizes_with_the_oauth2_password_form() {
    let Some(mut browser) = Browser::launch().await else { return };
    let app = spawn_app().await;

    browser.navigate(&format!("{}/docs", app.address)).await;
    browser
        .wait_for("the Authorize button", "() => !!document.querySelector('button.btn.authorize')")
        .await;
    browser.evaluate("document.querySelector('button.btn.authorize').click()").await;
    browser
        .wait_for("the password form", "() => !!document.querySelector('#oauth_username')")
        .await;

    // Swagger UI is React: a field only counts once an `input` event says it changed, and the
    // value must go through the native setter for React to see it as new.
    let fill_and_submit = format!(
        r#"(() => {{
            const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
            const fill = (selector, value) => {{
                const input = document.querySelector(selector);
                setter.call(input, value);
                input.dispatchEvent(new Event('input', {{ bubbles: true }}));
            }};
            fill('#oauth_username', {username});
            fill('#oauth_password', {password});
            document.querySelector('#oauth_username').closest('.auth-container')
                .querySelector('button.authorize').click();
        }})()"#,
        username = json!(ADMIN),
        password = json!(ADMIN_PASSWORD),
    );
    browser.evaluate(&fill_and_submit).await;

    let outcome = browser
        .wait_for(
            "the password form to show it is authorized, or an error",
            r"() => {
                const form = [...document.querySelectorAll('.auth-container')]
                    .find(c => c.textContent.includes('OAuth2, password'));
                const buttons = [...(form?.querySelectorAll('button') ?? [])];
                if (buttons.some(b => b.textContent.trim() === 'Logout')) return 'authorized';
                const errors = form?.querySelector('.errors');
                return errors ? 'error: ' + errors.innerText : null;
            }",
        )
        .await;
    assert_eq!(outcome, json!("authorized"), "Swagger UI did not authorize as {ADMIN}");
    browser.assert_no_policy_violations().await;
}

#[tokio::test]
async fn redoc_lists_the_operations() {
    let Some(mut browser) = Browser::launch().await else { return };
    let app = spawn_app().await;

    browser.navigate(&format!("{}/redoc", app.address)).await;
    // ReDoc writes each operation's method and path in the right-hand panel: the method in a
    // `.http-verb` element, the path in the element after it.
    let operations = browser
        .wait_for(
            "ReDoc to render operations",
            r"() => {
                const verbs = [...document.querySelectorAll('.http-verb')];
                const operations = verbs.map(verb =>
                    verb.textContent.trim().toUpperCase() + ' '
                        + (verb.nextElementSibling?.textContent.trim() ?? ''));
                return operations.length > 0 ? operations : null;
            }",
        )
        .await;
    let operations = strings(&operations);

    for expected in ["POST /movies/bulk/", "POST /auth/login/", "GET /movies/{id}"] {
        assert!(
            operations.iter().any(|o| o == expected),
            "ReDoc does not list {expected}; it lists {operations:?}"
        );
    }
    browser.assert_all_requests_stayed_on_the_server().await;
    browser.assert_no_policy_violations().await;
}

#[tokio::test]
async fn live_page_shows_a_new_movie() {
    let Some(mut browser) = Browser::launch().await else { return };
    let app = spawn_app().await;
    app.create_movie("Already There", 1999).await;

    browser.navigate(&format!("{}/", app.address)).await;
    browser
        .wait_for(
            "#status to say connected",
            "() => document.querySelector('#status')?.textContent.trim() === 'connected'",
        )
        .await;
    browser
        .wait_for(
            "#movies to list the movie created before the page opened",
            "() => document.querySelector('#movies')?.textContent.includes('Already There')",
        )
        .await;

    let name = format!("Seen Live {:08x}", rand::random::<u32>());
    app.create_movie(&name, 2024).await;

    let event = browser
        .wait_for(
            &format!("an #events item naming {name}"),
            &format!(
                "() => [...document.querySelectorAll('#events li')]
                    .map(li => li.textContent).find(text => text.includes({name})) ?? null",
                name = json!(name),
            ),
        )
        .await;
    assert!(event.as_str().is_some_and(|e| e.contains(&name)), "unexpected event item {event}");
    browser.assert_all_requests_stayed_on_the_server().await;
    browser.assert_no_policy_violations().await;
}

/// Waits until Swagger UI shows its operations (opening any collapsed tag) and returns each as
/// `METHOD /path`.
async fn swagger_operations(browser: &mut Browser) -> Vec<String> {
    browser
        .wait_for(
            "Swagger UI to render its tags or operations",
            "() => !!document.querySelector('.opblock-tag, .opblock')",
        )
        .await;
    browser
        .evaluate(
            r#"document.querySelectorAll('.opblock-tag[data-is-open="false"]')
                .forEach(tag => tag.click())"#,
        )
        .await;
    let operations = browser
        .wait_for(
            "Swagger UI to render operations",
            r"() => {
                const blocks = [...document.querySelectorAll('.opblock')];
                const operations = blocks.map(block => {
                    const method = block.querySelector('.opblock-summary-method');
                    const path = block.querySelector('.opblock-summary-path');
                    // The path's text has zero-width spaces for line breaks; the attribute not.
                    const text = path?.getAttribute('data-path')
                        ?? path?.textContent.replace(/\u200b/g, '') ?? '';
                    return (method?.textContent.trim() ?? '') + ' ' + text.trim();
                });
                return operations.length > 0 ? operations : null;
            }",
        )
        .await;
    strings(&operations)
}

/// The strings of a JSON array.
#[track_caller]
fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().unwrap_or_else(|| panic!("expected an array, got {value}"));
    items.iter().map(|item| item.as_str().unwrap_or_default().to_owned()).collect()
}

/// A headless Chromium with one page, killed on drop.
struct Browser {
    page: Cdp,
    // Fields drop in this order: the connection, then the process, then its profile directory.
    _process: Killed,
    _profile: TempDir,
}

/// Runs first in every document: collects the Content-Security-Policy violations it reports.
const COLLECT_VIOLATIONS: &str = r"
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', e => window.__violations.push(
        e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at '
            + e.sourceFile + ':' + e.lineNumber));
";

impl Browser {
    /// Fails if the page's Content-Security-Policy blocked anything in it.
    async fn assert_no_policy_violations(&mut self) {
        let violations = self.evaluate("window.__violations ?? 'not collected'").await;
        assert_eq!(violations, json!([]), "the page's Content-Security-Policy blocked something");
    }

    /// Fails if the page fetched anything (script, style, font, image) from another origin.
    async fn assert_all_requests_stayed_on_the_server(&mut self) {
        let elsewhere = self
            .evaluate(
                "performance.getEntriesByType('resource').map(e => e.name)
                    .filter(url => !url.startsWith(location.origin) && !url.startsWith('data:'))",
            )
            .await;
        assert_eq!(elsewhere, json!([]), "the page loaded resources from elsewhere");
    }

    /// Starts Chromium on `about:blank` and connects to its page; `None` (after saying why on
    /// stderr) when there is no Chromium and `REQUIRE_CHROMIUM` is unset.
    async fn launch() -> Option<Self> {
        let Some(binary) = chromium_binary() else {
            assert!(
                std::env::var_os("REQUIRE_CHROMIUM").is_none(),
                "chromium not found ($CHROMIUM or `chromium` on PATH) and REQUIRE_CHROMIUM is set"
            );
            eprintln!(
                "skipping: chromium not found ($CHROMIUM or `chromium` on PATH); \
                 set REQUIRE_CHROMIUM to make this a failure"
            );
            return None;
        };
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let mut child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                "--remote-debugging-port=0",
                // As on a machine with no internet: every host but the test server's fails to
                // resolve, so a page that needed a CDN would not render.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
        let stderr = child.stderr.take().expect("stderr is piped");
        // From here on, Chromium is killed however this function ends.
        let process = Killed(child);

        // Chromium names its port on stderr; a thread reads it, then keeps draining stderr so
        // that Chromium never blocks on a full pipe.
        let (found, listening) = oneshot::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    if let Some(found) = found.take() {
                        let _ = found.send(url.trim().to_owned());
                    }
                } else if found.is_some() {
                    seen.lock().expect("the log lock").push(line);
                }
            }
        });
        let browser_url = match tokio::time::timeout(CDP_PATIENCE, listening).await {
            Ok(Ok(url)) => url,
            outcome => {
                let why = match outcome {
                    Err(_) => format!("did not say where DevTools listens within {CDP_PATIENCE:?}"),
                    Ok(_) => "ended without saying where DevTools listens".to_owned(),
                };
                let log = log.lock().expect("the log lock").join("\n");
                panic!("{} {why}; its stderr:\n{log}", binary.display());
            }
        };
        let mut page = Cdp::connect(page_target(&browser_url).await.as_str()).await;
        page.call("Page.enable", json!({})).await;
        page.call("Page.addScriptToEvaluateOnNewDocument", json!({ "source": COLLECT_VIOLATIONS }))
            .await;
        Some(Self { page, _process: process, _profile: profile })
    }

    /// Opens `url` in the page; panics if the navigation fails outright.
    async fn navigate(&mut self, url: &str) {
        let result = self.page.call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = result.get("errorText") {
            panic!("navigating to {url} failed: {error}");
        }
        // The reply can come before the new document runs: wait until it is the one shown.
        self.wait_for(
            "the new document",
            "() => location.href !== 'about:blank' && document.readyState !== 'loading'",
        )
        .await;
    }

    /// The value of a JavaScript expression in the page (a promise is awaited); panics, showing
    /// the expression, if it throws or rejects.
    async fn evaluate(&mut self, expression: &str) -> Value {
        self.try_evaluate(expression).await.unwrap_or_else(|error| {
            panic!("the page threw {error}\nwhile evaluating:\n{expression}")
        })
    }

    /// The value of a JavaScript expression in the page (a promise is awaited), or what it threw
    /// or rejected with.
    async fn try_evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let params = json!({
            "expression": expression,
            "awaitPromise": true,
            "returnByValue": true,
        });
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut result = loop {
            match self.page.try_call("Runtime.evaluate", params.clone()).await {
                Ok(result) => break result,
                // A navigation replaced the document the expression ran in (or its replacement
                // has no context yet): run it again in the new one.
                Err(error)
                    if is_navigation_error(&error) && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("Runtime.evaluate failed: {error}"),
            }
        };
        match result.get("exceptionDetails") {
            Some(details) => Err(details["exception"]["description"]
                .as_str()
                .map_or_else(|| details.to_string(), str::to_owned)),
            None => Ok(result["result"]["value"].take()),
        }
    }

    /// Waits until `condition`, a JavaScript function of the DOM, returns something truthy in the
    /// page, and returns that (so it must be JSON, not an element); checked now and again after
    /// every change of the document. After [`PATIENCE`] it fails, naming `what` and showing the
    /// start of the page's text.
    async fn wait_for(&mut self, what: &str, condition: &str) -> Value {
        let millis = PATIENCE.as_millis();
        let what = json!(what);
        let expression = format!(
            r"new Promise((resolve, reject) => {{
                const condition = {condition};
                const check = () => {{
                    let value;
                    try {{ value = condition(); }} catch (e) {{ value = null; }}
                    if (!value) return;
                    observer.disconnect();
                    clearTimeout(timer);
                    resolve(value);
                }};
                const observer = new MutationObserver(check);
                const timer = setTimeout(() => {{
                    observer.disconnect();
                    const text = document.body ? document.body.innerText.slice(0, 2000) : '';
                    reject(new Error('waited {millis} ms for ' + {what}
                        + ' at ' + location.href + '; the page says:\n' + text));
                }}, {millis});
                const changes = {{ subtree: true, childList: true, characterData: true }};
                observer.observe(document, {{ ...changes, attributes: true }});
                check();
            }})"
        );
        self.try_evaluate(&expression).await.unwrap_or_else(|error| panic!("{error}"))
    }
}

/// The errors of an evaluation that a navigation cut short.
fn is_navigation_error(error: &Value) -> bool {
    let message = error["message"].as_str().unwrap_or_default();
    ["Execution context was destroyed", "Cannot find default execution context", "navigated"]
        .iter()
        .any(|m| message.contains(m))
}

/// A child process, killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `$CHROMIUM` (a path, or a name to look up on `PATH`), else `chromium` on `PATH`, if that file
/// exists.
fn chromium_binary() -> Option<PathBuf> {
    let name = PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "chromium".into()));
    if name.components().count() > 1 {
        return Some(name).filter(|path| path.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(&name)).find(|path| path.is_file())
}

/// The DevTools WebSocket URL of the browser's page, from `/json/list` of the browser whose
/// endpoint is `browser_url` (`ws://127.0.0.1:PORT/devtools/browser/...`).
async fn page_target(browser_url: &str) -> String {
    let host = browser_url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("an unexpected DevTools address {browser_url}"));
    let list = format!("http://{host}/json/list");
    // The page may be listed a moment after the endpoint opens: ask again until it is.
    let ask = async {
        loop {
            let targets: Value = reqwest::get(&list)
                .await
                .and_then(reqwest::Response::error_for_status)
                .unwrap_or_else(|e| panic!("GET {list}: {e}"))
                .json()
                .await
                .unwrap_or_else(|e| panic!("GET {list} is not JSON: {e}"));
            let page = targets.as_array().and_then(|targets| {
                targets.iter().find(|t| t["type"] == "page")?["webSocketDebuggerUrl"].as_str()
            });
            if let Some(page) = page {
                return page.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(CDP_PATIENCE, ask)
        .await
        .unwrap_or_else(|_| panic!("no page target in {list} within {CDP_PATIENCE:?}"))
}

/// A Chrome DevTools Protocol connection to one target: one call at a time, events ignored.
struct Cdp {
    socket: WsStream,
    last_id: u64,
}

impl Cdp {
    async fn connect(url: &str) -> Self {
        let socket = open_ws(url, CDP_PATIENCE)
            .await
            .unwrap_or_else(|e| panic!("connecting to DevTools at {url}: {e}"));
        Self { socket, last_id: 0 }
    }

    /// Sends `method` with `params` and returns the `result` of the reply with the same id;
    /// panics on a protocol error.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    /// Like [`Cdp::call`], but a protocol error (`{"code", "message"}`) is returned.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.last_id += 1;
        let id = self.last_id;
        let request = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(request.to_string()))
            .await
            .expect("a DevTools call is sent");
        loop {
            let next = tokio::time::timeout(CDP_PATIENCE, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method} within {CDP_PATIENCE:?}"));
            let text = match next {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("the DevTools connection failed during {method}: {e}"),
                None => panic!("the DevTools connection closed during {method}"),
            };
            let mut reply: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("DevTools sent something that is not JSON ({e}): {text}")
            });
            if reply["id"] != id {
                continue;
            }
            if let Some(error) = reply.get_mut("error") {
                return Err(error.take());
            }
            return Ok(reply["result"].take());
        }
    }
}
