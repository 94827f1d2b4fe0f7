//! Login throttling and the bound on password hashing (docs/operations.md, "Logins"): a flood
//! from one address is refused with 429 and `Retry-After` while other addresses and accounts log
//! in; a username under attack holds back only the addresses that failed on it;
//! `X-Forwarded-For` counts only from `TRUSTED_PROXIES`; a full hashing queue answers 503 at once.
//!
//! Clients come from several addresses by binding their side of the connection to other loopback
//! addresses (all of 127.0.0.0/8 is the loopback interface on Linux).

use std::net::IpAddr;

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};

/// A client whose connections come from `127.0.0.{last}`.
fn client_from(last: u8) -> reqwest::Client {
    let address = IpAddr::from([127, 0, 0, last]);
    reqwest::Client::builder().local_address(address).build().expect("a client")
}

/// `POST /auth/login/` by `client` (and with `forwarded_for`, if any).
async fn log_in(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Reply {
    let body = json!({ "username": username, "hashedPassword": password });
    let mut request = client.post(format!("{}/auth/login/", app.address)).json(&body);
    if let Some(forwarded) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded);
    }
    app.send(request).await
}

/// Asserts a 429 in the error shape with a whole number of seconds, at least 1, in `Retry-After`.
#[track_caller]
fn assert_throttled(reply: &Reply) {
    let detail = reply.expect_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(detail.as_str().is_some_and(|d| d.contains("Retry-After")), "{detail}");
    let retry_after = reply.header("retry-after").expect("a Retry-After header");
    let seconds: u64 = retry_after.parse().expect("Retry-After is whole seconds");
    assert!(seconds >= 1, "Retry-After: {retry_after}");
}

/// The statuses of `replies`, in order.
fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status.as_u16()).collect()
}

#[tokio::test]
async fn a_login_flood_gets_429_with_retry_after_while_others_log_in() {
    let app = spawn_app_with(&["--login-address-limit", "5/1m"]).await;
    app.register("ana").await;
    let attacker = client_from(2);

    let mut flood = Vec::new();
    for _ in 0..3 {
        let wave = (0..4).map(|_| log_in(&app, &attacker, ADMIN, "not-the-password", None));
        flood.extend(join_all(wave).await);
    }

    assert_eq!(statuses(&flood[..5]), [401; 5], "the first five are checked");
    for reply in &flood[5..] {
        assert_throttled(reply);
    }
    // The admin, from another address, is not held back by the flood on the admin account.
    let admin = log_in(&app, &client_from(3), ADMIN, ADMIN_PASSWORD, None).await;
    assert!(admin.expect(StatusCode::OK)["token"].is_string());
    // Nor is another account from the default address.
    let ana = log_in(&app, &app.client, "ana", "password-of-ana", None).await;
    ana.expect(StatusCode::OK);
    // The flooding address is refused even with the right password: nothing is hashed for it.
    assert_throttled(&log_in(&app, &attacker, "ana", "password-of-ana", None).await);
}

