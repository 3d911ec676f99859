//! The client side: a rustls client configuration that trusts the system's
//! roots, or only the certificates of a `--cacert` file (a self-signed
//! server's, say), and names the server to verify from the address dialed.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::provider;

/// How a client checks the server.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The rustls configuration.
    pub config: Arc<ClientConfig>,
}

impl ClientTls {
    /// Trusts the certificates in `cacert` only, or the system's roots without it.
    pub fn new(cacert: Option<&Path>, alpn: &[&[u8]]) -> Result<ClientTls, String> {
        let mut roots = rustls::RootCertStore::empty();
        match cacert {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{}: not PEM certificates ({e})", path.display()))?;
                if certs.is_empty() {
                    return Err(format!("{}: no certificate in it", path.display()));
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| format!("{}: unusable certificate: {e}", path.display()))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for c in found.certs {
                    let _ = roots.add(c);
                }
                if roots.is_empty() {
                    return Err(
                        "no trusted certificates on this system: name the server's with --cacert"
                            .into(),
                    );
                }
            }
        }
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(ClientTls {
            config: Arc::new(config),
        })
    }

    /// A connection to `host` (the name or address dialed, checked against
    /// the server's certificate).
    pub fn connection(&self, host: &str) -> Result<rustls::ClientConnection, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host:?} is not a name a certificate can be checked against"))?;
        rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| format!("TLS: {e}"))
    }
}
