//! TLS for every model: a layer over sessions ([`TlsService`]), the server's
//! identity ([`Identity`]: PEM files or self-signed, reloaded on SIGHUP), and
//! the rustls configuration netkit uses ([`server_config`]).
//!
//! rustls is sans-IO like the framework's sessions, so TLS is one more
//! session around the protocol's own: the drivers never know. The crypto
//! provider is aws-lc-rs (rustls's default): it builds with the C compiler
//! alone (no cmake, no Go) and measured 9-20 % faster than ring on
//! keep-alive, handshakes and bulk transfer (`--features ring` builds the
//! other one; see BENCHMARKS.md, HTTPS).

mod client;
mod identity;
mod session;

use std::sync::Arc;

pub use client::ClientTls;
pub use identity::{Identity, Reloading, Source, fingerprint, provider};
pub use session::{ENCRYPTED_HIGH_WATER, HANDSHAKE_TIMEOUT, PIECE, TlsService, TlsSession};

use rustls::ServerConfig;

/// How many TLS sessions a process remembers for resumption by session id.
pub const SESSION_CACHE: usize = 4096;

/// A server configuration: TLS 1.3 and 1.2, no client certificates, the
/// identity from `resolver`, `alpn` protocols in order of preference,
/// resumption by session id and by ticket.
pub fn server_config(
    resolver: Arc<Reloading>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, String> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
    #[cfg(not(feature = "ring"))]
    let ticketer = rustls::crypto::aws_lc_rs::Ticketer::new();
    #[cfg(feature = "ring")]
    let ticketer = rustls::crypto::ring::Ticketer::new();
    let ticketer = ticketer.map_err(|e| format!("TLS session tickets: {e}"))?;
    // A ticketer decrypts no ticket longer than the longest it has made
    // itself. Worker processes forked from this one share its keys, but a
    // worker that has made no ticket yet would refuse its siblings' ones:
    // one ticket made here, longer than any real one, sets the bound for all.
    let _ = ticketer.encrypt(&[0u8; 1024]);
    config.ticketer = ticketer;
    Ok(Arc::new(config))
}

/// Loads `source` and makes a configuration for it: the identity (for the
/// banner: its fingerprint) and the configuration. Errors are one line.
pub fn load(
    source: Source,
    alpn: &[&[u8]],
) -> Result<(Identity, Arc<Reloading>, Arc<ServerConfig>), String> {
    let identity = Identity::load(&source)?;
    let resolver = Arc::new(Reloading::new(source, &identity));
    let config = server_config(Arc::clone(&resolver), alpn)?;
    Ok((identity, resolver, config))
}
