//! The security headers of every response: `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer`, and a `Content-Security-Policy`. API answers (JSON, text) get
//! the strictest policy, which lets a browser run nothing from them; each page for people (`/`,
//! `/docs`, `/redoc`) sets its own, as strict as that page allows (docs/operations.md says what
//! each one allows and why), and the outer layer keeps it.

use axum::http::{HeaderName, HeaderValue, Request, Response, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use super::after::{AfterLayer, Step};

/// The policy of every answer that is not a page: nothing may run, load or frame it.
pub const API_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The one inline style of Swagger UI (5.32): the `<style>` inside the SVG logo of its top bar,
/// which its standalone preset renders.
const SWAGGER_LOGO_STYLE: &str =
    ".logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}";

/// Swagger UI (`/docs`): its scripts and styles are files of its own, but for its logo's style,
/// allowed by its hash; it shows data: images (icons in its CSS) and calls the API on this
/// origin.
pub fn swagger_policy() -> HeaderValue {
    let logo = sha256_source(SWAGGER_LOGO_STYLE);
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self' {logo}; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'self'"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(API_POLICY))
}

/// ReDoc (`/redoc`): its script is a file; it writes its styles into `<style>` elements at run
/// time (styled-components), which no hash can cover, hence `'unsafe-inline'` for styles (and for
/// styles only); it runs its search in a worker made from a `blob:` URL.
pub const REDOC_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// The layer that adds the headers to every response: `nosniff` and the referrer policy replace
/// any a handler set; the API policy goes only where a page did not set its own. One step, not
/// tower-http's `SetResponseHeaderLayer` three times, each a service and a future around all
/// the rest.
pub(crate) fn security_headers() -> AfterLayer<SecurityHeaders> {
    AfterLayer(SecurityHeaders)
}

/// See [`security_headers`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct SecurityHeaders;

impl Step for SecurityHeaders {
    type Noted = ();

    fn request<B>(&self, _: &Request<B>) {}

    fn response<B>((): (), response: &mut Response<B>) {
        let headers = response.headers_mut();
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(API_POLICY));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
}

/// A layer that gives every response of the routes it wraps the page policy `policy`.
pub fn page_policy(policy: HeaderValue) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, policy)
}

/// The policy of the live page `html`: its inline `<script>` and `<style>` elements, allowed by
/// their hashes (computed here, so an edit of the page cannot leave the policy stale); it calls
/// the API and `/ws` on this origin.
pub fn live_page_policy(html: &str) -> HeaderValue {
    let scripts = hashes(html, "script").join(" ");
    let styles = hashes(html, "style").join(" ");
    let policy = format!(
        "default-src 'none'; script-src {scripts}; style-src {styles}; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(API_POLICY))
}

/// `'sha256-...'` of the text of each `<tag>` element of `html` written without attributes
/// (`<script>`, not `<script src=...>`).
fn hashes(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        found.push(sha256_source(&body[..end]));
        rest = &body[end + close.len()..];
    }
    if found.is_empty() {
        found.push("'none'".to_owned());
    }
    found
}

/// `'sha256-...'`: the source expression that allows the inline element whose text is `text`.
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The names of the headers every response carries, for tests.
pub const ON_EVERY_RESPONSE: [HeaderName; 3] =
    [header::X_CONTENT_TYPE_OPTIONS, header::REFERRER_POLICY, header::CONTENT_SECURITY_POLICY];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_inline_element_gets_the_hash_of_its_text() {
        let html = "<style>a{}</style><script src=x></script><script>alert(1)</script>";
        // printf 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            hashes(html, "script"),
            ["'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"]
        );
        assert_eq!(hashes(html, "style").len(), 1);
        assert_eq!(hashes("<p>", "script"), ["'none'"]);
    }

    #[test]
    fn swagger_ui_may_style_its_logo_and_nothing_else_inline() {
        let policy = swagger_policy();
        let policy = policy.to_str().unwrap();
        // printf '%s' "$SWAGGER_LOGO_STYLE" | openssl dgst -sha256 -binary | base64
        let logo = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";
        assert!(policy.contains(&format!("style-src 'self' {logo};")), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
    }

    #[test]
    fn the_live_page_policy_names_its_script_and_style() {
        let policy = live_page_policy(include_str!("../../assets/index.html"));
        let policy = policy.to_str().unwrap();
        assert!(policy.contains("script-src 'sha256-"), "{policy}");
        assert!(policy.contains("style-src 'sha256-"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
    }
}
