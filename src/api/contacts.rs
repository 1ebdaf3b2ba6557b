//! `/api/contacts/*`: the contact list, blocking, address-book matching.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sign_fields;

/// A saved (or blocked) user, as the owner of the list sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    pub id: i64,
    /// The name the owner saved.
    pub name: String,
    /// The name the user gave themselves.
    pub profile_name: String,
    pub phone_number: String,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
    pub is_contact: bool,
    pub is_blocked: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub is_online: bool,
}

sign_fields!(Contact {
    links: [avatar_url],
    parts: []
});

/// `GET /api/contacts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactList {
    pub contacts: Vec<Contact>,
}

sign_fields!(ContactList {
    links: [],
    parts: [contacts]
});

/// `POST /api/contacts`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddContactRequest {
    pub phone_number: String,
    /// 1–255 characters.
    pub contact_name: String,
}

/// The contact saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedContact {
    pub id: i64,
    pub name: String,
    pub phone_number: String,
}

/// 201 when added, 200 when it was there (renamed).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactAdded {
    pub success: bool,
    pub contact: SavedContact,
}

/// `PUT /api/contacts/{id}/block` toggles: the state after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockToggled {
    pub success: bool,
    pub is_blocked: bool,
}

/// `POST /api/contacts/sync`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SyncContactsRequest {
    /// At most 1000 numbers, E.164.
    pub phone_numbers: Vec<String>,
}

/// A Courier user found by number.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchedUser {
    pub id: i64,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
}

sign_fields!(MatchedUser {
    links: [avatar_url],
    parts: []
});

/// A number of the address book that belongs to a Courier user.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactMatch {
    pub phone_number: String,
    pub user: MatchedUser,
    pub is_contact: bool,
}

sign_fields!(ContactMatch {
    links: [],
    parts: [user]
});

/// The numbers that matched, and those that are not phone numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactMatches {
    pub matches: Vec<ContactMatch>,
    pub invalid: Vec<String>,
}

sign_fields!(ContactMatches {
    links: [],
    parts: [matches]
});
