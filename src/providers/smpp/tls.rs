//! TLS for the binds: which certificates the SMSC's is checked against. With
//! `tls_ca_file` unset, the client library's default (rustls with the system trust
//! store); with it set, only the CA certificates in that PEM file are trusted (an
//! operator's private CA, or the SMSC's self-signed certificate), read again at each
//! connection so that a renewed file is picked up without a restart.
//!
//! A certificate the trusted CAs do not vouch for is the account's configuration
//! problem, like a wrong password: the session treats it as a refused bind (see
//! [`untrusted`]).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The rustls settings for `ca_file`: its certificates as the only roots.
pub fn client_config(ca_file: &str) -> Result<rustls::ClientConfig, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| format!("tls_ca_file {ca_file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("tls_ca_file {ca_file}: no CERTIFICATE in it"));
    }
    let mut roots = rustls::RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(format!(
            "tls_ca_file {ca_file}: none of its {ignored} certificates could be read"
        ));
    }
    crate::providers::http::install_tls_provider();
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Why a connection failed, when it is the SMSC's certificate that was not trusted.
pub fn untrusted(e: &rusmppc::error::Error) -> Option<String> {
    let rusmppc::error::Error::Connect(io) = e else {
        return None;
    };
    match io.get_ref()?.downcast_ref::<rustls::Error>()? {
        err @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => {
            Some(format!("the SMSC's TLS certificate is not trusted: {err}"))
        }
        _ => None,
    }
}
