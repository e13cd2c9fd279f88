//! Text from input files, made safe to show.

/// `text` with every control character written as an escape (`\x1b`), so that text from a file
/// cannot drive the terminal it is shown on.
pub fn visible(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\x{:02x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(visible("sao paulo"), "sao paulo");
        assert_eq!(visible("a\u{1b}[2Jb\u{7}\u{9b}c"), "a\\x1b[2Jb\\x07\\x9bc");
    }
}
