//! Profiles and privacy settings.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{phone, spawn_app};

#[actix_web::test]
async fn profile_updates_are_validated_with_the_field_named() {
    let app = spawn_app().await;
    let u = app.signup(&phone(1), "Ana").await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(256)}), "name"),
        (json!({"name": 42}), "name"),
        (json!({"about": "y".repeat(701)}), "about"),
        (json!({"about": ["list"]}), "about"),
    ];
    for (body, field) in cases {
        let r = app.put("/api/user/profile", &u.token, body.clone()).await;
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(
            (r.code(), r.body["error"]["field"].as_str()),
            ("validation_failed", Some(field)),
            "{body}"
        );
    }
    // Limits count characters, not bytes.
    let r = app
        .put(
            "/api/user/profile",
            &u.token,
            json!({"name": "é".repeat(255), "about": "ü".repeat(700)}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .put("/api/user/profile", &u.token, json!({"about": ""}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["user"]["about"].as_str()),
        (200, Some(""))
    );
    let r = app.get("/api/user/profile", &u.token).await;
    assert_eq!(r.body["name"], "é".repeat(255));

    let r = app
        .raw(
            Method::PUT,
            "/api/user/profile",
            Some(&u.token),
            "application/json",
            b"{name:".to_vec(),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_json"));
}

#[actix_web::test]
async fn privacy_settings_are_validated_and_applied_to_other_viewers() {
    let app = spawn_app().await;
    let ana = app.signup(&phone(1), "Ana").await;
    let bo = app.signup(&phone(2), "Bo").await;
    app.put("/api/user/profile", &ana.token, json!({"about": "Sailing"}))
        .await;

    let r = app
        .put(
            "/api/user/privacy",
            &ana.token,
            json!({"last_seen": "friends"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("last_seen"))
    );
    let r = app
        .put("/api/user/privacy", &ana.token, json!({"about": 1}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["field"].as_str()),
        (422, Some("about"))
    );

    let r = app.get(&format!("/api/users/{}", ana.id), &bo.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["name"].as_str(), r.body["about"].as_str()),
        (Some("Ana"), Some("Sailing"))
    );
    assert!(
        r.body.get("phone_number").is_none(),
        "phone numbers are not public"
    );

    for setting in ["nobody", "contacts"] {
        let r = app
            .put(
                "/api/user/privacy",
                &ana.token,
                json!({"about": setting, "last_seen": setting}),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body["privacy_settings"],
            json!({"last_seen": setting, "profile_photo": "everyone", "about": setting, "groups": "contacts"})
        );
        // Bo is not in Ana's contacts: hidden either way.
        let r = app.get(&format!("/api/users/{}", ana.id), &bo.token).await;
        assert_eq!(
            (r.body["about"].is_null(), r.body["last_seen_at"].is_null()),
            (true, true),
            "{setting}"
        );
        // Ana always sees her own.
        let r = app.get(&format!("/api/users/{}", ana.id), &ana.token).await;
        assert_eq!(r.body["about"], "Sailing", "{:?}", r);
    }
    let r = app
        .put(
            "/api/user/privacy",
            &ana.token,
            json!({"about": "everyone"}),
        )
        .await;
    assert_eq!(
        r.body["privacy_settings"]["last_seen"], "contacts",
        "unnamed settings keep their value"
    );
    assert_eq!(
        app.get(&format!("/api/users/{}", ana.id), &bo.token)
            .await
            .body["about"],
        "Sailing"
    );
}

#[actix_web::test]
async fn unknown_users_and_routes_are_404_in_the_error_shape() {
    let app = spawn_app().await;
    let u = app.signup(&phone(1), "Ana").await;
    for path in [
        "/api/users/999999",
        "/api/users/abc",
        "/api/nothing-here",
        // `/` itself is the web client (tests/api/web.rs); any other root path is unknown.
        "/nothing-here",
    ] {
        let r = app.get(path, &u.token).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"), "{path}");
        assert_eq!(r.body["success"], false);
    }
}

#[actix_web::test]
async fn requests_abandoned_mid_query_leave_the_server_healthy() {
    let app = spawn_app().await;
    let u = app.signup(&phone(1), "Ana").await;
    // Each of these fails on its body while its token lookup is still running: the lookup is
    // abandoned, and its connection must not go back to the pool mid-query.
    let abandoned = (0..200).map(|_| {
        app.raw(
            Method::PUT,
            "/api/user/profile",
            Some(&u.token),
            "text/plain",
            b"x".to_vec(),
        )
    });
    for r in futures_util::future::join_all(abandoned).await {
        assert_eq!(r.status, 415);
    }
    let r = app
        .put("/api/user/profile", &u.token, json!({"name": "Still here"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.get("/api/user/profile", &u.token).await.body["name"],
        "Still here"
    );
}

#[actix_web::test]
async fn a_body_that_is_not_an_object_is_refused_not_read_as_fields() {
    let app = spawn_app().await;
    let u = app.signup(&phone(1), "Ana").await;
    // serde would read `[null, null]` as a profile update of nothing at all.
    for body in [
        &b"[null, null]"[..],
        b"[\"Bo\", \"x\"]",
        b"\"Bo\"",
        b"42",
        b"null",
    ] {
        let r = app
            .raw(
                Method::PUT,
                "/api/user/profile",
                Some(&u.token),
                "application/json",
                body.to_vec(),
            )
            .await;
        assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(body));
        assert_eq!(r.code(), "validation_failed");
        assert_eq!(r.body["error"]["field"], "body");
    }
    let r = app
        .raw(
            Method::PUT,
            "/api/user/profile",
            Some(&u.token),
            "application/json",
            b"[1,".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_json");
    let profile = app.get("/api/user/profile", &u.token).await;
    assert_eq!(profile.body["name"], "Ana");
}
