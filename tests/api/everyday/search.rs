//! Search: every word whole, the last one also as a start, newest first, over what the caller's history
//! shows them and nothing else.

use serde_json::json;

use super::{app, group, ids, users};
use crate::helpers::{TestApp, TestUser};

async fn search(app: &TestApp, who: &TestUser, query: &str) -> Vec<i64> {
    let r = app.get(&format!("/api/search?{query}"), &who.token).await;
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    ids(&r.body)
}

fn id(m: &serde_json::Value) -> i64 {
    m["id"].as_i64().unwrap()
}

#[actix_web::test]
async fn search_finds_words_and_their_starts_newest_first() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let ab = app.private_chat(&u[0], &u[1]).await;
    let ac = app.private_chat(&u[0], &u[2]).await;
    let lunch = id(&app.send_text(&u[0], ab, "Lunch at noon?").await);
    let cafe = id(&app.send_text(&u[1], ab, "Café tomorrow, then lunch").await);
    let other = id(&app.send_text(&u[2], ac, "lunch with Cy").await);
    app.send_text(&u[0], ab, "nothing to see").await;

    assert_eq!(
        search(&app, &u[0], "q=lunch").await,
        vec![other, cafe, lunch]
    );
    assert_eq!(
        search(&app, &u[0], "q=LUN").await,
        vec![other, cafe, lunch],
        "a word's start"
    );
    assert_eq!(
        search(&app, &u[0], "q=lunch%20caf%C3%89").await,
        vec![cafe],
        "every word"
    );
    assert_eq!(
        search(&app, &u[0], "q=lunch%20tomo").await,
        vec![cafe],
        "the last word being typed"
    );
    assert!(
        search(&app, &u[0], "q=lun%20tomorrow").await.is_empty(),
        "the others whole"
    );
    assert_eq!(
        search(&app, &u[0], &format!("q=lunch&chat_id={ab}")).await,
        vec![cafe, lunch]
    );
    assert!(search(&app, &u[0], "q=dinner").await.is_empty());
    // Operators of the index's own syntax are words like any other.
    assert!(search(&app, &u[0], "q=%22lunch%22%20OR%20NEAR(x)")
        .await
        .is_empty());
    // Bo sees the chat with Ana, not Ana's chat with Cy.
    assert_eq!(search(&app, &u[1], "q=lunch").await, vec![cafe, lunch]);

    // Pages: newest first, then the page after the last one shown.
    let r = app.get("/api/search?q=lunch&limit=2", &u[0].token).await;
    assert_eq!(ids(&r.body), vec![other, cafe]);
    assert_eq!(r.body["pagination"]["has_more"], true);
    assert_eq!(r.body["pagination"]["next_before_message_id"], cafe);
    let rest = search(
        &app,
        &u[0],
        &format!("q=lunch&limit=2&before_message_id={cafe}"),
    )
    .await;
    assert_eq!(rest, vec![lunch]);

    // An edit changes what is found; a message deleted for everyone or hidden is not found.
    let r = app
        .put(
            &format!("/api/messages/{lunch}"),
            &u[0].token,
            json!({"content": "Brunch at noon?"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(search(&app, &u[0], "q=brunch").await, vec![lunch]);
    assert_eq!(search(&app, &u[0], "q=lunch").await, vec![other, cafe]);
    let r = app
        .delete(&format!("/api/messages/{other}"), &u[2].token)
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .delete(&format!("/api/messages/{cafe}?for=me"), &u[0].token)
        .await;
    assert_eq!(r.status, 200);
    assert!(search(&app, &u[0], "q=lunch").await.is_empty());
    assert_eq!(
        search(&app, &u[1], "q=lunch").await,
        vec![cafe],
        "hidden for Ana only"
    );
}

#[actix_web::test]
async fn search_never_shows_a_group_before_joining_or_after_leaving() {
    let app = app().await;
    let u = users(&app, &["Ana", "Bo", "Cy"]).await;
    let team = group(&app, &u[0], &[&u[1]]).await;
    let before = id(&app.send_text(&u[0], team, "plans before Cy").await);
    app.advance(1);
    let r = app
        .post(
            &format!("/api/groups/{team}/members"),
            Some(&u[0].token),
            json!({"user_ids": [u[2].id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.advance(1);
    let during = id(&app.send_text(&u[1], team, "plans with Cy").await);
    assert_eq!(search(&app, &u[2], "q=plans").await, vec![during]);
    assert_eq!(search(&app, &u[0], "q=plans").await, vec![during, before]);
    // System messages (the add, the leave) are not found.
    assert!(search(&app, &u[0], "q=added").await.is_empty());

    let r = app
        .post(
            &format!("/api/groups/{team}/leave"),
            Some(&u[2].token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.send_text(&u[1], team, "plans after Cy").await;
    assert_eq!(search(&app, &u[2], "q=plans").await, vec![during]);
}

#[actix_web::test]
async fn search_refuses_bad_queries() {
    let app = app().await;
    let u = users(&app, &["Ana"]).await;
    let long = "a".repeat(101);
    for bad in [
        "",
        "q=",
        "q=%20%20",
        "q=***",
        &format!("q={long}"),
        "q=hi&limit=0",
        "q=hi&limit=101",
        "q=hi&chat_id=abc",
        "q=hi&before_message_id=0",
    ] {
        let r = app.get(&format!("/api/search?{bad}"), &u[0].token).await;
        assert_eq!(r.status, 422, "{bad}: {:?}", r.body);
    }
    let r = app.get("/api/search?q=hi", "not-a-token").await;
    assert_eq!(r.status, 401);
}
