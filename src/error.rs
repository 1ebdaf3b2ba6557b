//! The edge's error type: every failure becomes `{"success": false, "error": {"code",
//! "message"}}` with a fitting status. Internal causes are logged, never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use courier_actors::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable code (`snake_case`), documented in the README.
    pub code: &'static str,
    /// A sentence for humans.
    pub message: String,
    /// The request field at fault, for validation errors.
    pub field: Option<String>,
    /// Seconds to wait, for 429.
    pub retry_after: Option<u64>,
    /// The ids at fault (e.g. unknown users in a member list).
    pub ids: Option<Vec<i64>>,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct Body<'a> {
    /// Always false.
    pub success: bool,
    pub error: Detail<'a>,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
#[schema(as = ErrorDetail)]
pub struct Detail<'a> {
    /// Stable, machine-readable (`snake_case`); each route lists those it answers.
    #[schema(value_type = String)]
    pub code: &'a str,
    /// A sentence for humans.
    #[schema(value_type = String)]
    pub message: &'a str,
    /// The request field at fault (validation errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub field: Option<&'a str>,
    /// The ids at fault (a member list that cannot be accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<i64>>)]
    pub ids: Option<&'a [i64]>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            ids: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422 naming the field that failed validation.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            )
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404: also what a caller gets for something that exists but is not theirs to see.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; try again later",
            )
        }
    }

    /// 500 with a generic message; `cause` goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// The answer's body.
    pub fn body(&self) -> Body<'_> {
        Body {
            success: false,
            error: Detail {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
                ids: self.ids.as_deref(),
            },
        }
    }

    /// The answer's body as JSON text (for answers written straight to a socket).
    pub fn body_json(&self) -> String {
        serde_json::to_string(&self.body()).unwrap_or_default()
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // What is left of a body that came too slowly is not read: the connection goes.
            res.force_close();
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.json(self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            e if e.is_unavailable() => {
                tracing::error!(cause = %e, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "storage unavailable; try again",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::internal(format!("actor unavailable: {e}"))
    }
}

impl From<courier_actors::room::RoomError> for ApiError {
    fn from(e: courier_actors::room::RoomError) -> Self {
        use courier_actors::room::RoomError;
        match e {
            RoomError::NotFound(what) => ApiError::not_found(what),
            RoomError::Forbidden(code, message) => ApiError::forbidden(code, message),
            RoomError::Invalid(field, message) => ApiError::invalid(field, message),
            RoomError::Conflict(code, message) => ApiError::conflict(code, message),
            RoomError::Refused(code, message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            RoomError::Group(refused) => refused.into(),
            RoomError::Store(e) => e.into(),
        }
    }
}

impl From<courier_actors::store::groups::Refusal> for ApiError {
    fn from(r: courier_actors::store::groups::Refusal) -> Self {
        use courier_actors::store::groups::Refusal;
        let listed = |ids: &[i64]| {
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match r {
            Refusal::NotFound(what) => ApiError::not_found(what),
            Refusal::NotAdmin => ApiError::forbidden("not_admin", "only group admins can do this"),
            Refusal::Unknown(ids) => ApiError {
                code: "unknown_users",
                ids: Some(ids.clone()),
                ..ApiError::invalid("user_ids", format!("not Courier users: {}", listed(&ids)))
            },
            Refusal::BlockedYou(ids) => ApiError {
                code: "blocked_by_users",
                ids: Some(ids.clone()),
                ..ApiError::invalid(
                    "user_ids",
                    format!("these users do not accept you: {}", listed(&ids)),
                )
            },
            Refusal::TooMany { max } => ApiError {
                code: "group_full",
                ..ApiError::invalid("user_ids", format!("a group has at most {max} members"))
            },
            Refusal::LastAdmin => ApiError::conflict(
                "last_admin",
                "the group's only admin cannot step down; make someone else admin first",
            ),
            Refusal::YouBlocked => ApiError::forbidden(
                "you_blocked",
                "you blocked the user who invited you; unblock them to accept",
            ),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
