//! `/api/user/*` and `/api/users/{id}`: profiles, privacy, the profile photo.

use chrono::{DateTime, Utc};
use courier_actors::store::contacts::Relation;
use courier_actors::store::users::{User, Visibility};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sign_fields;

/// The privacy settings: the PRD's three, and who may add the user to groups.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrivacySettings {
    pub last_seen: Visibility,
    pub profile_photo: Visibility,
    pub about: Visibility,
    pub groups: Visibility,
}

impl PrivacySettings {
    pub fn of(u: &User) -> Self {
        PrivacySettings {
            last_seen: u.last_seen_visibility(),
            profile_photo: u.photo_visibility(),
            about: u.about_visibility(),
            groups: u.groups_visibility(),
        }
    }
}

/// The caller's own profile (`GET /api/user/profile`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwnProfile {
    pub id: i64,
    pub phone_number: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: String,
    pub privacy_settings: PrivacySettings,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub is_online: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OwnProfile {
    pub fn of(u: &User) -> Self {
        OwnProfile {
            id: u.id,
            phone_number: u.phone_number.clone(),
            name: u.name.clone(),
            avatar_url: u.avatar_url.clone(),
            about: u.about.clone(),
            privacy_settings: PrivacySettings::of(u),
            last_seen_at: u.last_seen_at.map(|t| t.and_utc()),
            is_online: u.is_online,
            created_at: u.created_at.and_utc(),
            updated_at: u.updated_at.and_utc(),
        }
    }
}

/// Another user as a viewer may see them: hidden parts are `null` (and `is_online` false).
#[derive(Serialize, Debug, Clone, ToSchema)]
pub struct PublicProfile {
    pub id: i64,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub is_online: bool,
}

impl PublicProfile {
    /// Applies `owner`'s privacy settings for a viewer; `rel` is how the owner relates to the
    /// viewer (in the owner's contacts? blocked by the owner?).
    pub fn of(owner: &User, rel: Relation) -> Self {
        let shows = |v: Visibility| !rel.blocked && v.allows(rel.in_contacts);
        let last_seen = shows(owner.last_seen_visibility());
        PublicProfile {
            id: owner.id,
            name: owner.name.clone(),
            avatar_url: owner
                .avatar_url
                .clone()
                .filter(|_| shows(owner.photo_visibility())),
            about: Some(owner.about.clone()).filter(|_| shows(owner.about_visibility())),
            last_seen_at: owner
                .last_seen_at
                .filter(|_| last_seen)
                .map(|t| t.and_utc()),
            is_online: owner.is_online && last_seen,
        }
    }

    /// Everything, as the owner sees their own profile.
    pub fn unfiltered(owner: &User) -> Self {
        PublicProfile {
            id: owner.id,
            name: owner.name.clone(),
            avatar_url: owner.avatar_url.clone(),
            about: Some(owner.about.clone()),
            last_seen_at: owner.last_seen_at.map(|t| t.and_utc()),
            is_online: owner.is_online,
        }
    }
}

sign_fields!(OwnProfile {
    links: [avatar_url],
    parts: []
});
sign_fields!(PublicProfile {
    links: [avatar_url],
    parts: []
});

/// `PUT /api/user/profile`: what to change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    /// 1–255 characters.
    pub name: Option<String>,
    /// At most 700 characters.
    pub about: Option<String>,
}

/// The profile after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdatedUser {
    pub id: i64,
    pub name: String,
    pub about: String,
    pub avatar_url: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// `PUT /api/user/profile`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileUpdated {
    pub success: bool,
    pub user: UpdatedUser,
}

sign_fields!(ProfileUpdated {
    links: [],
    parts: [user]
});
sign_fields!(UpdatedUser {
    links: [avatar_url],
    parts: []
});

/// `PUT /api/user/privacy`: what to change; each `everyone`, `contacts` or `nobody`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PrivacyUpdate {
    #[schema(value_type = Option<Visibility>)]
    pub last_seen: Option<String>,
    #[schema(value_type = Option<Visibility>)]
    pub profile_photo: Option<String>,
    #[schema(value_type = Option<Visibility>)]
    pub about: Option<String>,
    /// Who may add the user to groups (anyone else sends an invite).
    #[schema(value_type = Option<Visibility>)]
    pub groups: Option<String>,
}

/// `PUT /api/user/privacy`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrivacyUpdated {
    pub success: bool,
    pub privacy_settings: PrivacySettings,
}

/// `POST /api/user/avatar`: a multipart form.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AvatarForm {
    /// A JPEG, PNG, WebP or GIF image.
    #[schema(value_type = String, format = Binary)]
    pub avatar: Vec<u8>,
}

/// One stored size of a photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvatarSize {
    pub size: u32,
    pub url: String,
}

/// `POST /api/user/avatar`'s answer: the photo kept on the profile (300 px) and every size.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvatarUploaded {
    pub success: bool,
    pub avatar_url: String,
    pub avatar_urls: Vec<AvatarSize>,
}

impl crate::api::links::SignLinks for AvatarUploaded {
    fn sign_links(&mut self, storage: &courier_actors::storage::Storage) {
        crate::api::links::sign_str(storage, &mut self.avatar_url);
        for size in &mut self.avatar_urls {
            crate::api::links::sign_str(storage, &mut size.url);
        }
    }
}

/// `DELETE /api/user`: the one-time code last sent to the account's phone (ask for one with
/// `POST /api/auth/send-otp`), confirming the deletion.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The 6-digit code.
    pub otp: String,
}

/// The account is deleted: its sessions ended, its profile shows as "Deleted account", and
/// everything else of it is purged by `purge_by`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDeleted {
    pub success: bool,
    pub message: String,
    pub deleted_at: DateTime<Utc>,
    /// The latest time its messages, files, statuses, contacts and phone number are removed.
    pub purge_by: DateTime<Utc>,
}

/// A data export: `pending` while it is built, then `ready` (with its link) or `failed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    pub id: i64,
    /// `pending`, `ready` or `failed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Bytes of the ZIP, once ready.
    pub size: Option<i64>,
    /// A signed link to the ZIP, once ready; it expires with the link lifetime, ask again
    /// for a fresh one until `expires_at`.
    pub download_url: Option<String>,
    /// Until when the ZIP can be downloaded.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
}

/// `POST` / `GET /api/user/export`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportAnswer {
    pub export: ExportView,
}
