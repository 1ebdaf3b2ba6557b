//! Phone sign-in: codes, their expiry, attempts and rate limits; refresh rotation; logout;
//! the Twilio provider's HTTP contract.

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{phone, spawn_app, spawn_app_with, TestApp, OTP};

#[actix_web::test]
async fn sign_up_edit_profile_refresh_and_log_out() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({"phone_number": "+14155550123", "country_code": "+1"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["success"], true);
    assert!(r.body["expires_at"].as_str().unwrap().ends_with('Z'));

    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": "+14155550123", "otp": OTP}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["phone_number"], "+14155550123");
    assert_eq!(r.body["is_new_user"], true);
    let access = r.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh = r.body["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = r.body["user"]["id"].as_i64().unwrap();

    let r = app
        .put(
            "/api/user/profile",
            &access,
            json!({"name": "Ana", "about": "Out sailing"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["user"]["name"], "Ana");
    let r = app.get("/api/user/profile", &access).await;
    assert_eq!(
        (r.body["id"].as_i64(), r.body["name"].as_str()),
        (Some(id), Some("Ana"))
    );
    assert_eq!(r.body["privacy_settings"]["last_seen"], "everyone");

    // Refresh rotates: a new pair, and the new access token works.
    let r = app
        .request(Method::POST, "/api/auth/refresh", Some(&refresh), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let access2 = r.body["access_token"].as_str().unwrap().to_string();
    let refresh2 = r.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    assert_eq!(app.get("/api/user/profile", &access2).await.status, 200);

    // Signing in again with the same phone finds the same account.
    app.post(
        "/api/auth/send-otp",
        None,
        json!({"phone_number": "+14155550123"}),
    )
    .await;
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": "+14155550123", "otp": OTP}),
        )
        .await;
    assert_eq!(
        (
            r.body["user"]["id"].as_i64(),
            r.body["is_new_user"].as_bool()
        ),
        (Some(id), Some(false))
    );
    assert_eq!(r.body["user"]["name"], "Ana");

    // Logout ends this device session at once: both of its tokens stop working.
    let r = app
        .request(Method::POST, "/api/auth/logout", Some(&access2), None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["success"].as_bool()),
        (200, Some(true))
    );
    let r = app.get("/api/user/profile", &access2).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "unauthorized"));
    assert_eq!(
        app.request(Method::POST, "/api/auth/refresh", Some(&refresh2), None)
            .await
            .status,
        401
    );
}

#[actix_web::test]
async fn a_reused_refresh_token_signs_the_whole_session_out() {
    let app = spawn_app().await;
    let user = app.signup(&phone(1), "Ana").await;
    let r = app
        .request(Method::POST, "/api/auth/refresh", Some(&user.refresh), None)
        .await;
    let new_access = r.body["access_token"].as_str().unwrap().to_string();
    let new_refresh = r.body["refresh_token"].as_str().unwrap().to_string();

    // The old refresh token is presented again (a copy in a thief's hands).
    let r = app
        .request(Method::POST, "/api/auth/refresh", Some(&user.refresh), None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "refresh_reused"));
    // Everything of that session is now dead, including the legitimately rotated tokens.
    assert_eq!(app.get("/api/user/profile", &new_access).await.status, 401);
    assert_eq!(
        app.request(Method::POST, "/api/auth/refresh", Some(&new_refresh), None)
            .await
            .status,
        401
    );
    // Another device session of the same user is untouched.
    let other = app.signup(&phone(1), "Ana").await;
    assert_eq!(app.get("/api/user/profile", &other.token).await.status, 200);
}

#[actix_web::test]
async fn a_code_expires_after_five_minutes_and_works_once() {
    let app = spawn_app().await;
    let p = phone(2);
    app.post("/api/auth/send-otp", None, json!({"phone_number": p}))
        .await;
    app.advance(301);
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": p, "otp": OTP}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "otp_expired"));

    app.post("/api/auth/send-otp", None, json!({"phone_number": p}))
        .await;
    app.advance(299);
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": p, "otp": OTP}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": p, "otp": OTP}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "otp_invalid"),
        "a code is single use"
    );
}

#[actix_web::test]
async fn five_wrong_codes_burn_the_code() {
    let app = spawn_app_with(|s| s.limits.otp_per_phone_per_minute = 100).await;
    let p = phone(3);
    app.post("/api/auth/send-otp", None, json!({"phone_number": p}))
        .await;
    for left in (1..5).rev() {
        let r = app
            .post(
                "/api/auth/verify-otp",
                None,
                json!({"phone_number": p, "otp": "000000"}),
            )
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "otp_invalid"));
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} tries left")),
            "{:?}",
            r.body
        );
    }
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": p, "otp": "000000"}),
        )
        .await;
    assert_eq!(r.code(), "otp_locked");
    // Even the right code no longer works: a new one must be requested.
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": p, "otp": OTP}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "otp_invalid"));
    app.post("/api/auth/send-otp", None, json!({"phone_number": p}))
        .await;
    assert_eq!(
        app.post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": p, "otp": OTP})
        )
        .await
        .status,
        200
    );
}

