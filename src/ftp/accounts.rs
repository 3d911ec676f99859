//! Who may log in: anonymous (`anonymous` or `ftp`, any password; on by
//! default, `--no-anonymous` turns it off) and named accounts from `--user`
//! and `--users FILE`, each with an Argon2 password hash (PHC string,
//! `$argon2id$...`, made by `netkit ftp hash`), its own root and its own
//! read-only or writable flag.
//!
//! An account line is `NAME:HASH[:ROOT[:MODE]]`: ROOT (default: the
//! server's root; a relative one is taken inside it) and MODE `ro`, `rw` or
//! `rw+overwrite` (default: the server's `--writable`/`--overwrite`). In a
//! file, blank lines and lines starting with `#` are skipped.
//!
//! Checking a password costs an Argon2 run (about 19 MiB and tens of
//! milliseconds), so at most [`MAX_VERIFYING`] run at once per process.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::listing::Access;
use super::path::Jail;

/// Password checks running at once per process, at most.
pub const MAX_VERIFYING: usize = 2;

/// A place to log in to: its root and what it may do there.
#[derive(Debug, Clone)]
pub struct Home {
    /// The account's root jail.
    pub jail: Jail,
    /// Read-only, writable, writable with overwrite.
    pub access: Access,
}

/// A named account.
#[derive(Debug, Clone)]
pub struct Account {
    /// The login name (compared exactly).
    pub name: String,
    /// The Argon2 PHC string.
    hash: String,
    /// Where it lands.
    pub home: Home,
}

/// Every way to log in to one server.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// The anonymous home, unless anonymous login is off.
    pub anonymous: Option<Home>,
    /// Named accounts.
    pub named: Vec<Account>,
    /// The server's root, where a session is before it logs in.
    pub default_jail: Jail,
}

/// The outcome of `USER name` + `PASS password`.
#[derive(Debug)]
pub enum Login<'a> {
    /// Logged in, here.
    Ok(&'a Home),
    /// Wrong name or password (the same answer for both).
    Refused,
    /// An anonymous name while anonymous login is off.
    NoAnonymous,
}

impl Accounts {
    /// Checks a login; `name` as the client typed it.
    pub fn login(&self, name: &str, password: &[u8]) -> Login<'_> {
        if is_anonymous(&name.to_ascii_lowercase()) && !self.named.iter().any(|a| a.name == name) {
            return match &self.anonymous {
                Some(home) => Login::Ok(home),
                None => Login::NoAnonymous,
            };
        }
        let Some(account) = self.named.iter().find(|a| a.name == name) else {
            // Spend the same time as for a real account: no name probing.
            let _ = verify(DUMMY_HASH, password);
            return Login::Refused;
        };
        if verify(&account.hash, password) {
            Login::Ok(&account.home)
        } else {
            Login::Refused
        }
    }

    /// True if `name` logs in anonymously (and anonymous login is on).
    pub fn anonymous_name(&self, name: &str) -> bool {
        is_anonymous(&name.to_ascii_lowercase()) && !self.named.iter().any(|a| a.name == name)
    }
}

/// True for the user names of anonymous FTP (already lowercased).
pub fn is_anonymous(name: &str) -> bool {
    name == "anonymous" || name == "ftp"
}

/// A hash of an unguessable password, checked for unknown names.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bmV0a2l0LWR1bW15LXNhbHQ$3bt4Wf9KL0bKp2vpe3tI/3Pz1M7Y9UXKQ5uxj7lKl8E";

/// Checks `password` against PHC string `hash`, at most [`MAX_VERIFYING`] at once.
fn verify(hash: &str, password: &[u8]) -> bool {
    static RUNNING: Mutex<usize> = Mutex::new(0);
    static FREED: Condvar = Condvar::new();
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= MAX_VERIFYING {
            running = FREED.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
    }
    let ok = Argon2::default().verify_password(password, &parsed).is_ok();
    *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
    FREED.notify_one();
    ok
}

