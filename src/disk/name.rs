//! The one set of rules for file names a client may give a server (the file
//! server's library, FTP uploads, `netkit recv`): plain, visible names that
//! stay in the directory they are created in.

/// Longest name accepted, in bytes (Linux's NAME_MAX).
pub const MAX_NAME: usize = 255;

/// Why a name is refused; the text is what the client sees after `ERR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty name.
    #[error("empty file name")]
    Empty,
    /// Longer than [`MAX_NAME`] bytes.
    #[error("file name longer than 255 bytes")]
    TooLong,
    /// Contains `/` or `\`.
    #[error("file name must not contain '/' or '\\'")]
    Separator,
    /// Is `.` or `..` (a directory, not a file).
    #[error("file name must not be '.' or '..'")]
    DotDot,
    /// Starts with `.`.
    #[error("hidden file names (starting with '.') are not served")]
    Hidden,
    /// Contains NUL or another control character (tab and newline would break listings).
    #[error("file name must not contain control characters")]
    Control,
    /// Contains a character that reorders or hides text (bidirectional
    /// controls such as U+202E, zero-width characters): a name that displays
    /// as something it is not (`gpj.exe` shown as `exe.jpg`).
    #[error("file name must not contain invisible or text-direction characters")]
    Invisible,
    /// Starts or ends with white space.
    #[error("file name must not start or end with a space")]
    Spaces,
}

/// Checks that `name` is a plain file name the library may serve or store.
pub fn check(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME {
        return Err(NameError::TooLong);
    }
    if name.contains(['/', '\\']) {
        return Err(NameError::Separator);
    }
    if name == "." || name == ".." {
        return Err(NameError::DotDot);
    }
    if name.starts_with('.') {
        return Err(NameError::Hidden);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if name.chars().any(deceptive) {
        return Err(NameError::Invisible);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(NameError::Spaces);
    }
    Ok(())
}

/// Characters that change how the text around them displays without being
/// seen: bidirectional marks, embeddings, overrides and isolates, zero-width
/// spaces and joiners, the byte order mark.
pub fn deceptive(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for ok in ["a", "report.pdf", "with space.txt", "中文.txt", "a.b.c"] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        assert_eq!(check(&"x".repeat(255)), Ok(()));
    }

    #[test]
    fn hostile_names_fail() {
        assert_eq!(check(""), Err(NameError::Empty));
        assert_eq!(check(&"x".repeat(256)), Err(NameError::TooLong));
        assert_eq!(check("a/b"), Err(NameError::Separator));
        assert_eq!(check("/etc/passwd"), Err(NameError::Separator));
        assert_eq!(check("a\\b"), Err(NameError::Separator));
        assert_eq!(check(".."), Err(NameError::DotDot));
        assert_eq!(check("x..y"), Ok(()));
        assert_eq!(check(".bashrc"), Err(NameError::Hidden));
        assert_eq!(check("."), Err(NameError::DotDot));
        assert_eq!(check("a\0b"), Err(NameError::Control));
        assert_eq!(check("a\nb"), Err(NameError::Control));
        assert_eq!(check("a\tb"), Err(NameError::Control));
        assert_eq!(check("gpj\u{202E}.exe"), Err(NameError::Invisible));
        assert_eq!(check("a\u{200B}b"), Err(NameError::Invisible));
        assert_eq!(check("a\u{2067}b"), Err(NameError::Invisible));
        assert_eq!(check(" a"), Err(NameError::Spaces));
        assert_eq!(check("a "), Err(NameError::Spaces));
    }
}
