//! `GET /api/openapi.json` and `GET /api/docs`: the document describes the routes the server
//! answers, and the page that renders it loads nothing from elsewhere.

use crate::helpers::spawn_app;

#[actix_web::test]
async fn the_document_is_served_and_describes_the_routes_with_their_errors() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let send = &doc["paths"]["/api/chats/{id}/messages"]["post"];
    assert!(send["requestBody"]["content"]["multipart/form-data"].is_object());
    assert!(send["responses"]["201"].is_object());
    assert!(send["responses"]["429"]["description"]
        .as_str()
        .unwrap()
        .contains("rate_limited"));
    assert_eq!(
        send["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        doc["paths"]["/api/auth/send-otp"]["post"]["security"],
        serde_json::json!([]),
        "signing in needs no token"
    );
    // Every documented operation has a unique id.
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all);
}

#[actix_web::test]
async fn the_docs_page_is_served_by_the_binary_and_fetches_nothing_elsewhere() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/api/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(page.contains("fetch(\"openapi.json\")"));
    for outside in ["http://", "https://", "//cdn", "src=\"//"] {
        assert!(!page.contains(outside), "the page names {outside}");
    }
}
