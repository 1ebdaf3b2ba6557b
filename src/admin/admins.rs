//! `courier admin grant|revoke <phone or id>`: makes a user a system admin or ends it. The only
//! way, besides `moderation.admins` in the configuration, to make an admin: the API cannot.
//! Both are written to the audit log (with no admin id: an operator did it).

use courier_actors::store::audit::SetAdmin;

use super::users::find;
use super::{Admin, AdminResult};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Make the user a system admin.
    Grant,
    /// The user is no longer a system admin.
    Revoke,
}

/// Runs `action` on the account `who` names (`+14155550123` or a user id); answers the text to
/// print.
pub async fn run(admin: &Admin, action: Action, who: &str) -> AdminResult<String> {
    let user = find(admin, who).await?;
    let grant = action == Action::Grant;
    let changed = admin
        .write(SetAdmin {
            user_id: user.id,
            grant,
        })
        .await?;
    let phone = &user.phone_number;
    Ok(match (grant, changed) {
        (true, true) => format!("{phone} (id {}) is now a system admin\n", user.id),
        (true, false) => format!("{phone} (id {}) was a system admin already\n", user.id),
        (false, true) => format!("{phone} (id {}) is no longer a system admin\n", user.id),
        (false, false) => format!("{phone} (id {}) was not a system admin\n", user.id),
    })
}
