//! `GET /api/search`: full-text search over the messages the caller can see.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use courier_actors::store::search::{self, Query, MAX_QUERY_CHARS};
use courier_actors::store::{chats, stars, views};

use crate::api::chats::HistoryPagination;
use crate::api::messages::SearchPage;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::common::int_param;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(search));
}

/// Messages whose text holds every word of `q` (as words, the last one also as the start of
/// one, case and accents aside), newest first: only what the caller's history shows them (never from before
/// they joined a group or after they left it, never deleted, hidden or system messages).
#[utoipa::path(get, path = "/api/search", tag = "messages",
    params(
        ("q" = String, Query, description = "1 to 100 characters, with at least one letter or digit"),
        ("chat_id" = Option<i64>, Query, minimum = 1, description = "within this chat only"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "default 20"),
        ("before_message_id" = Option<i64>, Query, minimum = 1, description = "the page after one that ended at this message"),
    ),
    responses((status = 200, body = SearchPage)))]
pub(crate) async fn search(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let text = q
        .get("q")
        .ok_or_else(|| ApiError::invalid("q", "is required"))?;
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let terms = search::terms(text);
    if terms.is_empty() {
        return Err(ApiError::invalid(
            "q",
            "must hold at least one letter or digit",
        ));
    }
    let limit = int_param(&q, "limit", 20, 1, 100)?;
    let optional = |name: &str| match q.get(name) {
        Some(_) => int_param(&q, name, 0, 1, i64::MAX).map(Some),
        None => Ok(None),
    };
    let query = Query {
        user_id: user.user_id,
        terms,
        chat_id: optional("chat_id")?,
        before: optional("before_message_id")?,
        limit: limit + 1,
    };
    state.engine.index_for_search().await?;
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let mut found = search::messages(&mut conn, &query).await?;
    let has_more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let mut chat_ids: Vec<i64> = found.iter().map(|m| m.chat_id).collect();
    chat_ids.sort_unstable();
    chat_ids.dedup();
    let members = chats::participants_of(&mut conn, &chat_ids).await?;
    let ids: Vec<i64> = found.iter().map(|m| m.id).collect();
    let starred = stars::starred_among(&mut conn, user.user_id, &ids).await?;
    let mut messages = views::build_for(&mut conn, user.user_id, &members, &found).await?;
    for v in &mut messages {
        v.is_starred = Some(starred.contains(&v.id));
    }
    let answer = SearchPage {
        pagination: HistoryPagination {
            has_more,
            next_before_message_id: if has_more {
                messages.last().map(|m| m.id)
            } else {
                None
            },
        },
        messages,
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}
