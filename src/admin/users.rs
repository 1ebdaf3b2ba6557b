//! `courier users show|suspend|unsuspend|sign-out <phone or id>`. Suspending ends every
//! session of the account; a running server closes their sockets within a janitor run (a
//! minute), and refuses the account at sign-in and refresh (403 `account_suspended`).

use courier_actors::store::accounts::{self, SignOutAll, Suspend, Unsuspend};
use courier_actors::store::users::{self, User};

use super::{Admin, AdminError, AdminResult};

/// What to do to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Print id, phone, name, created, live sessions, suspension.
    Show,
    /// Suspend the account and end all its sessions.
    Suspend,
    /// Lift a suspension.
    Unsuspend,
    /// End all the account's sessions (it may sign in again).
    SignOut,
}

/// Runs `action` on the account `who` names (`+14155550123` or a user id); answers the text
/// to print.
pub async fn run(admin: &Admin, action: Action, who: &str) -> AdminResult<String> {
    let user = find(admin, who).await?;
    let phone = &user.phone_number;
    match action {
        Action::Show => show(admin, &user).await,
        Action::Suspend => {
            let ended = admin.write(Suspend { user_id: user.id }).await?;
            Ok(format!(
                "suspended {phone} (id {}); {ended} session(s) ended, open sockets close within a minute\n",
                user.id
            ))
        }
        Action::Unsuspend => {
            let was = admin.write(Unsuspend { user_id: user.id }).await?;
            Ok(if was {
                format!("{phone} (id {}) is no longer suspended\n", user.id)
            } else {
                format!("{phone} (id {}) was not suspended\n", user.id)
            })
        }
        Action::SignOut => {
            let ended = admin.write(SignOutAll { user_id: user.id }).await?;
            Ok(format!(
                "signed out {phone} (id {}); {ended} session(s) ended, open sockets close within a minute\n",
                user.id
            ))
        }
    }
}

async fn show(admin: &Admin, user: &User) -> AdminResult<String> {
    let sessions = {
        let mut conn = admin.db.get().await?;
        accounts::active_sessions(&mut conn.conn(), user.id, admin.clock.now()).await?
    };
    let suspended = match user.suspended_at {
        Some(at) => format!("yes, since {}", rfc3339(at)),
        None => "no".into(),
    };
    Ok(format!(
        "id: {}\nphone: {}\nname: {}\ncreated: {}\nsessions: {sessions}\nsuspended: {suspended}\n",
        user.id,
        user.phone_number,
        user.name,
        rfc3339(user.created_at),
    ))
}

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The live account a phone number (E.164, with its `+`) or a user id names.
pub(super) async fn find(admin: &Admin, who: &str) -> AdminResult<User> {
    let who = who.trim();
    let mut conn = admin.db.get().await?;
    if who.starts_with('+') {
        let who = crate::validate::phone("phone", who).map_err(|_| {
            AdminError::usage(format!(
                "{who:?} is not a valid phone number in international form (like +14155550123)"
            ))
        })?;
        let hash = admin.secrets.phone_hash(&who);
        users::find_by_phone_hash(&mut conn.conn(), &hash)
            .await?
            .ok_or_else(|| AdminError::failed(format!("no user with phone {who}")))
    } else {
        let id: i64 = who.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
            AdminError::usage(format!(
                "{who:?} is neither a phone number (+14155550123) nor a user id"
            ))
        })?;
        users::find(&mut conn.conn(), id)
            .await?
            .ok_or_else(|| AdminError::failed(format!("no user with id {id}")))
    }
}
