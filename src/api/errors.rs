//! Every operation's error answers, in one table: the statuses and Courier error codes each
//! route can answer (see [`crate::error::ApiError`]), added to the document with the error
//! body's schema, with the authentication each route takes. A test checks that the table and
//! the routes in the document name the same operations.

use std::collections::BTreeMap;

use utoipa::openapi::content::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <access token>`.
    Bearer,
    /// `Authorization: Bearer <refresh token>`.
    Refresh,
    /// Pusher's request signature (query parameters).
    Signed,
}

/// What an operation reads from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    None,
    Json,
    /// JSON, or a multipart form with a file.
    JsonOrUpload,
    Upload,
}

/// One operation's errors beyond those its [`Auth`] and [`Input`] imply.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub auth: Auth,
    pub input: Input,
    pub errors: &'static [(u16, &'static [&'static str])],
}

const fn op(
    method: &'static str,
    path: &'static str,
    auth: Auth,
    input: Input,
    errors: &'static [(u16, &'static [&'static str])],
) -> Op {
    Op {
        method,
        path,
        auth,
        input,
        errors,
    }
}

use Auth::{Bearer, Refresh, Signed};
use Input::{Json, JsonOrUpload, Upload};

const NONE: Auth = Auth::None;
const NO_BODY: Input = Input::None;
const NOT_FOUND: (u16, &[&str]) = (404, &["not_found"]);
const QUERY: (u16, &[&str]) = (422, &["validation_failed"]);
const LIMITED: (u16, &[&str]) = (429, &["rate_limited"]);

/// Every documented operation.
pub const OPERATIONS: &[Op] = &[
    op(
        "post",
        "/api/auth/send-otp",
        NONE,
        Json,
        &[LIMITED, (502, &["sms_failed"])],
    ),
    op(
        "post",
        "/api/auth/verify-otp",
        NONE,
        Json,
        &[
            (400, &["otp_invalid", "otp_expired", "otp_locked"]),
            (403, &["account_suspended"]),
            LIMITED,
        ],
    ),
    op(
        "post",
        "/api/auth/refresh",
        Refresh,
        NO_BODY,
        &[
            (401, &["refresh_reused"]),
            (403, &["account_suspended"]),
            LIMITED,
        ],
    ),
    op("post", "/api/auth/logout", Bearer, NO_BODY, &[]),
    op("get", "/api/user/profile", Bearer, NO_BODY, &[NOT_FOUND]),
    op("put", "/api/user/profile", Bearer, Json, &[NOT_FOUND]),
    op("put", "/api/user/privacy", Bearer, Json, &[NOT_FOUND]),
    op(
        "post",
        "/api/user/avatar",
        Bearer,
        Upload,
        &[(422, &["invalid_image"]), LIMITED],
    ),
    op(
        "get",
        "/api/users/{id}",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, LIMITED],
    ),
    op("get", "/api/chats", Bearer, NO_BODY, &[QUERY]),
    op("post", "/api/chats/private", Bearer, Json, &[NOT_FOUND]),
    op("get", "/api/chats/{id}", Bearer, NO_BODY, &[NOT_FOUND]),
    op(
        "get",
        "/api/chats/{id}/messages",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, QUERY],
    ),
    op(
        "post",
        "/api/chats/{id}/messages",
        Bearer,
        JsonOrUpload,
        &[
            (403, &["blocked", "you_blocked"]),
            NOT_FOUND,
            (409, &["client_msg_id_reused"]),
            (422, &["invalid_image"]),
            LIMITED,
        ],
    ),
    op("put", "/api/chats/{id}/read", Bearer, Json, &[NOT_FOUND]),
    op(
        "put",
        "/api/messages/{id}",
        Bearer,
        Json,
        &[
            (
                403,
                &[
                    "not_sender",
                    "message_deleted",
                    "not_editable",
                    "system_message",
                    "blocked",
                    "you_blocked",
                ],
            ),
            NOT_FOUND,
        ],
    ),
    op(
        "delete",
        "/api/messages/{id}",
        Bearer,
        NO_BODY,
        &[
            (403, &["not_sender", "message_deleted", "system_message"]),
            NOT_FOUND,
            QUERY,
        ],
    ),
    op(
        "post",
        "/api/messages/{id}/reactions",
        Bearer,
        Json,
        &[
            (
                403,
                &[
                    "message_deleted",
                    "system_message",
                    "blocked",
                    "you_blocked",
                ],
            ),
            NOT_FOUND,
        ],
    ),
    op(
        "delete",
        "/api/messages/{id}/reactions",
        Bearer,
        Json,
        &[
            (
                403,
                &[
                    "message_deleted",
                    "system_message",
                    "blocked",
                    "you_blocked",
                ],
            ),
            NOT_FOUND,
        ],
    ),
    op(
        "get",
        "/api/messages/{id}/info",
        Bearer,
        NO_BODY,
        &[(403, &["not_sender"]), NOT_FOUND],
    ),
    op(
        "post",
        "/api/groups",
        Bearer,
        JsonOrUpload,
        &[
            (
                422,
                &[
                    "unknown_users",
                    "blocked_by_users",
                    "group_full",
                    "invalid_image",
                ],
            ),
            LIMITED,
        ],
    ),
    op("get", "/api/groups/invites", Bearer, NO_BODY, &[]),
    op(
        "post",
        "/api/groups/invites/{id}/accept",
        Bearer,
        NO_BODY,
        &[(403, &["you_blocked"]), NOT_FOUND, (422, &["group_full"])],
    ),
    op(
        "post",
        "/api/groups/invites/{id}/decline",
        Bearer,
        NO_BODY,
        &[NOT_FOUND],
    ),
    op("get", "/api/groups/{id}", Bearer, NO_BODY, &[NOT_FOUND]),
    op(
        "put",
        "/api/groups/{id}",
        Bearer,
        JsonOrUpload,
        &[
            (403, &["not_admin"]),
            NOT_FOUND,
            (422, &["invalid_image"]),
            LIMITED,
        ],
    ),
    op(
        "post",
        "/api/groups/{id}/members",
        Bearer,
        Json,
        &[
            (403, &["not_admin"]),
            NOT_FOUND,
            (422, &["unknown_users", "blocked_by_users", "group_full"]),
            LIMITED,
        ],
    ),
    op(
        "delete",
        "/api/groups/{id}/members/{user_id}",
        Bearer,
        NO_BODY,
        &[(403, &["not_admin"]), NOT_FOUND, (409, &["last_admin"])],
    ),
    op(
        "put",
        "/api/groups/{id}/members/{user_id}/role",
        Bearer,
        Json,
        &[(403, &["not_admin"]), NOT_FOUND, (409, &["last_admin"])],
    ),
    op(
        "post",
        "/api/groups/{id}/leave",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, (409, &["last_admin"])],
    ),
    op("get", "/api/contacts", Bearer, NO_BODY, &[]),
    op(
        "post",
        "/api/contacts",
        Bearer,
        Json,
        &[(404, &["user_not_found"])],
    ),
    op("post", "/api/contacts/sync", Bearer, Json, &[LIMITED]),
    op(
        "delete",
        "/api/contacts/{id}",
        Bearer,
        NO_BODY,
        &[NOT_FOUND],
    ),
    op(
        "put",
        "/api/contacts/{id}/block",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, QUERY],
    ),
    op("get", "/api/calls", Bearer, NO_BODY, &[QUERY]),
    op(
        "post",
        "/api/calls",
        Bearer,
        Json,
        &[
            (403, &["blocked", "you_blocked"]),
            NOT_FOUND,
            (409, &["nobody_to_call", "not_in_call"]),
            LIMITED,
        ],
    ),
    op("get", "/api/calls/ice-servers", Bearer, NO_BODY, &[]),
    op(
        "put",
        "/api/calls/{id}/answer",
        Bearer,
        NO_BODY,
        &[
            NOT_FOUND,
            (
                409,
                &["own_call", "not_in_call", "already_answered", "call_ended"],
            ),
        ],
    ),
    op(
        "put",
        "/api/calls/{id}/decline",
        Bearer,
        NO_BODY,
        &[
            NOT_FOUND,
            (
                409,
                &["own_call", "not_in_call", "already_answered", "call_ended"],
            ),
        ],
    ),
    op(
        "put",
        "/api/calls/{id}/end",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, (409, &["not_in_call", "call_ended"])],
    ),
    op("get", "/api/status", Bearer, NO_BODY, &[]),
    op(
        "post",
        "/api/status",
        Bearer,
        JsonOrUpload,
        &[(422, &["invalid_image"]), LIMITED],
    ),
    op(
        "post",
        "/api/status/{id}/view",
        Bearer,
        NO_BODY,
        &[NOT_FOUND],
    ),
    op(
        "get",
        "/api/status/{id}/views",
        Bearer,
        NO_BODY,
        &[(403, &["not_owner"]), NOT_FOUND],
    ),
    op("delete", "/api/status/{id}", Bearer, NO_BODY, &[NOT_FOUND]),
    op("get", "/api/sync", Bearer, NO_BODY, &[QUERY]),
    op("get", "/api/health", NONE, NO_BODY, &[]),
    op("get", "/healthz", NONE, NO_BODY, &[]),
    op("get", "/readyz", NONE, NO_BODY, &[]),
    op(
        "get",
        "/media/{key}",
        NONE,
        NO_BODY,
        &[(403, &["bad_signature", "link_expired"]), NOT_FOUND],
    ),
    op(
        "post",
        "/broadcasting/auth",
        Bearer,
        NO_BODY,
        &[
            (400, &["invalid_json"]),
            (403, &["forbidden", "unknown_socket", "too_many_channels"]),
            (404, &["not_found"]),
            (413, &["payload_too_large"]),
            (422, &["validation_failed"]),
        ],
    ),
    op(
        "post",
        "/apps/{app_id}/events",
        Signed,
        NO_BODY,
        &[
            (400, &["invalid_json", "too_many_event_names"]),
            NOT_FOUND,
            (413, &["payload_too_large"]),
            (422, &["validation_failed"]),
        ],
    ),
    op(
        "post",
        "/apps/{app_id}/batch_events",
        Signed,
        NO_BODY,
        &[
            (400, &["invalid_json", "too_many_event_names"]),
            NOT_FOUND,
            (413, &["payload_too_large"]),
            (422, &["validation_failed"]),
        ],
    ),
    op(
        "get",
        "/apps/{app_id}/channels",
        Signed,
        NO_BODY,
        &[NOT_FOUND],
    ),
    op(
        "get",
        "/apps/{app_id}/channels/{name}",
        Signed,
        NO_BODY,
        &[NOT_FOUND],
    ),
    op(
        "get",
        "/apps/{app_id}/channels/{name}/users",
        Signed,
        NO_BODY,
        &[(400, &["not_presence"]), NOT_FOUND],
    ),
];

/// What a status means, for the response's description.
fn meaning(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "Not authenticated",
        403 => "Forbidden",
        404 => "Not found (or not the caller's to see)",
        408 => "The body came too slowly; the connection is closed",
        409 => "Conflicts with what is stored",
        413 => "Body too large",
        415 => "Unsupported media type",
        416 => "Range not satisfiable",
        422 => "Invalid input",
        429 => "Too many requests (`Retry-After` says when to retry)",
        502 => "The SMS provider failed",
        503 => "Unavailable; try again",
        _ => "Error",
    }
}

/// Every (status → codes) an operation answers.
pub fn statuses(op: &Op) -> BTreeMap<u16, Vec<&'static str>> {
    let mut all: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    let mut add = |status: u16, codes: &[&'static str]| {
        let list = all.entry(status).or_default();
        for c in codes {
            if !list.contains(c) {
                list.push(c);
            }
        }
    };
    match op.auth {
        Auth::None => {}
        Auth::Bearer | Auth::Refresh | Auth::Signed => add(401, &["unauthorized"]),
    }
    if op.path.contains('{') {
        add(404, &["not_found"]);
    }
    match op.input {
        Input::None => {}
        Input::Json => {
            add(400, &["invalid_json", "bad_body"]);
            add(408, &["request_timeout"]);
            add(413, &["payload_too_large"]);
            add(415, &["unsupported_media_type"]);
            add(422, &["validation_failed"]);
        }
        Input::JsonOrUpload | Input::Upload => {
            if op.input == Input::JsonOrUpload {
                add(400, &["invalid_json", "bad_body"]);
            } else {
                add(400, &["bad_body"]);
            }
            add(408, &["request_timeout"]);
            add(413, &["payload_too_large"]);
            add(415, &["unsupported_media_type"]);
            add(422, &["validation_failed"]);
        }
    }
    for (status, codes) in op.errors {
        add(*status, codes);
    }
    add(429, &["too_many_connections"]);
    add(503, &["unavailable"]);
    all
}

fn operation<'a>(doc: &'a mut OpenApi, method: &str, path: &str) -> Option<&'a mut Operation> {
    let item = doc.paths.paths.get_mut(path)?;
    match method {
        "get" => item.get.as_mut(),
        "post" => item.post.as_mut(),
        "put" => item.put.as_mut(),
        "delete" => item.delete.as_mut(),
        _ => None,
    }
}

/// Adds each operation's error answers and security to the document.
pub struct Errors;

impl utoipa::Modify for Errors {
    fn modify(&self, doc: &mut OpenApi) {
        for op in OPERATIONS {
            let Some(operation) = operation(doc, op.method, op.path) else {
                continue;
            };
            // Unique across resources (handlers of several modules share names like `list`).
            let id: String = format!("{}{}", op.method, op.path)
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            operation.operation_id = Some(id);
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(r) = response {
                    if r.description.is_empty() {
                        r.description = match status.as_str() {
                            "201" => "Created".into(),
                            _ => "OK".into(),
                        };
                    }
                }
            }
            for (status, codes) in statuses(op) {
                let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
                let description = format!("{}: {}", meaning(status), listed.join(", "));
                let content = Content::new(Some(Ref::from_schema_name("Error")));
                let response = Response::builder()
                    .description(description)
                    .content("application/json", content)
                    .build();
                operation
                    .responses
                    .responses
                    .insert(status.to_string(), RefOr::T(response));
            }
            let scheme = match op.auth {
                Auth::None | Auth::Signed => None,
                Auth::Bearer => Some("bearer"),
                Auth::Refresh => Some("refresh_token"),
            };
            operation.security = Some(match scheme {
                Some(name) => vec![SecurityRequirement::new::<_, [&str; 0], &str>(name, [])],
                None => Vec::new(),
            });
        }
    }
}
