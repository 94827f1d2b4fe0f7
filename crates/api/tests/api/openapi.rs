//! `/openapi.json`, `/docs`, `/redoc` and `/`: served by the binary, with nothing from a CDN, and
//! the served document is the committed docs/openapi.json.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = include_str!("../../../../docs/openapi.json");

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app().await;
    let served: Value = app.get("/openapi.json").await.expect(StatusCode::OK).clone();
    let committed: Value = serde_json::from_str(COMMITTED).expect("docs/openapi.json is JSON");
    assert!(
        served == committed,
        "docs/openapi.json is not what the code generates: run `cargo xtask openapi` and commit it"
    );
    assert_eq!(served["openapi"], "3.1.0");
}

#[tokio::test]
async fn the_document_lists_the_original_paths_with_their_security() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json").await.body;
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    for (path, method) in [
        ("/movies/bulk/", "post"),
        ("/auth/login/", "post"),
        ("/auth/register/", "post"),
        ("/users/nonAdmin/", "get"),
        ("/movies/{id}", "get"),
        ("/characters/count/", "get"),
    ] {
        assert!(op(path, method).is_object(), "{method} {path} is not documented");
    }
    let secured = op("/movies/bulk/", "post");
    assert_eq!(secured["security"][0]["bearer"], serde_json::json!([]));
    assert!(secured["responses"]["401"].is_object() && secured["responses"]["422"].is_object());
    assert!(op("/movies", "get")["security"].is_null(), "the movie list is public");
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/auth/token");
}

#[tokio::test]
async fn the_doc_pages_load_nothing_from_elsewhere() {
    let app = spawn_app().await;
    // `/docs` redirects to `/docs/`, which is not trimmed back (that would loop).
    for path in ["/docs", "/docs/", "/redoc", "/"] {
        let page = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let html = page.text().await.unwrap();
        assert!(!html.contains("http://") && !html.contains("https://"), "{path} links out");
    }
    let script = app.client.get(format!("{}/redoc/redoc.standalone.js", app.address));
    let script = script.send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.text().await.unwrap().len() > 100_000, "the ReDoc bundle is served whole");
    let post = app.client.post(format!("{}/openapi.json", app.address)).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.json::<Value>().await.unwrap()["detail"], "Method Not Allowed");
    let slashed = app.client.get(format!("{}/redoc/", app.address)).send().await.unwrap();
    assert_eq!((slashed.status(), slashed.url().path()), (StatusCode::OK, "/redoc"));
    let swagger = app.client.get(format!("{}/docs/swagger-ui-bundle.js", app.address));
    assert_eq!(swagger.send().await.unwrap().status(), StatusCode::OK);
    let missing = app.client.get(format!("{}/redoc/nothing/", app.address)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["detail"], "Not Found");
    let document = app.client.get(format!("{}/openapi.json/", app.address)).send().await.unwrap();
    assert_eq!(document.status(), StatusCode::NOT_FOUND, "the document has one address");
}