#[actix_web::test]
async fn auth_endpoints_are_limited_per_phone_and_per_address() {
    let app = spawn_app_with(|s| s.limits.otp_per_ip_per_minute = 5).await;
    for i in 0..5 {
        let r = app
            .post(
                "/api/auth/send-otp",
                None,
                json!({"phone_number": phone(10 + i)}),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let r = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({"phone_number": phone(20)}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (429, "rate_limited"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // verify-otp has its own budget.
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": phone(10), "otp": OTP}),
        )
        .await;
    assert_eq!(r.status, 200);
    app.advance(60);
    assert_eq!(
        app.post(
            "/api/auth/send-otp",
            None,
            json!({"phone_number": phone(20)})
        )
        .await
        .status,
        200
    );

    let app = spawn_app().await;
    let p = phone(30);
    for _ in 0..5 {
        assert_eq!(
            app.post("/api/auth/send-otp", None, json!({"phone_number": p}))
                .await
                .status,
            200
        );
    }
    let r = app
        .post("/api/auth/send-otp", None, json!({"phone_number": p}))
        .await;
    assert_eq!(r.status, 429, "per phone number");
    assert_eq!(
        app.post(
            "/api/auth/send-otp",
            None,
            json!({"phone_number": phone(31)})
        )
        .await
        .status,
        200
    );
}

#[actix_web::test]
async fn bad_sign_in_input_is_refused_with_the_field_named() {
    let app = spawn_app().await;
    let cases = [
        (json!({"phone_number": "4155550123"}), 422, "phone_number"),
        (json!({"phone_number": "+1-415-555"}), 422, "phone_number"),
        (json!({"phone_number": 14155550123u64}), 422, "phone_number"),
        (json!({}), 422, "phone_number"),
        (
            json!({"phone_number": "+14155550123", "country_code": "+44"}),
            422,
            "country_code",
        ),
        (
            json!({"phone_number": "+14155550123", "country_code": 1}),
            422,
            "country_code",
        ),
    ];
    for (body, status, field) in cases {
        let r = app.post("/api/auth/send-otp", None, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {:?}", r.body);
        assert_eq!(r.body["success"], false);
        assert_eq!(
            (r.code(), r.body["error"]["field"].as_str()),
            ("validation_failed", Some(field)),
            "{body}"
        );
    }
    for otp in ["12345", "1234567", "12a456"] {
        let r = app
            .post(
                "/api/auth/verify-otp",
                None,
                json!({"phone_number": phone(1), "otp": otp}),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["field"].as_str()),
            (422, Some("otp")),
            "{otp}"
        );
    }
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": phone(1), "otp": OTP, "name": ""}),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "name");

    let r = app
        .raw(
            Method::POST,
            "/api/auth/send-otp",
            None,
            "application/json",
            b"{\"phone_number\": ".to_vec(),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_json"));
    let r = app
        .raw(
            Method::POST,
            "/api/auth/send-otp",
            None,
            "application/json",
            b"".to_vec(),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_json"));
    let r = app
        .raw(
            Method::POST,
            "/api/auth/send-otp",
            None,
            "text/plain",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (415, "unsupported_media_type")
    );
    let big = format!("{{\"phone_number\": \"{}\"}}", "1".repeat(70_000));
    let r = app
        .raw(
            Method::POST,
            "/api/auth/send-otp",
            None,
            "application/json",
            big.into_bytes(),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (413, "payload_too_large"));
    // Nothing above created a code: verifying finds none.
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": "+14155550123", "otp": OTP}),
        )
        .await;
    assert_eq!(r.code(), "otp_invalid");
}

/// What the fake Twilio endpoint received.
#[derive(Debug, Clone)]
struct Captured {
    path: String,
    authorization: String,
    form: Vec<(String, String)>,
}

/// A local HTTP server speaking Twilio's Messages API contract; answers `status`.
async fn fake_twilio(status: u16) -> (String, Arc<Mutex<Vec<Captured>>>) {
    let seen: Arc<Mutex<Vec<Captured>>> = Arc::default();
    let data = web::Data::new((seen.clone(), status));
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).default_service(web::to(
            |req: HttpRequest, body: web::Bytes, data: web::Data<(Arc<Mutex<Vec<Captured>>>, u16)>| async move {
                let form: Vec<(String, String)> = url_decode_form(&body);
                data.0.lock().unwrap().push(Captured {
                    path: format!("{} {}", req.method(), req.path()),
                    authorization: req.headers().get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default(),
                    form,
                });
                if data.1 == 201 {
                    HttpResponse::Created().json(json!({"sid": "SM1", "status": "queued"}))
                } else {
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(data.1).unwrap())
                        .json(json!({"code": 21211, "message": "The 'To' number is not a valid phone number."}))
                }
            },
        ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (format!("http://{addr}"), seen)
}

fn url_decode_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

async fn app_with_twilio(status: u16) -> (TestApp, Arc<Mutex<Vec<Captured>>>) {
    let (base, seen) = fake_twilio(status).await;
    let app = spawn_app_with(move |s| {
        s.sms.provider = courier::config::SmsProvider::Twilio;
        s.sms.twilio_account_sid = "AC0123456789".into();
        s.sms.twilio_auth_token = "secret-token".into();
        s.sms.twilio_from = "+15005550006".into();
        s.sms.twilio_api_base = base;
        s.auth.fixed_otp = String::new();
        s.auth.jwt_secret = "a-test-secret-that-is-long-enough-000".into();
        s.auth.phone_hash_key = "a-test-phone-key".into();
    })
    .await;
    (app, seen)
}

fn code_in(c: &Captured) -> String {
    let body = &c.form.iter().find(|(k, _)| k == "Body").unwrap().1;
    body.split(|ch: char| !ch.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn twilio_receives_a_random_code_that_signs_in() {
    let (app, seen) = app_with_twilio(201).await;
    let p = "+14155550199";
    assert_eq!(
        app.post("/api/auth/send-otp", None, json!({"phone_number": p}))
            .await
            .status,
        200
    );
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(
        first.path,
        "POST /2010-04-01/Accounts/AC0123456789/Messages.json"
    );
    // HTTP basic auth with the account SID and token.
    assert_eq!(
        first.authorization,
        "Basic QUMwMTIzNDU2Nzg5OnNlY3JldC10b2tlbg=="
    );
    let field = |k: &str| {
        first
            .form
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("To").as_deref(), Some(p));
    assert_eq!(field("From").as_deref(), Some("+15005550006"));

    // A second request supersedes the first code.
    assert_eq!(
        app.post("/api/auth/send-otp", None, json!({"phone_number": p}))
            .await
            .status,
        200
    );
    let (code1, code2) = {
        let seen = seen.lock().unwrap();
        (code_in(&seen[0]), code_in(&seen[1]))
    };
    if code1 != code2 {
        let r = app
            .post(
                "/api/auth/verify-otp",
                None,
                json!({"phone_number": p, "otp": code1}),
            )
            .await;
        assert_eq!(r.code(), "otp_invalid", "the superseded code must not work");
    }
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({"phone_number": p, "otp": code2}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[actix_web::test]
async fn a_twilio_refusal_is_a_502_with_a_clear_code() {
    let (app, seen) = app_with_twilio(400).await;
    let r = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({"phone_number": "+14155550199"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (502, "sms_failed"));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_number_written_two_ways_is_one_user_and_an_invalid_one_is_refused() {
    let app = spawn_app().await;
    // Signed up with the number as people write it; stored and answered in E.164.
    let ana = app.signup("+1 (415) 555-0123", "Ana").await;
    let me = app.get("/api/user/profile", &ana.token).await;
    assert_eq!(me.body["phone_number"], "+14155550123", "{:?}", me.body);

    // Signing in with the E.164 form is the same account, not a new one.
    let r = app
        .post(
            "/api/auth/send-otp",
            None,
            json!({ "phone_number": "+14155550123", "country_code": "+1" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            "/api/auth/verify-otp",
            None,
            json!({ "phone_number": "+1.415.555.0123", "otp": OTP }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["is_new_user"], false, "{:?}", r.body);
    assert_eq!(r.body["user"]["id"], ana.id);

    // Others find her by either form.
    let bo = app.signup(&phone(2), "Bo").await;
    let r = app
        .post(
            "/api/contacts/sync",
            Some(&bo.token),
            json!({ "phone_numbers": ["+1 415-555-0123", "+15550100001"] }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["matches"][0]["user"]["id"], ana.id, "{:?}", r.body);
    assert_eq!(r.body["matches"][0]["phone_number"], "+14155550123");
    assert_eq!(r.body["invalid"], json!(["+15550100001"]));
    let r = app
        .post(
            "/api/contacts",
            Some(&bo.token),
            json!({ "phone_number": "+1 (415) 5550123", "contact_name": "Ana" }),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);

    // A number that has the shape but no country's plan (+1 555 is not an area code).
    for bad in ["+15550100001", "+999123456", "+1 415 555 0123 ext 7"] {
        let r = app
            .post("/api/auth/send-otp", None, json!({ "phone_number": bad }))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["field"].as_str()),
            (422, Some("phone_number")),
            "{bad}: {:?}",
            r.body
        );
    }
}
