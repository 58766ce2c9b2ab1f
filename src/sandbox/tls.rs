//! https for the sandbox, so TLS is tested as it really is: a certificate from files, or one
//! generated for `localhost` and `127.0.0.1` and signed by a generated CA whose PEM the
//! client must be given (`[pingone] ca_file`). Verification is never switched off anywhere.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A server certificate chain and its key, as PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    pub(crate) certificate_chain_pem: String,
    pub(crate) private_key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity([redacted])")
    }
}

/// A private CA and a `localhost` certificate it signed: what a company's own CA, or a
/// TLS-inspecting proxy, looks like to the tool.
pub struct GeneratedTls {
    /// The CA's certificate, for the client's `ca_file`.
    pub ca_pem: String,
    pub server: TlsIdentity,
}

pub fn generate_for_localhost() -> Result<GeneratedTls, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mfa-enroll sandbox CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = params.signed_by(&server_key, &issuer)?;
    Ok(GeneratedTls {
        ca_pem: ca_cert.pem(),
        server: TlsIdentity {
            certificate_chain_pem: server_cert.pem(),
            private_key_pem: server_key.serialize_pem(),
        },
    })
}

/// The TLS acceptor for `identity`.
pub(crate) fn acceptor(identity: &TlsIdentity) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(identity.certificate_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| invalid("the certificate is not PEM"))?;
    let key = PrivateKeyDer::from_pem_slice(identity.private_key_pem.as_bytes())
        .map_err(|_| invalid("the private key is not PEM"))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(&format!("the certificate and key do not fit ({e})")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` over TLS on `listener` until `stopped` fires.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A client that refuses the certificate ends its handshake here; nothing to do.
            let Ok(stream) = acceptor.accept(socket).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
