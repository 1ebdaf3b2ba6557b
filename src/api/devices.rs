//! `/api/devices`: the push target of the caller's device session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    /// Browsers add it; not used.
    #[serde(rename = "expirationTime")]
    #[schema(value_type = Option<f64>)]
    pub expiration_time: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    pub p256dh: String,
    pub auth: String,
}

/// `POST /api/devices`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// `fcm`, `apns`, `webpush` or `webhook`, among those the server is configured for.
    pub platform: String,
    /// FCM registration token, APNs device token (hex), or the webhook's id of the device.
    pub token: Option<String>,
    /// Web Push only.
    pub subscription: Option<Subscription>,
}

/// The caller's push target.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: i64,
    pub platform: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/devices`: the target now registered for this device session.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceRegistered {
    pub success: bool,
    pub device: DeviceView,
}

/// `GET /api/devices`: this session's target, and what the server can push to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushInfo {
    pub device: Option<DeviceView>,
    /// The platforms devices may register for here.
    pub platforms: Vec<&'static str>,
    /// The VAPID key a browser subscribes with (`applicationServerKey`), when Web Push is on.
    pub vapid_public_key: Option<String>,
}

/// `DELETE /api/devices`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceRemoved {
    pub success: bool,
    /// Whether there was a target to remove.
    pub removed: bool,
}
