//! The table of every documented operation: how it authenticates, what body it reads, and
//! the errors it can answer beyond those these imply (see [`super::errors`]).

use super::errors::{Auth, Input, Op};

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
const PIN_LIMIT: (u16, &[&str]) = (409, &["too_many_pinned"]);
/// A one-time code refused.
const BAD_CODE: (u16, &[&str]) = (400, &["otp_invalid", "otp_expired", "otp_locked"]);

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
        &[BAD_CODE, (403, &["account_suspended"]), LIMITED],
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
    op(
        "delete",
        "/api/user",
        Bearer,
        Json,
        &[BAD_CODE, NOT_FOUND, LIMITED],
    ),
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
        "/api/chats/{id}/settings",
        Bearer,
        Json,
        &[NOT_FOUND, PIN_LIMIT],
    ),
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
    op("get", "/api/sync/cursor", Bearer, NO_BODY, &[]),
    op(
        "post",
        "/api/reports",
        Bearer,
        Json,
        &[NOT_FOUND, (409, &["message_deleted"]), LIMITED],
    ),
    // The admin routes answer anyone but a system admin 404 `not_found` (signed in or not),
    // as a route that does not exist: every one lists it.
    op(
        "get",
        "/api/admin/reports",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, QUERY],
    ),
    op(
        "get",
        "/api/admin/reports/{id}",
        Bearer,
        NO_BODY,
        &[NOT_FOUND],
    ),
    op(
        "post",
        "/api/admin/reports/{id}/resolve",
        Bearer,
        Json,
        &[NOT_FOUND, (409, &["report_closed"])],
    ),
    op(
        "get",
        "/api/admin/reports/{id}/context",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, QUERY],
    ),
    op(
        "post",
        "/api/admin/users/{id}/suspend",
        Bearer,
        Json,
        &[NOT_FOUND],
    ),
    op(
        "post",
        "/api/admin/users/{id}/unsuspend",
        Bearer,
        Json,
        &[NOT_FOUND],
    ),
    op(
        "post",
        "/api/admin/messages/{id}/delete",
        Bearer,
        Json,
        &[
            (403, &["system_message"]),
            NOT_FOUND,
            (409, &["message_deleted"]),
        ],
    ),
    op(
        "post",
        "/api/admin/groups/{id}/delete",
        Bearer,
        Json,
        &[NOT_FOUND],
    ),
    op(
        "get",
        "/api/admin/audit",
        Bearer,
        NO_BODY,
        &[NOT_FOUND, QUERY],
    ),
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
