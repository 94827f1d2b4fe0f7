//! `cargo xtask openapi`: writes the server's OpenAPI document to `docs/openapi.json`, as
//! `movies-api openapi` prints it (no server, no database). A test in `cargo test` fails when
//! the committed file and the code disagree; this is how to bring the file up to date.

use std::fs;
use std::process::Stdio;

/// Where the document goes, from the workspace root.
const OUTPUT: &str = "docs/openapi.json";

pub fn openapi(_: &[String]) -> Result<(), String> {
    let mut cmd = crate::cargo();
    cmd.args(["run", "--quiet", "-p", "movies-api", "--", "openapi"]).stderr(Stdio::inherit());
    let shown = crate::display(&cmd);
    let output = cmd.output().map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if !output.status.success() {
        return Err(format!("`{shown}` failed ({})", output.status));
    }
    let document = String::from_utf8(output.stdout)
        .map_err(|_| format!("`{shown}` printed something that is not UTF-8"))?;
    check_document(&document).map_err(|e| format!("`{shown}` printed {e}"))?;
    let path = crate::workspace_root().join(OUTPUT);
    let before = fs::read_to_string(&path).ok();
    if before.as_deref() == Some(document.as_str()) {
        println!("{OUTPUT} is up to date ({} bytes)", document.len());
        return Ok(());
    }
    fs::write(&path, &document).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let what = if before.is_some() { "updated" } else { "created" };
    println!("{what} {OUTPUT} ({} bytes, {} lines)", document.len(), document.lines().count());
    Ok(())
}

/// A cheap guard against writing a log line or an empty string over the document: one JSON
/// object naming its OpenAPI version, ending with a newline.
fn check_document(text: &str) -> Result<(), String> {
    let trimmed = text.trim();
    if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
        return Err("no JSON object".into());
    }
    if !trimmed.contains("\"openapi\"") {
        return Err("a JSON object without an \"openapi\" member".into());
    }
    if !text.ends_with("}\n") {
        return Err("a document without its final newline".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openapi_object_with_a_final_newline_passes() {
        assert!(check_document("{\n  \"openapi\": \"3.1.0\"\n}\n").is_ok());
    }

    #[test]
    fn anything_else_is_not_written() {
        assert!(check_document("").is_err());
        assert!(check_document("error: no such command\n").is_err());
        assert!(check_document("{\"info\": {}}\n").is_err());
        assert!(check_document("{\"openapi\": \"3.1.0\"}").is_err());
    }
}
