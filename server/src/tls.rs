//! HTTPS: the rustls server configuration read from the PEM files `server.tls_cert` and
//! `server.tls_key` (ring as the crypto provider; actix-web announces HTTP/1.1 by ALPN).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The TLS configuration for the certificate chain in `cert` and the private key in `key`; the
/// error names the file at fault.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    if cert.as_os_str().is_empty() || key.as_os_str().is_empty() {
        return Err("server.tls_cert and server.tls_key must both be set".into());
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in the file", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| format!("{} / {}: {e}", cert.display(), key.display()))
}
