//! The OpenAPI 3.1 document. Each handler describes itself with `#[utoipa::path]` and the routers
//! are built with utoipa-axum's `routes!`, so a route cannot exist without its description; here
//! the pieces are put together and finished with what every operation shares: the error answers
//! of the extractors and middleware, the security schemes, and the original's paths.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{Content, Header, OpenApi as Document, Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

use crate::error::{
    ErrorBody, HttpValidationError, INTERNAL_ERROR, RETRY_AFTER_SECS, TMDB_FAILED,
    TMDB_NOT_CONFIGURED, UNAVAILABLE,
};
use crate::extractors::{BODY_TOO_LARGE, unsupported};

/// The scheme protected operations name in their `security(...)`: a JWT as a bearer token.
pub const BEARER: &str = "bearer";
/// The same token got through the OAuth2 password flow at `POST /auth/token`, which is what
/// Swagger UI's Authorize button speaks.
const OAUTH2: &str = "oauth2";

/// The original service's paths that end with a slash, without it: axum routes them with the
/// slash trimmed (`NormalizePath`), the document shows them as clients call them.
const SLASHED: &[&str] = &[
    "/auth/register",
    "/auth/login",
    "/auth/logout",
    "/movies/bulk",
    "/movies/count",
    "/movies/update_nr_characters",
    "/movies/delete_duplicates",
    "/characters/bulk",
    "/characters/count",
    "/users/basicUsers",
    "/users/nonAdmin",
    "/moviesTMDB",
];

/// The tag of the operations that call TMDB: they also answer 502, and their 503 may be TMDB's
/// (with TMDB's own `Retry-After`).
pub const TMDB_TAG: &str = "tmdb";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Movies & Characters API",
        description = "Movies and their characters over REST, users with JWT, every change pushed \
                       to WebSocket listeners on `/ws` (see docs/websocket.md), and data \
                       generated in the background.",
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "movies", description = "Movies"),
        (name = "characters", description = "Characters of movies"),
        (name = "users", description = "Accounts as admins see them"),
        (name = "jobs", description = "Data generated in the background"),
        (name = "events", description = "The change log that `/ws` streams"),
        (name = "tmdb", description = "Movies of The Movie Database, and imports from it"),
        (name = "health", description = "Liveness of the process and its database"),
    ),
    components(schemas(ErrorBody, HttpValidationError))
)]
struct ApiDoc;

/// The document's frame (info, tags, shared schemas), for the router to add the paths to.
pub fn base() -> Document {
    ApiDoc::openapi()
}

/// Adds what every operation shares to the document the routers produced.
pub fn finish(mut doc: Document) -> Document {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
        ),
    );
    components.add_security_scheme(
        OAUTH2,
        SecurityScheme::OAuth2(OAuth2::with_description(
            [Flow::Password(Password::new("/auth/token", Scopes::new()))],
            "Username and password exchanged for a bearer token at `POST /auth/token`",
        )),
    );
    for (name, response) in shared_responses() {
        components.responses.insert(name.to_owned(), RefOr::T(response));
    }

    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            if let Some(op) = op.as_mut() {
                add_shared_answers(op);
                add_cursor_header(op);
                name_uniquely(op);
            }
        }
    }
    for path in SLASHED {
        if let Some(item) = doc.paths.paths.shift_remove(*path) {
            doc.paths.paths.insert(format!("{path}/"), item);
        }
    }
    doc.paths.paths.sort_keys();
    doc
}

fn operations_mut(item: &mut PathItem) -> [&mut Option<Operation>; 8] {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
}

/// `movies_update` rather than the handler's bare `update`, which several modules share:
/// operation ids must be unique (Swagger UI links and client generators key on them).
fn name_uniquely(op: &mut Operation) {
    let tag = op.tags.as_ref().and_then(|t| t.first());
    if let (Some(tag), Some(id)) = (tag, op.operation_id.as_mut()) {
        *id = format!("{tag}_{id}");
    }
}

/// The answers an operation gets from the layers around its handler.
/// Every list that counts its matches in `X-Total-Count` also pages by cursor: its 200 says
/// so once, here.
fn add_cursor_header(op: &mut Operation) {
    let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else { return };
    if ok.headers.contains_key("X-Total-Count") {
        let integer = Object::with_type(Type::Integer);
        let mut header = Header::new(integer);
        header.description = Some(
            "The next page's cursor (for `after`), when this page is full and in id order".into(),
        );
        ok.headers.insert("X-Next-After".into(), RefOr::T(header));
    }
}

