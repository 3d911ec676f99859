//! The server's identity: a certificate chain and its private key, loaded
//! from PEM files (RSA, ECDSA or Ed25519 keys) or made at start-up
//! (self-signed, ECDSA P-256), checked before the server binds, and reloaded
//! when SIGHUP asks for it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::server::reload;

/// Where the identity comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// PEM files: the chain (leaf first) and the key.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A certificate made now for these names (DNS names or IP addresses).
    SelfSigned(Vec<String>),
}

/// A loaded identity.
#[derive(Debug, Clone)]
pub struct Identity {
    /// What rustls signs with.
    pub key: Arc<CertifiedKey>,
    /// The certificate (chain) in PEM, to give a client that should trust it.
    pub cert_pem: String,
    /// SHA-256 of the leaf certificate, as `AB:CD:...` (what browsers show).
    pub fingerprint: String,
}

/// The crypto provider every TLS piece of netkit uses: aws-lc-rs, or ring
/// when built with `--features ring` (kept to measure one against the other,
/// see BENCHMARKS.md, HTTPS).
pub fn provider() -> Arc<CryptoProvider> {
    #[cfg(not(feature = "ring"))]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(feature = "ring")]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

impl Identity {
    /// Loads (or makes) the identity; the error is one line for the user.
    pub fn load(source: &Source) -> Result<Identity, String> {
        match source {
            Source::Files { cert, key } => from_files(cert, key),
            Source::SelfSigned(names) => self_signed(names),
        }
    }
}

fn from_files(cert: &Path, key: &Path) -> Result<Identity, String> {
    let pem = std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain ({e})", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate in it (expected '-----BEGIN CERTIFICATE-----')",
            cert.display()
        ));
    }
    let key_pem = std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "{}: no private key in it ({e}; expected PKCS#8, PKCS#1 or SEC1 PEM)",
            key.display()
        )
    })?;
    let chain_pem = String::from_utf8_lossy(&pem).into_owned();
    let fingerprint = fingerprint(&chain[0]);
    let certified = CertifiedKey::from_der(chain, key_der, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "{} does not match the certificate in {}",
            key.display(),
            cert.display()
        ),
        other => format!("{}: unusable key or certificate: {other}", key.display()),
    })?;
    Ok(Identity {
        key: Arc::new(certified),
        cert_pem: chain_pem,
        fingerprint,
    })
}

fn self_signed(names: &[String]) -> Result<Identity, String> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
    let der = made.cert.der().clone();
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|e| format!("cannot use the self-signed key: {e}"))?;
    let fingerprint = fingerprint(&der);
    let cert_pem = made.cert.pem();
    let certified = CertifiedKey::from_der(vec![der], key, &provider())
        .map_err(|e| format!("cannot use the self-signed certificate: {e}"))?;
    Ok(Identity {
        key: Arc::new(certified),
        cert_pem,
        fingerprint,
    })
}

/// SHA-256 of a certificate as colon-separated hex.
pub fn fingerprint(der: &CertificateDer<'_>) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The certificate resolver: hands every handshake the current identity,
/// reloading it first when a reload was requested since it was loaded. A
/// reload that fails keeps the old identity (and says why in the log).
#[derive(Debug)]
pub struct Reloading {
    source: Source,
    current: RwLock<Arc<CertifiedKey>>,
    loaded_at: AtomicU64,
}

impl Reloading {
    /// Serves `identity`, which was loaded from `source`.
    pub fn new(source: Source, identity: &Identity) -> Reloading {
        Reloading {
            source,
            current: RwLock::new(Arc::clone(&identity.key)),
            loaded_at: AtomicU64::new(reload::generation()),
        }
    }

    /// Reloads if a reload was requested since the last load.
    pub fn refresh(&self) {
        let now = reload::generation();
        let was = self.loaded_at.load(Ordering::SeqCst);
        if now == was
            || self
                .loaded_at
                .compare_exchange(was, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return;
        }
        // A self-signed identity stays what it is: a new one would break
        // every client that pinned the old one.
        if matches!(self.source, Source::SelfSigned(_)) {
            return;
        }
        match Identity::load(&self.source) {
            Ok(id) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = id.key;
                tracing::info!(
                    "netkit: TLS certificate reloaded (SHA-256 {})",
                    id.fingerprint
                );
            }
            Err(e) => tracing::warn!("netkit: TLS reload failed, keeping the old certificate: {e}"),
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.refresh();
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_identity_has_a_fingerprint_and_loads_back_from_files() {
        let id = Identity::load(&Source::SelfSigned(vec!["localhost".into()])).unwrap();
        assert_eq!(id.fingerprint.len(), 32 * 3 - 1);
        assert!(id.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        let dir = tempfile::tempdir().unwrap();
        // A key that belongs to another certificate is refused by name.
        let other = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
        std::fs::write(dir.path().join("c.pem"), &id.cert_pem).unwrap();
        std::fs::write(dir.path().join("k.pem"), other.signing_key.serialize_pem()).unwrap();
        let err = from_files(&dir.path().join("c.pem"), &dir.path().join("k.pem")).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        // Its own key loads, with the same fingerprint.
        std::fs::write(dir.path().join("c.pem"), other.cert.pem()).unwrap();
        let back = from_files(&dir.path().join("c.pem"), &dir.path().join("k.pem")).unwrap();
        assert_eq!(back.fingerprint, fingerprint(other.cert.der()));
        // Files that are not PEM say so.
        std::fs::write(dir.path().join("bad.pem"), "hello").unwrap();
        let err = from_files(&dir.path().join("bad.pem"), &dir.path().join("k.pem")).unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
        let err = from_files(&dir.path().join("c.pem"), &dir.path().join("bad.pem")).unwrap_err();
        assert!(err.contains("no private key"), "{err}");
        let err = from_files(&dir.path().join("none.pem"), &dir.path().join("k.pem")).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }
}
