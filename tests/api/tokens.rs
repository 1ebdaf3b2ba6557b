//! Every protected endpoint refuses bad tokens with 401 and the JSON error shape.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{phone, spawn_app};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[actix_web::test]
async fn bad_tokens_are_refused_with_401() {
    let app = spawn_app().await;
    let user = app.signup(&phone(1), "Ana").await;
    let claims = claims_of(&user.token);
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["user_id"], user.id);
    assert_eq!(claims["phone_number"], user.phone.as_str());

    let forged = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"not-the-server-secret"),
    )
    .unwrap();
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tampered = {
        let mut c = claims.clone();
        c["user_id"] = json!(user.id + 1);
        let parts: Vec<&str> = user.token.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(c.to_string()),
            parts[2]
        )
    };
    let bad = [
        ("malformed", "not-a-jwt".to_string()),
        ("forged", forged),
        ("alg none", alg_none),
        ("tampered", tampered),
        ("refresh used as access", user.refresh.clone()),
    ];
    for (what, token) in &bad {
        for path in ["/api/user/profile", "/api/users/1"] {
            let r = app.get(path, token).await;
            assert_eq!(r.status, 401, "{what} on {path}");
            assert_eq!(
                (r.body["success"].as_bool(), r.code()),
                (Some(false), "unauthorized"),
                "{what}"
            );
        }
        let r = app
            .put("/api/user/profile", token, json!({"name": "Mallory"}))
            .await;
        assert_eq!(r.status, 401, "{what}");
    }

    let r = app
        .request(Method::GET, "/api/user/profile", None, None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "unauthorized"),
        "missing"
    );
    let r = app
        .client
        .get(format!("{}/api/user/profile", app.address))
        .header("authorization", format!("Basic {}", user.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "wrong scheme");
    // An access token is not a refresh token either.
    let r = app
        .request(Method::POST, "/api/auth/refresh", Some(&user.token), None)
        .await;
    assert_eq!(r.status, 401);
    // Nothing above changed the profile.
    assert_eq!(
        app.get("/api/user/profile", &user.token).await.body["name"],
        "Ana"
    );
}

#[actix_web::test]
async fn access_tokens_expire_after_an_hour_and_refresh_tokens_after_two_weeks() {
    let app = spawn_app().await;
    let user = app.signup(&phone(1), "Ana").await;
    app.advance(3599);
    assert_eq!(app.get("/api/user/profile", &user.token).await.status, 200);
    app.advance(1);
    let r = app.get("/api/user/profile", &user.token).await;
    assert_eq!(r.status, 401, "expired access token");
    let r = app
        .request(Method::POST, "/api/auth/refresh", Some(&user.refresh), None)
        .await;
    assert_eq!(r.status, 200, "the refresh token is still good");
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    app.advance(14 * 24 * 3600);
    let r = app
        .request(Method::POST, "/api/auth/refresh", Some(&refresh), None)
        .await;
    assert_eq!(r.status, 401, "expired refresh token");
}

#[actix_web::test]
async fn a_restart_keeps_everyone_signed_in() {
    let app = spawn_app().await;
    let user = app.signup(&phone(1), "Ana").await;
    let app = app.restart().await;
    let r = app.get("/api/user/profile", &user.token).await;
    assert_eq!(
        (r.status.as_u16(), r.body["name"].as_str()),
        (200, Some("Ana"))
    );
}
