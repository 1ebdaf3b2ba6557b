//! `/api/admin/*`: what system admins read and send: reports, a reported message in context,
//! suspensions, deletions for everyone, the audit log.

use chrono::{DateTime, Utc};
use courier_actors::store::audit::AuditEntry;
use courier_actors::store::views::MessageView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::reports::{ReportView, Target};
use crate::sign_fields;

/// Where a numbered page lies in an admin list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminPagination {
    pub current_page: i64,
    pub per_page: i64,
    pub total: i64,
    pub total_pages: i64,
}

impl AdminPagination {
    pub fn new(page: i64, per_page: i64, total: i64) -> Self {
        AdminPagination {
            current_page: page,
            per_page,
            total,
            total_pages: (total + per_page - 1) / per_page,
        }
    }
}

/// `GET /api/admin/reports`: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    pub reports: Vec<ReportView>,
    pub pagination: AdminPagination,
}

sign_fields!(ReportPage {
    links: [],
    parts: [reports]
});

/// `GET /api/admin/reports/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OneReport {
    pub report: ReportView,
}

sign_fields!(OneReport {
    links: [],
    parts: [report]
});

/// `POST /api/admin/reports/{id}/resolve`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveRequest {
    /// `resolved` or `dismissed`.
    pub status: String,
    /// At most 1000 characters.
    pub note: Option<String>,
}

/// The report after it was closed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResolved {
    pub success: bool,
    pub report: ReportView,
}

sign_fields!(ReportResolved {
    links: [],
    parts: [report]
});

/// `GET /api/admin/reports/{id}/context`: the reported message and those around it, oldest
/// first (deleted ones as markers).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportContext {
    pub report: ReportView,
    pub chat_id: i64,
    pub message_id: i64,
    pub messages: Vec<MessageView>,
}

sign_fields!(ReportContext {
    links: [],
    parts: [report, messages]
});

/// The optional body of an admin action (suspend, unsuspend, delete): no body, no note.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NoteRequest {
    /// At most 1000 characters, written to the audit log.
    pub note: Option<String>,
}

/// `POST /api/admin/users/{id}/suspend`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suspended {
    pub success: bool,
    pub user_id: i64,
    /// Always `true`.
    pub suspended: bool,
    pub already_suspended: bool,
}

/// `POST /api/admin/users/{id}/unsuspend`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unsuspended {
    pub success: bool,
    pub user_id: i64,
    /// Always `false`.
    pub suspended: bool,
    pub was_suspended: bool,
}

/// `POST /api/admin/messages/{id}/delete`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDeletedByAdmin {
    pub success: bool,
    pub message_id: i64,
    pub chat_id: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// `POST /api/admin/groups/{id}/delete`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDeletedByAdmin {
    pub success: bool,
    pub chat_id: i64,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditItem {
    pub id: i64,
    /// `null`: the system (automatic defence) or an operator's command line.
    pub admin_id: Option<i64>,
    /// `resolve_report`, `dismiss_report`, `suspend`, `unsuspend`, `delete_message`,
    /// `delete_group`, `auto_suspend`, `admin_grant` or `admin_revoke`.
    pub action: String,
    pub target: Target,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl AuditItem {
    pub fn of(e: &AuditEntry) -> Self {
        AuditItem {
            id: e.id,
            admin_id: e.admin_id,
            action: e.action.clone(),
            target: Target {
                kind: e.target_type.clone(),
                id: e.target_id,
            },
            note: e.note.clone(),
            created_at: e.created_at.and_utc(),
        }
    }
}

/// `GET /api/admin/audit`: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditItem>,
    pub pagination: AdminPagination,
}