/// A new Argon2id PHC string for `password` (default parameters, random salt).
pub fn hash_password(password: &[u8]) -> Result<String, String> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt))
        .map_err(|e| format!("no randomness for the salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Parses one `NAME:HASH[:ROOT[:MODE]]` line; `root` and `access` are the
/// server's, for what the line leaves out.
pub fn parse_account(line: &str, root: &Path, access: Access) -> Result<Account, String> {
    let mut parts = line.trim().splitn(4, ':');
    let name = parts.next().unwrap_or("").to_string();
    let hash = parts.next().unwrap_or("").to_string();
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("account '{name}': a name without spaces is needed"));
    }
    if is_anonymous(&name.to_ascii_lowercase()) {
        return Err(format!("account '{name}': that name is anonymous FTP's"));
    }
    PasswordHash::new(&hash).map_err(|e| {
        format!("account '{name}': not a PHC password hash ({e}); make one with `netkit ftp hash`")
    })?;
    let home_root = match parts.next().filter(|r| !r.is_empty()) {
        Some(r) if Path::new(r).is_absolute() => PathBuf::from(r),
        Some(r) => root.join(r),
        None => root.to_path_buf(),
    };
    let access = match parts.next() {
        None | Some("") => access,
        Some("ro") => Access::default(),
        Some("rw") => Access {
            writable: true,
            overwrite: false,
        },
        Some("rw+overwrite") => Access {
            writable: true,
            overwrite: true,
        },
        Some(m) => {
            return Err(format!(
                "account '{name}': mode '{m}' (use ro, rw or rw+overwrite)"
            ));
        }
    };
    let jail = Jail::new(&home_root).map_err(|e| format!("account '{name}': {e}"))?;
    Ok(Account {
        name,
        hash,
        home: Home { jail, access },
    })
}

/// Parses a users file (see the module docs).
pub fn parse_file(text: &str, root: &Path, access: Access) -> Result<Vec<Account>, String> {
    let mut accounts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        accounts
            .push(parse_account(line, root, access).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_names() {
        assert!(is_anonymous("anonymous"));
        assert!(is_anonymous("ftp"));
        assert!(!is_anonymous("root"));
        assert!(!is_anonymous(""));
    }

    #[test]
    fn the_dummy_hash_is_a_valid_phc_string() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn accounts_lines_hashes_and_logins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("alice")).unwrap();
        let hash = hash_password(b"secret").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let rw = Access {
            writable: true,
            overwrite: false,
        };
        let text = format!("# comment\n\nalice:{hash}:alice:ro\nbob:{hash}\n");
        let named = parse_file(&text, dir.path(), rw).unwrap();
        assert_eq!(
            named[0].home.jail.root(),
            dir.path().join("alice").canonicalize().unwrap()
        );
        assert_eq!(named[0].home.access, Access::default());
        assert_eq!(named[1].home.access, rw);
        let accounts = Accounts {
            anonymous: None,
            named,
            default_jail: Jail::new(dir.path()).unwrap(),
        };
        assert!(matches!(accounts.login("alice", b"secret"), Login::Ok(_)));
        assert!(matches!(accounts.login("alice", b"wrong"), Login::Refused));
        assert!(matches!(accounts.login("Alice", b"secret"), Login::Refused));
        assert!(matches!(
            accounts.login("nobody", b"secret"),
            Login::Refused
        ));
        assert!(matches!(
            accounts.login("anonymous", b"x"),
            Login::NoAnonymous
        ));
        for bad in [
            "alice",
            ":x",
            "anonymous:$argon2id$",
            "carol:plain-password",
            &format!("dave:{hash}:nothere"),
            &format!("erin:{hash}::rwx"),
        ] {
            assert!(parse_account(bad, dir.path(), rw).is_err(), "{bad}");
        }
        let err = parse_file("\nzed:nohash\n", dir.path(), rw).unwrap_err();
        assert!(err.starts_with("line 2: "), "{err}");
    }
}
