//! Answer types of `/api/sync/cursor` (the sync pages themselves are built in
//! `actors/src/store/sync.rs`, since sockets get them too).

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /api/sync/cursor`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncCursor {
    /// Pass it as `since` to `sync`: every change after this moment, none before.
    pub cursor: i64,
}
