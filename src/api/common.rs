//! Shapes several resources share: a plain acknowledgement and page counts.

use serde::Serialize;
use utoipa::ToSchema;

/// An action done, said in words (`{"success": true, "message": "…"}`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Done {
    pub success: bool,
    pub message: String,
}

impl Done {
    pub fn new(message: impl Into<String>) -> Self {
        Done {
            success: true,
            message: message.into(),
        }
    }
}

/// Where a numbered page lies in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pagination {
    pub current_page: i64,
    pub per_page: i64,
    pub total_pages: i64,
    pub total_items: i64,
}

impl Pagination {
    pub fn new(page: i64, per_page: i64, total: i64) -> Self {
        Pagination {
            current_page: page,
            per_page,
            total_pages: (total + per_page - 1) / per_page,
            total_items: total,
        }
    }
}

/// Someone named in an answer: `{id, name}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Named {
    pub id: i64,
    pub name: String,
}