fn add_shared_answers(op: &mut Operation) {
    let mut add = |status: &str, name: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    };
    // A route a token protects says so with `security(("bearer" = []))`; the OAuth2 flow's token
    // is the same token, so it is offered as the alternative.
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let body = op.request_body.is_some();
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let calls_tmdb = op.tags.as_ref().is_some_and(|t| t.iter().any(|t| t == TMDB_TAG));
    if secured {
        add("401", "Unauthorized");
    }
    if body {
        add("400", "BadRequest");
        add("413", "PayloadTooLarge");
        add("415", "UnsupportedMediaType");
    }
    if body || has_params {
        add("422", "ValidationError");
    }
    if calls_tmdb {
        add("502", "BadGateway");
        add("503", "TmdbUnavailable");
    }
    add("503", "Unavailable");
    add("500", "InternalError");
    if secured {
        let requirements = op.security.get_or_insert_with(Vec::new);
        requirements.push(SecurityRequirement::new(OAUTH2, Vec::<String>::new()));
    }
}

fn shared_responses() -> [(&'static str, Response); 9] {
    let detail = |description: &str, example: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::builder()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .example(Some(serde_json::json!({ "detail": example })))
                    .build(),
            )
            .build()
    };
    let mut unauthorized = detail("No valid bearer token", "Could not validate credentials");
    unauthorized.headers.insert(
        "WWW-Authenticate".to_owned(),
        Header::builder()
            .schema(Some(Object::with_type(Type::String)))
            .description(Some("`Bearer`"))
            .build()
            .into(),
    );
    let mut tmdb_unavailable = detail(
        "TMDB is not configured (no TMDB_API_KEY), or is rate-limiting this server, or the \
         database failed; `Retry-After` says when to try again",
        TMDB_NOT_CONFIGURED,
    );
    tmdb_unavailable.headers.insert(
        "Retry-After".to_owned(),
        Header::builder()
            .schema(Some(Object::with_type(Type::Integer)))
            .description(Some(format!(
                "Seconds to wait: TMDB's own when it is rate-limiting, else {RETRY_AFTER_SECS}"
            )))
            .build()
            .into(),
    );
    let mut unavailable = detail(
        "The database is down or busy, the server is at a limit of its own (requests at once, \
         WebSocket listeners) or stopping, or the request took too long; try again shortly",
        UNAVAILABLE,
    );
    unavailable.headers.insert(
        "Retry-After".to_owned(),
        Header::builder()
            .schema(Some(Object::with_type(Type::Integer)))
            .description(Some(format!("Seconds to wait before trying again ({RETRY_AFTER_SECS})")))
            .build()
            .into(),
    );
    let validation = ResponseBuilder::new()
        .description("The input breaks a rule; every broken rule is listed")
        .content(
            "application/json",
            Content::builder()
                .schema(Some(Ref::from_schema_name(HttpValidationError::name())))
                .example(Some(serde_json::json!({ "detail": [{
                    "loc": ["body", "year"],
                    "msg": "Year must be between 1878 and 2100",
                    "type": "value_error"
                }]})))
                .build(),
        )
        .build();
    [
        ("Unauthorized", unauthorized),
        (
            "BadRequest",
            detail(
                "The body is not well-formed, or was cut short",
                "Malformed JSON: EOF while parsing an object at line 1 column 9",
            ),
        ),
        (
            "PayloadTooLarge",
            detail("The body is over the route's limit (1 MiB; 16 MiB in bulk)", BODY_TOO_LARGE),
        ),
        (
            "UnsupportedMediaType",
            detail(
                "The body is not declared as the media type the route reads",
                &unsupported("application/json").to_string(),
            ),
        ),
        ("ValidationError", validation),
        ("Unavailable", unavailable),
        (
            "InternalError",
            detail("A bug: the cause is logged with the request id, never sent", INTERNAL_ERROR),
        ),
        (
            "BadGateway",
            detail(
                "TMDB is down, answered an error, or did not answer within TMDB_TIMEOUT",
                TMDB_FAILED,
            ),
        ),
        ("TmdbUnavailable", tmdb_unavailable),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique_and_every_operation_is_tagged() {
        let doc = crate::routes::openapi();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in &mut doc.paths.paths.clone() {
            for op in operations_mut(item).into_iter().flatten() {
                assert!(op.tags.as_ref().is_some_and(|t| t.len() == 1), "{path}: one tag");
                let id = op.operation_id.clone().expect("an operation id");
                assert!(ids.insert(id.clone()), "{path}: {id} is used twice");
            }
        }
    }

    #[test]
    fn every_slashed_path_is_routed() {
        let doc = crate::routes::openapi();
        for path in SLASHED {
            assert!(doc.paths.paths.contains_key(&format!("{path}/")), "{path}/ is not documented");
        }
    }
}
