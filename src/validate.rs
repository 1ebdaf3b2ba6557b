//! Input rules shared by the REST routes and the WebSocket frames.

use crate::error::ApiError;

/// A phone number in E.164 form: `+`, a non-zero digit, then 6 to 14 more digits.
pub fn phone(field: &str, value: &str) -> Result<(), ApiError> {
    let digits = value.strip_prefix('+').unwrap_or("");
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "must be a phone number in E.164 form, like +14155550123",
        ))
    }
}

/// A country calling code like `+1` or `+351`, which `phone` must start with.
pub fn country_code(value: &str, phone: &str) -> Result<(), ApiError> {
    let digits = value.strip_prefix('+').unwrap_or("");
    let ok = (1..=4).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(ApiError::invalid(
            "country_code",
            "must be a calling code like +1 or +44",
        ));
    }
    if !phone.starts_with(value) {
        return Err(ApiError::invalid(
            "country_code",
            "does not match the phone number",
        ));
    }
    Ok(())
}

/// Free text of `min..=max` characters (not bytes) without control characters.
/// Returns the text with surrounding whitespace removed.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(ApiError::invalid(
            field,
            if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers() {
        for ok in ["+14155550123", "+351912345678", "+4915112345678"] {
            assert!(phone("p", ok).is_ok(), "{ok}");
        }
        for bad in [
            "14155550123",
            "+0123456789",
            "+1",
            "+1415555012345678",
            "+1415-555-0123",
            "",
            "+",
        ] {
            assert!(phone("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_counts_characters_not_bytes() {
        assert_eq!(text("n", "  Zoë  ", 1, 3).unwrap(), "Zoë");
        assert!(text("n", "   ", 1, 3).is_err());
        assert!(text("n", "abcd", 1, 3).is_err());
        assert!(text("n", "a\u{0007}", 1, 3).is_err());
    }
}
