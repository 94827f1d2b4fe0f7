//! The rules of text (issue 15): names refuse what cannot be seen and are compared in NFC form,
//! free text keeps line breaks and tabs only, `q` matches literally, and a NUL anywhere is a 422.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{names, spawn_app};

#[tokio::test]
async fn names_refuse_control_bidirectional_and_zero_width_characters_naming_the_field() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    let hidden = [
        "Al\u{0}ien",
        "Alien\u{7}",
        "Ali\nen",
        "gpj.\u{202E}exe",
        "A\u{2066}lien",
        "Al\u{200B}ien",
        "\u{FEFF}Alien",
    ];
    for name in hidden {
        let movie = app.post_json("/movies", &json!({ "name": name, "year": 1979 })).await;
        assert_eq!(movie.expect_invalid(), [json!(["body", "name"])], "{name:?}");
        let body = json!({ "name": name, "movieName": "Alien" });
        let character = app.post_json("/characters", &body).await;
        assert_eq!(character.expect_invalid(), [json!(["body", "name"])], "{name:?}");
    }
    assert_eq!(app.movie_count().await, 1, "nothing stored");
}

#[tokio::test]
async fn names_are_compared_in_nfc_form() {
    let app = spawn_app().await;
    let composed = app.create_movie("Am\u{e9}lie", 2001).await;
    assert_eq!(composed["name"], "Am\u{e9}lie");
    let decomposed = json!({ "name": "Ame\u{301}lie", "year": 2001 });
    app.post_json("/movies", &decomposed).await.expect_error(StatusCode::CONFLICT);
    let stored = app.create_movie("Zoe\u{308}", 2001).await;
    assert_eq!(stored["name"], "Zo\u{eb}", "stored in NFC");
    // Looked up and searched by the same form, however it was typed.
    app.create_character("Nino", "Ame\u{301}lie").await;
    assert_eq!(names(app.get("/movies?q=me\u{301}li").await.items()), ["Am\u{e9}lie"]);
    let by_movie = app.get("/characters?movieName=Ame%CC%81lie").await;
    assert_eq!(names(by_movie.items()), ["Nino"]);
}

#[tokio::test]
async fn descriptions_keep_line_breaks_and_tabs_but_no_other_control_character() {
    let app = spawn_app().await;
    let text = "Line one\r\nLine two\tafter a tab";
    let body = json!({ "name": "Alien", "year": 1979, "description": text });
    assert_eq!(app.create_movie_from(&body).await["description"], text);
    for bad in ["bell\u{7}", "escape \u{1b}[31m red", "next line \u{85}"] {
        let body = json!({ "name": "Aliens", "year": 1986, "description": bad });
        let reply = app.post_json("/movies", &body).await;
        assert_eq!(reply.expect_invalid(), [json!(["body", "description"])], "{bad:?}");
    }
}

#[tokio::test]
async fn a_nul_anywhere_is_a_422() {
    let app = spawn_app().await;
    app.create_movie("Alien", 1979).await;
    for path in ["/movies?q=%00", "/movies?q=ali%00en", "/movies?genre=%00", "/characters?q=%00"] {
        let reply = app.get(path).await;
        assert_eq!(reply.expect_invalid().len(), 1, "{path}");
    }
    let login = json!({ "username": "admin", "hashedPassword": "x\u{0}y" });
    let reply = app.call(None, Method::POST, "/auth/login/", Some(&login)).await;
    assert_eq!(reply.expect_invalid(), [json!(["body", "hashedPassword"])]);
    // An escaped backslash followed by `u0000` is text, not a NUL.
    let body = r#"{"name": "back\\u0000slash", "year": 1979}"#;
    assert_eq!(
        app.post_raw_json("/movies", body).await.expect(StatusCode::OK)["name"],
        "back\\u0000slash"
    );
    let form = app
        .request_as(None, Method::POST, "/auth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=admin&password=a%00b");
    assert_eq!(app.send(form).await.expect_invalid(), [json!(["body", "password"])]);
}

#[tokio::test]
async fn q_matches_its_text_literally() {
    let app = spawn_app().await;
    for name in ["100% Wolf", "Alien", "My_Movie", "MyXMovie"] {
        app.create_movie(name, 2000).await;
    }
    assert_eq!(names(app.get("/movies?q=%25").await.items()), ["100% Wolf"]);
    assert_eq!(names(app.get("/movies?q=y_m").await.items()), ["My_Movie"]);
    assert_eq!(names(app.get("/characters?q=%25").await.items()), Vec::<&str>::new());
}
