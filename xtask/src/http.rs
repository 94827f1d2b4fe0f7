//! Just enough HTTP/1.1 and JSON, over std only, for xtask to talk to a server it started on
//! 127.0.0.1: one request per connection (`Connection: close`), small bodies, no TLS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: the status code and the body as text.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Sends one request to `127.0.0.1:port` and reads the whole answer. `body`, when given, is sent
/// as `application/json`; `token`, when given, as `Authorization: Bearer`.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<Response, String> {
    let what = format!("{method} {path}");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("{what}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| format!("{what}: {e}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nAccept: application/json\r\n"
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| format!("{what}: {e}"))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| format!("{what}: {e}"))?;
    parse_response(&raw).map_err(|e| format!("{what}: {e}"))
}

/// Parses a whole HTTP/1.1 response, undoing chunked transfer encoding.
fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let chunked = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let rest = &raw[split + 4..];
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    Ok(Response { status, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size")?;
        let size_line = String::from_utf8_lossy(&rest[..end]);
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_line:?}"))?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("truncated chunk")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("truncated chunk")?;
    }
}

/// `text` as a JSON string literal, quotes included.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The string value of the first member named `key` in a flat JSON object, unescaped; `None`
/// when there is no such member or its value is not a string. Enough for `{"token": "..."}`.
pub fn json_string_field(json: &str, key: &str) -> Option<String> {
    let quoted = json_string(key);
    let mut from = 0;
    while let Some(found) = json[from..].find(&quoted) {
        let start = from + found;
        from = start + quoted.len();
        // A member name follows `{` or `,`; anything else is this text inside a value.
        if !json[..start].trim_end().ends_with(['{', ',']) {
            continue;
        }
        let value = json[from..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
        return unescape_until_quote(value);
    }
    None
}

fn unescape_until_quote(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_response_keeps_its_body() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        let response = parse_response(raw).unwrap();
        assert_eq!((response.status, response.body.as_str()), (200, "{}"));
    }

    #[test]
    fn a_chunked_response_is_reassembled() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n";
        let response = parse_response(raw).unwrap();
        assert_eq!((response.status, response.body.as_str()), (401, "{\"a\":1}"));
    }

    #[test]
    fn a_response_without_headers_end_is_refused() {
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(json_string("Amélie"), "\"Amélie\"");
    }

    #[test]
    fn a_string_member_is_found_by_its_exact_name() {
        let body = r#"{"access_token":"a.b.c","token":"x.y.z","token_type":"bearer"}"#;
        assert_eq!(json_string_field(body, "token").as_deref(), Some("x.y.z"));
        assert_eq!(json_string_field(body, "access_token").as_deref(), Some("a.b.c"));
        assert_eq!(json_string_field(body, "missing"), None);
    }

    #[test]
    fn a_member_name_inside_a_value_is_not_a_member() {
        let body = r#"{ "note": "say \"token", "token" : "t\u0041\"" }"#;
        assert_eq!(json_string_field(body, "token").as_deref(), Some("tA\""));
    }

    #[test]
    fn a_non_string_value_is_none() {
        assert_eq!(json_string_field(r#"{"token":null}"#, "token"), None);
    }
}