#[tokio::test]
async fn the_form_login_is_throttled_like_the_json_one() {
    let app = spawn_app_with(&["--login-address-limit", "2/1m"]).await;
    let form = |password: &str| {
        let body = format!("username={ADMIN}&password={password}");
        app.request_as(None, Method::POST, "/auth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    for _ in 0..2 {
        app.send(form("wrong-password")).await.expect_error(StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&app.send(form("wrong-password")).await);
    // The JSON login shares the same budget.
    assert_throttled(&log_in(&app, &app.client, ADMIN, "wrong-password", None).await);
}

#[tokio::test]
async fn successful_logins_do_not_use_up_an_address() {
    let app = spawn_app_with(&["--login-address-limit", "2/1m"]).await;
    for _ in 0..6 {
        log_in(&app, &app.client, ADMIN, ADMIN_PASSWORD, None).await.expect(StatusCode::OK);
    }
}

#[tokio::test]
async fn a_username_under_attack_holds_back_only_the_addresses_that_failed_on_it() {
    let app = spawn_app_with(&["--login-username-limit", "3/1m"]).await;
    app.register("ana").await;
    for attacker in 2..=4 {
        log_in(&app, &client_from(attacker), "ana", "guess-guess", None)
            .await
            .expect_error(StatusCode::UNAUTHORIZED);
    }

    // Ana's budget of failures is spent: the addresses that failed on her wait...
    assert_throttled(&log_in(&app, &client_from(2), "ana", "guess-again", None).await);
    // ...but may try other accounts...
    log_in(&app, &client_from(2), ADMIN, "guess-guess", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    // ...and Ana, from an address that never failed on her, logs in.
    let ana = log_in(&app, &client_from(5), "ana", "password-of-ana", None).await;
    ana.expect(StatusCode::OK);
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let trusting =
        spawn_app_with(&["--trusted-proxies", "127.0.0.1", "--login-address-limit", "2/1m"]).await;
    let proxy = &trusting.client;
    for _ in 0..2 {
        let reply = log_in(&trusting, proxy, ADMIN, "wrong-password", Some("203.0.113.1")).await;
        reply.expect_error(StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&log_in(&trusting, proxy, ADMIN, "wrong-password", Some("203.0.113.1")).await);
    // Another client behind the same proxy has its own budget; a client before the proxy that
    // wrote its own header cannot take another's (only the entry the proxy added counts).
    let other = log_in(&trusting, proxy, ADMIN, "wrong-password", Some("203.0.113.2")).await;
    other.expect_error(StatusCode::UNAUTHORIZED);
    let spoofed = "203.0.113.99, 203.0.113.1";
    assert_throttled(&log_in(&trusting, proxy, ADMIN, "wrong-password", Some(spoofed)).await);
    // A peer that is not a trusted proxy is itself the client, whatever it writes.
    let untrusted = client_from(7);
    for _ in 0..2 {
        let reply = log_in(&trusting, &untrusted, ADMIN, "wrong", Some("203.0.113.3")).await;
        reply.expect_error(StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&log_in(&trusting, &untrusted, ADMIN, "wrong", Some("203.0.113.4")).await);

    // Without TRUSTED_PROXIES the header is ignored: every attempt counts against 127.0.0.1.
    let plain = spawn_app_with(&["--login-address-limit", "2/1m"]).await;
    for n in 1..=2 {
        let forwarded = format!("203.0.113.{n}");
        let reply = log_in(&plain, &plain.client, ADMIN, "wrong", Some(&forwarded)).await;
        reply.expect_error(StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&log_in(&plain, &plain.client, ADMIN, "wrong", Some("203.0.113.3")).await);
}

#[tokio::test]
async fn registrations_spend_the_address_budget_too() {
    let app = spawn_app_with(&["--login-address-limit", "2/1m"]).await;
    app.register("ana").await;
    app.register("bob").await;
    let body = json!({ "username": "cem", "hashedPassword": "password-of-cem" });
    let reply = app.send(app.request_as(None, Method::POST, "/auth/register/").json(&body)).await;
    assert_throttled(&reply);
}

#[tokio::test]
async fn a_full_hashing_queue_answers_503_with_retry_after_instead_of_queueing() {
    let app =
        spawn_app_with(&["--argon2-max-waiting", "1", "--login-address-limit", "10000/1m"]).await;

    // As many logins at once as it takes for more to arrive than the running hashes and the one
    // waiting place can hold; a few rounds at most, in case the machine serves a round slowly.
    let mut refused = Vec::new();
    for _ in 0..5 {
        let round = (0..32).map(|_| log_in(&app, &app.client, ADMIN, ADMIN_PASSWORD, None));
        let replies = join_all(round).await;
        for reply in &replies {
            assert!(
                [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&reply.status),
                "unexpected answer {} {}",
                reply.status,
                reply.body
            );
        }
        refused.extend(replies.into_iter().filter(|r| r.status != StatusCode::OK));
        if !refused.is_empty() {
            break;
        }
    }

    assert!(!refused.is_empty(), "no login was refused with 32 at once and one waiting place");
    for reply in &refused {
        let detail = reply.expect_error(StatusCode::SERVICE_UNAVAILABLE);
        assert!(detail.as_str().is_some_and(|d| d.contains("Retry-After")), "{detail}");
        let retry_after: u64 = reply.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!(retry_after >= 1);
    }
    // The flood over, logins are served again.
    log_in(&app, &app.client, ADMIN, ADMIN_PASSWORD, None).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_throttled_answer_says_nothing_of_whether_the_account_exists() {
    let app = spawn_app_with(&["--login-address-limit", "1/1m"]).await;
    let known = log_in(&app, &client_from(2), ADMIN, "wrong-password", None).await;
    known.expect_error(StatusCode::UNAUTHORIZED);
    let unknown = log_in(&app, &client_from(3), "nobody-here", "wrong-password", None).await;
    unknown.expect_error(StatusCode::UNAUTHORIZED);
    let (known, unknown) = (
        log_in(&app, &client_from(2), ADMIN, "wrong-password", None).await,
        log_in(&app, &client_from(3), "nobody-here", "wrong-password", None).await,
    );
    assert_throttled(&known);
    assert_throttled(&unknown);
    assert_eq!(known.body, unknown.body);
}

#[tokio::test]
async fn default_limits_leave_ordinary_use_alone() {
    let app = spawn_app().await;
    // A user who mistypes a few times, then gets it right, and a script that logs in often.
    for _ in 0..3 {
        log_in(&app, &app.client, ADMIN, "typo-typo", None)
            .await
            .expect_error(StatusCode::UNAUTHORIZED);
    }
    for _ in 0..10 {
        let reply = log_in(&app, &app.client, ADMIN, ADMIN_PASSWORD, None).await;
        assert!(reply.expect(StatusCode::OK)["token"].is_string());
    }
}
