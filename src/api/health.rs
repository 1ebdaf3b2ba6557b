//! Health and readiness answers.

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /api/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub success: bool,
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub version: String,
}

/// `GET /healthz`: the process answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    pub success: bool,
    /// `ok`.
    pub status: String,
}

/// `GET /readyz`: the database reads and the writer commits.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    pub success: bool,
    /// `ready`.
    pub status: String,
    pub database: String,
}
