//! HTTP Basic authentication (RFC 7617): users with a password in plain
//! text or as an argon2, bcrypt or SHA-512-crypt hash (`--auth USER:SECRET`,
//! `--auth-file FILE` in htpasswd style), checked on every request.
//!
//! - Plain passwords are compared as SHA-256 digests in constant time, so
//!   neither their content nor their length leaks through timing; an
//!   unknown user costs the same compare against a dummy secret.
//! - A hash is verified once per distinct `Authorization` value; the
//!   digests of values that passed are remembered (bounded), since argon2
//!   and bcrypt take milliseconds each, which a request must not pay.
//! - Weak or unknown hash schemes (`$apr1$` MD5, `{SHA}`, DES crypt) are
//!   refused at start-up with the line that has them.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine;

use super::request::Request;
use super::response::Response;

/// How a user's password is known.
#[derive(Clone)]
enum Secret {
    /// SHA-256 of the plain password.
    Plain([u8; 32]),
    /// A PHC argon2 string (`$argon2id$...`).
    Argon2(String),
    /// A bcrypt hash (`$2b$...`, `$2y$...`, `$2a$...`).
    Bcrypt(String),
    /// A SHA-512 crypt hash (`$6$...`).
    Sha512Crypt(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Plain(_) => "Plain(..)",
            Secret::Argon2(_) => "Argon2(..)",
            Secret::Bcrypt(_) => "Bcrypt(..)",
            Secret::Sha512Crypt(_) => "Sha512Crypt(..)",
        })
    }
}

/// Longest `user:password` taken, in bytes (longer is refused).
const MAX_CREDENTIALS: usize = 1024;

/// Most `Authorization` values remembered as verified.
const VERIFIED_MAX: usize = 4096;

/// The users who may use the server.
#[derive(Debug)]
pub struct Auth {
    users: HashMap<String, (Arc<str>, Secret)>,
    /// The realm of the challenge.
    realm: String,
    /// SHA-256 of `Authorization` values whose hash verified.
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// Why a credential could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// `--auth` without a colon, or an empty user.
    #[error("{0}: expected USER:PASSWORD or USER:HASH")]
    Form(String),
    /// A hash scheme netkit does not accept.
    #[error("{0}")]
    Scheme(String),
    /// The same user twice.
    #[error("user {0:?} is given twice")]
    Twice(String),
    /// The file could not be read.
    #[error("{path}: {err}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        err: std::io::Error,
    },
}

/// SHA-256 of `data`.
fn digest(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// What a secret given as text is: a hash when it starts like one of the
/// accepted schemes, refused when it looks like a weak one, plain otherwise.
fn secret_of(text: &str, plain_allowed: bool, whose: &str) -> Result<Secret, AuthError> {
    if text.starts_with("$argon2") {
        argon2::PasswordHash::new(text)
            .map_err(|e| AuthError::Scheme(format!("{whose}: not a valid argon2 hash: {e}")))?;
        return Ok(Secret::Argon2(text.to_string()));
    }
    if ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        return Ok(Secret::Bcrypt(text.to_string()));
    }
    if text.starts_with("$6$") {
        return Ok(Secret::Sha512Crypt(text.to_string()));
    }
    let weak = if text.starts_with("$apr1$") || text.starts_with("$1$") {
        Some("MD5 crypt")
    } else if text.starts_with("{SHA}") {
        Some("unsalted SHA-1")
    } else if text.starts_with("$5$") {
        Some("SHA-256 crypt")
    } else if text.starts_with('$') && !plain_allowed {
        Some("an unknown scheme")
    } else if !plain_allowed && text.len() == 13 {
        Some("DES crypt")
    } else {
        None
    };
    if let Some(what) = weak {
        return Err(AuthError::Scheme(format!(
            "{whose}: {what} is not accepted; use argon2, bcrypt or SHA-512 crypt (htpasswd -B, mkpasswd -m sha-512)"
        )));
    }
    if !plain_allowed {
        return Err(AuthError::Scheme(format!(
            "{whose}: not a password hash; use argon2, bcrypt or SHA-512 crypt"
        )));
    }
    Ok(Secret::Plain(digest(text.as_bytes())))
}

impl Auth {
    /// No users yet; challenges name `realm`.
    pub fn new(realm: &str) -> Auth {
        Auth {
            users: HashMap::new(),
            realm: realm.replace(['"', '\\'], ""),
            verified: Mutex::new(HashSet::new()),
        }
    }

    /// Adds `USER:PASSWORD` or `USER:HASH` (as given to `--auth`).
    pub fn add(&mut self, spec: &str) -> Result<(), AuthError> {
        let (user, secret) = spec
            .split_once(':')
            .filter(|(u, _)| !u.is_empty())
            .ok_or_else(|| AuthError::Form("--auth".into()))?;
        let secret = secret_of(secret, true, &format!("--auth {user}"))?;
        self.insert(user, secret)
    }

