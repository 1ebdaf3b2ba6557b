//! Health and readiness answers.

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /api/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub success: bool,
    /// `ok`, or `degraded` when this node cannot reach the other nodes (Redis is down):
    /// REST works, realtime across nodes is paused.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub version: String,
    /// In cluster mode: this node and the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterHealth>,
}

/// A node's view of its cluster.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterHealth {
    /// This node's id.
    pub node: String,
    /// `up` while Redis answers, else `down`.
    pub redis: String,
    /// The live nodes, as of this node's last lease renewal.
    pub nodes: Vec<String>,
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
