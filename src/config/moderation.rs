//! The `[moderation]` section: system admins by phone number, the content filter, the rate of
//! reports, and the thresholds of automatic suspension.

use chrono::TimeDelta;
use courier_actors::moderation::{FilterAction, Policy};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// What the content filter does with a matching message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterActionSetting {
    /// 422 `content_blocked`; nothing is stored.
    #[default]
    Refuse,
    /// Stored and delivered, and reported to the admins by the system.
    Flag,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModerationSettings {
    /// Phone numbers (E.164) of system admins, besides those granted with `courier admin grant`.
    pub admins: Vec<String>,
    /// Words (matched as whole words) or regular expressions, case-insensitive.
    pub blocked_patterns: Vec<String>,
    pub filter_action: FilterActionSetting,
    /// Reports one user may file per hour.
    pub reports_per_hour: u32,
    /// Suspend a user reported by this many distinct users within the window (0: never).
    pub auto_suspend_reports: u32,
    pub auto_suspend_reports_window_secs: u64,
    /// Suspend a user who writes first to this many strangers within the window (0: never).
    pub auto_suspend_strangers: u32,
    pub auto_suspend_strangers_window_secs: u64,
}

impl Default for ModerationSettings {
    fn default() -> Self {
        ModerationSettings {
            admins: Vec::new(),
            blocked_patterns: Vec::new(),
            filter_action: FilterActionSetting::Refuse,
            reports_per_hour: 20,
            auto_suspend_reports: 5,
            auto_suspend_reports_window_secs: 24 * 3600,
            auto_suspend_strangers: 30,
            auto_suspend_strangers_window_secs: 3600,
        }
    }
}

impl ModerationSettings {
    /// The engine's policy; fails on a pattern that is not a valid regular expression.
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let action = match self.filter_action {
            FilterActionSetting::Refuse => FilterAction::Refuse,
            FilterActionSetting::Flag => FilterAction::Flag,
        };
        Policy::new(
            &self.blocked_patterns,
            action,
            self.auto_suspend_strangers,
            secs(self.auto_suspend_strangers_window_secs),
        )
        .map_err(|e| ConfigError(format!("moderation.blocked_patterns: {e}")))
    }

    /// The window of report-based suspension.
    pub fn reports_window(&self) -> TimeDelta {
        secs(self.auto_suspend_reports_window_secs)
    }

    /// Refuses malformed admin numbers, invalid patterns and empty windows.
    pub fn check(&self) -> Result<(), ConfigError> {
        for phone in &self.admins {
            if crate::validate::phone("admins", phone).ok().as_ref() != Some(phone) {
                return Err(ConfigError(format!(
                    "moderation.admins: {phone:?} is not a valid phone number in E.164 form (like +14155550123)"
                )));
            }
        }
        if self.auto_suspend_reports_window_secs == 0
            || self.auto_suspend_strangers_window_secs == 0
        {
            return Err(ConfigError(
                "moderation: auto-suspension windows must be at least 1 second".into(),
            ));
        }
        if self.reports_per_hour == 0 {
            return Err(ConfigError(
                "moderation.reports_per_hour must be at least 1".into(),
            ));
        }
        self.policy().map(|_| ())
    }
}

fn secs(s: u64) -> TimeDelta {
    TimeDelta::seconds(
        i64::try_from(s)
            .unwrap_or(i64::MAX / 1000)
            .min(i64::MAX / 1000),
    )
}