    /// Adds every `user:hash` line of an htpasswd-style file (blank lines
    /// and `#` comments skipped; plain passwords are not accepted there).
    pub fn add_file(&mut self, path: &Path) -> Result<(), AuthError> {
        let text = std::fs::read_to_string(path).map_err(|err| AuthError::File {
            path: path.display().to_string(),
            err,
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let whose = format!("{} line {}", path.display(), n + 1);
            let (user, hash) = line
                .split_once(':')
                .filter(|(u, _)| !u.is_empty())
                .ok_or(AuthError::Form(whose.clone()))?;
            let secret = secret_of(hash, false, &whose)?;
            self.insert(user, secret)?;
        }
        Ok(())
    }

    fn insert(&mut self, user: &str, secret: Secret) -> Result<(), AuthError> {
        if self
            .users
            .insert(user.to_string(), (Arc::from(user), secret))
            .is_some()
        {
            return Err(AuthError::Twice(user.to_string()));
        }
        Ok(())
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True if no user is known (then nobody gets in).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user `req` authenticates as, if its credentials are right.
    pub fn user(&self, req: &Request) -> Option<Arc<str>> {
        let value = req.header("authorization")?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        // Decoded on the stack: no allocation per request.
        let mut buf = [0u8; MAX_CREDENTIALS];
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(token.trim(), &mut buf)
            .ok()?;
        let decoded = std::str::from_utf8(&buf[..n]).ok()?;
        let (user, password) = decoded.split_once(':')?;
        match self.users.get(user) {
            Some((name, Secret::Plain(want))) => {
                same(want, &digest(password.as_bytes())).then(|| Arc::clone(name))
            }
            Some((name, hashed)) => self
                .verify_hash(hashed, value, password)
                .then(|| Arc::clone(name)),
            None => {
                // As long as a wrong password of a real user.
                let _ = same(&digest(b"netkit"), &digest(password.as_bytes()));
                None
            }
        }
    }

    /// A hash check, remembered for this exact header value once it passed.
    fn verify_hash(&self, secret: &Secret, header: &str, password: &str) -> bool {
        let key = digest(header.as_bytes());
        let lock = || self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if lock().contains(&key) {
            return true;
        }
        let ok = match secret {
            Secret::Argon2(h) => argon2::PasswordHash::new(h).is_ok_and(|parsed| {
                use argon2::PasswordVerifier;
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            }),
            Secret::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Secret::Sha512Crypt(h) => sha_crypt::sha512_check(password, h).is_ok(),
            Secret::Plain(_) => false,
        };
        if ok {
            let mut set = lock();
            if set.len() >= VERIFIED_MAX {
                set.clear();
            }
            set.insert(key);
        }
        ok
    }

    /// The 401 answer that asks for credentials.
    pub fn challenge(&self) -> Response {
        Response::error(401, "this server needs a user name and password").header(
            "WWW-Authenticate",
            format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Head, parse_head};

    fn req_with(auth: Option<&str>) -> Request {
        let head = match auth {
            Some(a) => format!("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: {a}\r\n\r\n"),
            None => "GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_string(),
        };
        match parse_head(head.as_bytes()) {
            Head::Complete { request, .. } => request,
            _ => panic!("head parses"),
        }
    }

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn plain_and_hashed_users() {
        let mut auth = Auth::new("netkit");
        auth.add("alice:s3cret:with:colons").unwrap();
        let bcrypt = bcrypt::hash("bpass", 4).unwrap();
        auth.add(&format!("bob:{bcrypt}")).unwrap();
        let sha = sha_crypt::sha512_simple("spass", &sha_crypt::Sha512Params::new(1000).unwrap())
            .unwrap();
        auth.add(&format!("carol:{sha}")).unwrap();
        let argon = {
            use argon2::PasswordHasher;
            let salt = argon2::password_hash::SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
            argon2::Argon2::default()
                .hash_password(b"apass", &salt)
                .unwrap()
                .to_string()
        };
        auth.add(&format!("dave:{argon}")).unwrap();
        for (user, pass) in [
            ("alice", "s3cret:with:colons"),
            ("bob", "bpass"),
            ("carol", "spass"),
            ("dave", "apass"),
        ] {
            let r = req_with(Some(&basic(user, pass)));
            assert_eq!(auth.user(&r).as_deref(), Some(user));
            // Remembered: still right the second time.
            assert_eq!(auth.user(&r).as_deref(), Some(user));
            assert_eq!(auth.user(&req_with(Some(&basic(user, "wrong")))), None);
        }
        assert_eq!(auth.user(&req_with(Some(&basic("eve", "x")))), None);
        assert_eq!(auth.user(&req_with(None)), None);
        assert_eq!(auth.user(&req_with(Some("Bearer abc"))), None);
        assert_eq!(auth.user(&req_with(Some("Basic !!!"))), None);
        assert_eq!(
            auth.user(&req_with(Some(&basic("alice", "s3cret:with:colon")))),
            None
        );
    }

    #[test]
    fn weak_schemes_and_bad_forms_are_refused() {
        let mut auth = Auth::new("r");
        assert!(auth.add("nocolon").is_err());
        assert!(auth.add(":pass").is_err());
        let e = auth.add("x:$apr1$abc$def").unwrap_err().to_string();
        assert!(e.contains("MD5"), "{e}");
        assert!(auth.add("y:{SHA}abc=").is_err());
        auth.add("z:1").unwrap();
        assert!(matches!(auth.add("z:2"), Err(AuthError::Twice(_))));

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("users");
        std::fs::write(&f, "# users\n\nz2:$6$rounds=1000$salt$abc\nbad:plaintext\n").unwrap();
        let e = Auth::new("r").add_file(&f).unwrap_err().to_string();
        assert!(
            e.contains("line 4") && e.contains("not a password hash"),
            "{e}"
        );
    }

    #[test]
    fn the_challenge_names_the_realm() {
        let auth = Auth::new("my \"files\"");
        let r = auth.challenge();
        assert_eq!(r.status, 401);
        let h = r
            .headers
            .iter()
            .find(|(n, _)| *n == "WWW-Authenticate")
            .unwrap();
        assert_eq!(h.1, "Basic realm=\"my files\", charset=\"UTF-8\"");
    }
}
