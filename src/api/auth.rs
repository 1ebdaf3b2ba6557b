//! `/api/auth/*`: sign-in with a one-time code, token refresh.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sign_fields;

/// `POST /api/auth/send-otp`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendOtpRequest {
    /// E.164, e.g. `+14155550123`.
    pub phone_number: String,
    /// E.g. `+1`; must match the number.
    pub country_code: Option<String>,
}

/// A code was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpSent {
    pub success: bool,
    pub message: String,
    pub expires_at: DateTime<Utc>,
    /// `sms`: sent to the phone; `console`: written to the server's log (the development
    /// provider, `sms.provider = "console"`), where whoever runs the server reads it.
    pub delivery: String,
}

/// `POST /api/auth/verify-otp`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyOtpRequest {
    pub phone_number: String,
    /// The 6-digit code.
    pub otp: String,
    /// Display name for a new account (1–255 characters).
    pub name: Option<String>,
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedInUser {
    pub id: i64,
    pub phone_number: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: String,
    pub created_at: DateTime<Utc>,
}

sign_fields!(SignedInUser {
    links: [avatar_url],
    parts: []
});

/// An access token and the refresh token of the same device session.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
}

/// A sign-in: the account (created on first sign-in) and its tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    pub success: bool,
    pub is_new_user: bool,
    pub user: SignedInUser,
    pub tokens: TokenPair,
}

sign_fields!(SignedIn {
    links: [],
    parts: [user]
});
