//! `/api/contacts/*`: the contact list, adding and removing contacts, blocking, and matching
//! a phone's address book against Courier's users.

use crate::api::common::Done;
use crate::api::contacts::{
    AddContactRequest, BlockToggled, Contact, ContactAdded, ContactList, ContactMatch,
    ContactMatches, MatchedUser, SavedContact, SyncContactsRequest,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::routes::users::PublicProfile;
use crate::state::AppState;
use crate::validate;
use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use courier_actors::store::contacts::{self, relations_to, AddContact, RemoveContact, ToggleBlock};
use courier_actors::store::{chats, users};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/contacts")
            .route("", web::get().to(list))
            .route("", web::post().to(add))
            .route("/sync", web::post().to(sync))
            .route("/{id}", web::delete().to(remove))
            .route("/{id}/block", web::put().to(block)),
    );
}

/// Most numbers one sync may match.
const MAX_SYNC: usize = 1000;

/// The caller's contacts (and the users they blocked).
#[utoipa::path(get, path = "/api/contacts", tag = "contacts",
    responses((status = 200, body = ContactList)))]
pub(crate) async fn list(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let rows = contacts::list(&mut conn, user.user_id).await?;
    let ids: Vec<i64> = rows.iter().map(|(c, _)| c.contact_user_id).collect();
    let relations = relations_to(&mut conn, &ids, user.user_id).await?;
    let contacts = rows
        .iter()
        .map(|(c, u)| {
            let seen = PublicProfile::of(u, relations.get(&u.id).copied().unwrap_or_default());
            Contact {
                id: u.id,
                name: c.contact_name.clone(),
                profile_name: u.name.clone(),
                phone_number: u.phone_number.clone(),
                avatar_url: seen.avatar_url,
                about: seen.about,
                is_contact: c.is_contact,
                is_blocked: c.is_blocked,
                last_seen_at: seen.last_seen_at,
                is_online: seen.is_online,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(state.signed(ContactList { contacts })))
}

/// Saves a Courier user (found by phone number) as a contact: 201 when new, 200 when renamed.
#[utoipa::path(post, path = "/api/contacts", tag = "contacts", request_body = AddContactRequest,
    responses((status = 201, body = ContactAdded), (status = 200, body = ContactAdded)))]
pub(crate) async fn add(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<AddContactRequest>,
) -> ApiResult<HttpResponse> {
    let mut body = body.0;
    body.phone_number = validate::phone("phone_number", &body.phone_number)?;
    let name = validate::name("contact_name", &body.contact_name, 1, 255)?;
    let hash = state.secrets.phone_hash(&body.phone_number);
    let other = {
        let mut conn = state.engine.db.get().await?;
        users::find_by_phone_hash(&mut conn.conn(), &hash).await?
    };
    let other = other.ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "user_not_found",
            "no Courier user has this phone number",
        )
        .with_field("phone_number")
    })?;
    if other.id == user.user_id {
        return Err(ApiError::invalid("phone_number", "is your own number"));
    }
    let created = state
        .write(AddContact {
            owner: user.user_id,
            other: other.id,
            name: name.clone(),
        })
        .await?;
    let body = ContactAdded {
        success: true,
        contact: SavedContact {
            id: other.id,
            name,
            phone_number: other.phone_number,
        },
    };
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(body))
}

/// Removes a contact.
#[utoipa::path(delete, path = "/api/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "the contact's user id")),
    responses((status = 200, body = Done)))]
pub(crate) async fn remove(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let removed = state
        .write(RemoveContact {
            owner: user.user_id,
            other: path.into_inner(),
        })
        .await?;
    if !removed {
        return Err(ApiError::not_found("contact"));
    }
    Ok(HttpResponse::Ok().json(Done::new("Contact removed successfully")))
}

/// Blocks a user, or unblocks one already blocked.
#[utoipa::path(put, path = "/api/contacts/{id}/block", tag = "contacts",
    params(("id" = i64, Path, description = "the user's id")),
    responses((status = 200, body = BlockToggled)))]
pub(crate) async fn block(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let other_id = path.into_inner();
    if other_id == user.user_id {
        return Err(ApiError::invalid("id", "you cannot block yourself"));
    }
    let (other, chat) = {
        let mut conn = state.engine.db.get().await?;
        let mut conn = conn.conn();
        let other = users::find(&mut conn, other_id)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        (
            other,
            chats::find_private(&mut conn, user.user_id, other_id).await?,
        )
    };
    let blocked = state
        .write(ToggleBlock {
            owner: user.user_id,
            other: other.id,
            other_name: other.name.clone(),
        })
        .await?;
    // The private chat's room (if running) learns of the block before anything else is sent.
    if let Some(chat) = chat {
        state.engine.membership_changed_everywhere(chat.id).await;
    }
    Ok(HttpResponse::Ok().json(BlockToggled {
        success: true,
        is_blocked: blocked,
    }))
}

/// Which of the numbers belong to Courier users (the way a phone's address book is matched).
#[utoipa::path(post, path = "/api/contacts/sync", tag = "contacts",
    request_body = SyncContactsRequest,
    responses((status = 200, body = ContactMatches)))]
pub(crate) async fn sync(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<SyncContactsRequest>,
) -> ApiResult<HttpResponse> {
    let numbers = body.0.phone_numbers;
    if numbers.len() > MAX_SYNC {
        return Err(ApiError::invalid(
            "phone_numbers",
            format!("at most {MAX_SYNC} numbers per request"),
        ));
    }
    state
        .engine
        .limiter
        .hit(
            &format!("contact-sync:{}", user.user_id),
            10,
            TimeDelta::minutes(1),
        )
        .await
        .map_err(ApiError::too_many)?;
    // Numbers are matched in E.164, however the address book wrote them.
    let mut valid = Vec::with_capacity(numbers.len());
    let mut invalid = Vec::new();
    for n in numbers {
        match validate::phone("phone_numbers", &n) {
            Ok(e164) => valid.push(e164),
            Err(_) => invalid.push(n),
        }
    }
    let hashes: Vec<String> = valid.iter().map(|n| state.secrets.phone_hash(n)).collect();
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let found = contacts::users_by_phone_hashes(&mut conn, &hashes).await?;
    let ids: Vec<i64> = found.iter().map(|u| u.id).collect();
    let relations = relations_to(&mut conn, &ids, user.user_id).await?;
    let mine: std::collections::HashMap<i64, bool> = contacts::list(&mut conn, user.user_id)
        .await?
        .into_iter()
        .map(|(c, _)| (c.contact_user_id, c.is_contact))
        .collect();
    let matches = found
        .iter()
        .filter(|u| u.id != user.user_id)
        .map(|u| {
            let seen = PublicProfile::of(u, relations.get(&u.id).copied().unwrap_or_default());
            ContactMatch {
                phone_number: u.phone_number.clone(),
                user: MatchedUser {
                    id: u.id,
                    name: u.name.clone(),
                    avatar_url: seen.avatar_url,
                    about: seen.about,
                },
                is_contact: mine.get(&u.id).copied().unwrap_or(false),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(state.signed(ContactMatches { matches, invalid })))
}
