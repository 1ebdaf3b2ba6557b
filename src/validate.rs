//! Input rules shared by the REST routes and the WebSocket frames.

use crate::error::ApiError;

/// A phone number in international form (`+` and the country code), answered in E.164
/// (`+14155550123`), so that `+1 (415) 555-0123` and `+14155550123` are one number. Spaces,
/// dashes, dots and brackets are allowed and dropped; the number must be valid for its
/// country (libphonenumber's metadata, through the `phonenumber` crate).
pub fn phone(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let refused = || {
        ApiError::invalid(
            field,
            "must be a valid phone number in international form, like +14155550123",
        )
    };
    let shaped = value.starts_with('+')
        && value.len() <= 32
        && value[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b" -.()".contains(&b));
    if !shaped {
        return Err(refused());
    }
    let number = phonenumber::parse(None, value).map_err(|_| refused())?;
    if !phonenumber::is_valid(&number) {
        return Err(refused());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
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

/// Invisible formatting characters (bidirectional overrides and isolates, zero-width marks)
/// that can make a name display as something else, like `invoice\u{202E}fdp.exe` showing as
/// `invoiceexe.pdf`.
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Pictographs that a zero-width joiner may bind into one emoji (👨‍👩‍👧, 🏳️‍🌈).
fn is_pictograph(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' | '\u{FE0F}')
}

/// A display name (a user's, a group's, a saved contact's): `text` rules after removing the
/// invisible formatting characters of [`is_format`], except a zero-width joiner between two
/// pictographs, which is part of an emoji.
pub fn name(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let chars: Vec<char> = value.chars().collect();
    let visible: String = chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            let joins_emoji = c == '\u{200D}'
                && i > 0
                && is_pictograph(chars[i - 1])
                && chars.get(i + 1).copied().is_some_and(is_pictograph);
            !is_format(c) || joins_emoji
        })
        .map(|(_, c)| *c)
        .collect();
    text(field, &visible, min, max)
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
    fn phone_numbers_are_checked_and_written_in_e164() {
        for (given, e164) in [
            ("+14155550123", "+14155550123"),
            ("+1 (415) 555-0123", "+14155550123"),
            (" +1 415.555.0123 ", "+14155550123"),
            ("+351 912 345 678", "+351912345678"),
            ("+4915112345678", "+4915112345678"),
        ] {
            assert_eq!(phone("p", given).unwrap(), e164, "{given}");
        }
        for bad in [
            "14155550123",
            "+0123456789",
            "+1",
            "+1415555012345678",
            "+15550100001",
            "+1-800-FLOWERS",
            "+999123456",
            "",
            "+",
        ] {
            assert!(phone("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_lose_invisible_formatting_but_keep_emoji() {
        assert_eq!(name("n", "Ana\u{202E}lirpa", 1, 50).unwrap(), "Analirpa");
        assert_eq!(
            name("n", "\u{2066}B\u{200B}o\u{FEFF}\u{2069}", 1, 50).unwrap(),
            "Bo"
        );
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(name("n", family, 1, 50).unwrap(), family);
        assert_eq!(name("n", "a\u{200D}b", 1, 50).unwrap(), "ab");
        assert!(
            name("n", "\u{200B}\u{202E}", 1, 50).is_err(),
            "nothing visible left"
        );
    }

    #[test]
    fn text_counts_characters_not_bytes() {
        assert_eq!(text("n", "  Zoë  ", 1, 3).unwrap(), "Zoë");
        assert!(text("n", "   ", 1, 3).is_err());
        assert!(text("n", "abcd", 1, 3).is_err());
        assert!(text("n", "a\u{0007}", 1, 3).is_err());
    }
}
