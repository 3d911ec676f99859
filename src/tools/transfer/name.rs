//! Which file names a receiver accepts: the crate's one rule set,
//! [`crate::disk::name`], as a [`TransferError`].

use super::TransferError;

pub use crate::disk::name::MAX_NAME;

/// Checks that `name` is a plain file name that is safe to create in a directory.
pub fn check_name(name: &str) -> Result<(), TransferError> {
    crate::disk::name::check(name).map_err(|e| TransferError::BadName {
        name: name.to_string(),
        reason: e.to_string(),
    })
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
