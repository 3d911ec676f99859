//! The one place that decides which file names a receiver accepts.

use super::TransferError;

/// Longest file name accepted, in bytes (Linux's NAME_MAX).
pub const MAX_NAME: usize = 255;

/// Checks that `name` is a plain file name that is safe to create in a directory.
pub fn check_name(name: &str) -> Result<(), TransferError> {
    let bad = |reason| {
        Err(TransferError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME {
        return bad("it is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return bad("it names a directory, not a file");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a path separator; only plain file names are accepted");
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if name.starts_with('.') {
        return bad("hidden names (starting with '.') are not accepted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for name in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            ".hidden",
            "a\nb",
        ] {
            assert!(check_name(name).is_err(), "{name:?} should be refused");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
        for name in [
            "report.pdf",
            "a b c",
            "données.txt",
            "x..y",
            &"x".repeat(255),
        ] {
            assert!(check_name(name).is_ok(), "{name:?} should be accepted");
        }
    }
}
