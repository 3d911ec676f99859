//! The TLS options every server that can speak TLS takes (`--tls-cert`,
//! `--tls-key`, `--tls-self-signed`), turned into a loaded identity and a
//! rustls configuration before anything is bound: a missing, unreadable or
//! mismatched file is one line and exit status 1.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Args;

use crate::tls::{self, Identity, Reloading, Source};

/// TLS options.
#[derive(Debug, Args, Clone, Default)]
pub struct TlsArgs {
    /// Speak TLS with this certificate chain (PEM, leaf first); reloaded on SIGHUP
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1; RSA, ECDSA or Ed25519)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Speak TLS with a certificate made at start-up for localhost and the
    /// bind address (its SHA-256 fingerprint is printed)
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Also write the self-signed certificate here (PEM), for clients to trust
    #[arg(long, value_name = "FILE", requires = "tls_self_signed")]
    pub tls_cert_out: Option<PathBuf>,
}

/// A loaded TLS set-up, ready to wrap a service.
pub struct Loaded {
    /// The identity (for the banner).
    pub identity: Identity,
    /// The resolver (SIGHUP reloads through it).
    pub resolver: Arc<Reloading>,
    /// The rustls configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// `self-signed` or `certificate FILE`, for the banner.
    pub what: String,
}

impl TlsArgs {
    /// True when TLS was asked for.
    pub fn enabled(&self) -> bool {
        self.tls_cert.is_some() || self.tls_self_signed
    }

    /// Loads the identity and makes the configuration (`alpn`: protocols in
    /// order of preference); `bind` names the address a self-signed
    /// certificate is made for. Installs the SIGHUP reload. `None` without TLS.
    pub fn load(&self, bind: &str, alpn: &[&[u8]]) -> Result<Option<Loaded>> {
        let (source, what) = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => (
                Source::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                },
                format!("certificate {}", cert.display()),
            ),
            (Some(_), None) | (None, Some(_)) => bail!("--tls-cert and --tls-key go together"),
            (None, None) if self.tls_self_signed => {
                let mut names = vec![
                    "localhost".to_string(),
                    "127.0.0.1".to_string(),
                    "::1".to_string(),
                ];
                let bind = bind.trim_start_matches('[').trim_end_matches(']');
                if !bind.is_empty()
                    && !bind.starts_with("unix:")
                    && !names.iter().any(|n| n == bind)
                {
                    names.push(bind.to_string());
                }
                (Source::SelfSigned(names), "self-signed".to_string())
            }
            (None, None) => return Ok(None),
        };
        let (identity, resolver, config) = tls::load(source, alpn).map_err(anyhow::Error::msg)?;
        if let Some(path) = &self.tls_cert_out {
            std::fs::write(path, &identity.cert_pem)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        }
        crate::server::reload::watch_sighup()?;
        Ok(Some(Loaded {
            identity,
            resolver,
            config,
            what,
        }))
    }
}
