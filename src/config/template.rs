//! The commented `config.toml` template: every key with its default value, printed by
//! `courier config defaults`.
//!
//! The values come from the sections' `Default` impls, serialized; this file adds only the
//! notes that explain them (from `notes`). A test keeps the repository's `config.toml` equal
//! to the template.

use std::collections::HashSet;

use super::notes::NOTES;
use super::Settings;

/// Comment lines are wrapped to this width.
const WIDTH: usize = 96;

/// The template: every key commented out with its default value, and its note above it.
pub fn defaults() -> String {
    render().0
}

/// The template, and the notes no key used (a renamed or removed key).
fn render() -> (String, Vec<&'static str>) {
    // unwrap: structs of strings, numbers, booleans and lists always serialize to TOML.
    let values = toml::to_string(&Settings::default()).unwrap();
    let mut used = HashSet::new();
    let mut out = String::new();
    let mut note = |key: &str, out: &mut String| {
        if let Some((k, text)) = NOTES.iter().find(|(k, _)| *k == key) {
            used.insert(*k);
            comment(text, out);
        }
    };
    note("", &mut out);
    let mut section = String::new();
    for line in values.lines().filter(|l| !l.is_empty()) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            out.push('\n');
            note(name, &mut out);
            out.push_str(line);
        } else {
            let key = line.split(" = ").next().unwrap_or_default();
            note(&format!("{section}.{key}"), &mut out);
            out.push_str("# ");
            out.push_str(line);
        }
        out.push('\n');
    }
    let unused = NOTES
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !used.contains(k))
        .collect();
    (out, unused)
}

/// Appends `text` as `#` lines of at most [`WIDTH`] characters.
fn comment(text: &str, out: &mut String) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line.truncate(1);
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_toml_is_the_printed_template() {
        let (template, unused) = render();
        assert!(
            unused.is_empty(),
            "notes for keys that do not exist: {unused:?}"
        );
        let file = include_str!("../../config.toml");
        let first_difference = file
            .lines()
            .zip(template.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1);
        assert!(
            file == template,
            "config.toml differs from the defaults (first at line {first_difference:?}): \
             regenerate it with `cargo run -- config defaults > config.toml`"
        );
    }

    #[test]
    fn the_template_uncommented_reads_back_as_the_defaults() {
        let uncommented: String = defaults()
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(kv) if is_key_line(kv) => kv,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let read: Settings = toml::from_str(&uncommented).unwrap();
        assert!(uncommented.contains("\nbind = "), "{uncommented}");
        assert_eq!(
            toml::to_string(&read).unwrap(),
            toml::to_string(&Settings::default()).unwrap()
        );
    }

    /// `key = value`, as the values are printed (a note never reads so).
    fn is_key_line(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
    }
}
