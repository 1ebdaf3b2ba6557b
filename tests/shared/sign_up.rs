//! Signing a user up over HTTP as a client does, shared by the integration tests and the
//! benches (each includes this file).

use serde_json::{json, Value};

/// Signs `phone` up as `name` through send-otp and verify-otp with `otp` (the server's
/// `auth.fixed_otp`): the verify-otp answer, `{user, tokens}`. Panics on any other answer.
pub async fn sign_up(
    http: &reqwest::Client,
    base: &str,
    phone: &str,
    name: &str,
    otp: &str,
) -> Value {
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    let r = post("/api/auth/send-otp", json!({ "phone_number": phone }))
        .await
        .expect("send-otp sent");
    assert_eq!(r.status(), 200, "send-otp: {:?}", r.text().await);
    let r = post(
        "/api/auth/verify-otp",
        json!({ "phone_number": phone, "otp": otp, "name": name }),
    )
    .await
    .expect("verify-otp sent");
    assert_eq!(r.status(), 200, "verify-otp");
    r.json().await.expect("verify-otp answers JSON")
}
