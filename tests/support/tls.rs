//! A test certificate authority made at test time, for HTTPS mocks.
//!
//! [`TestCa::new`] generates a CA (ECDSA P-256, with `rcgen`) and writes its
//! certificate as PEM into a directory, so that a client can be told to trust
//! it: `SSL_CERT_FILE` for Go programs such as gh, `curl --cacert`,
//! `GIT_SSL_CAINFO` for git. [`TestCa::server_config`] signs a leaf
//! certificate for the given DNS names and IP addresses and returns a rustls
//! server configuration (ring provider, HTTP/1.1 ALPN); [`accept`] turns an
//! accepted std `TcpStream` into a TLS stream with it.
//!
//! Self-contained: it uses `rcgen` (dev-dependency, ring) and `rustls` only.
#![allow(dead_code)]

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

/// The file name of the CA certificate inside the directory given to [`TestCa::new`].
pub const CA_FILE: &str = "test-ca.pem";

/// A certificate authority that exists only for this test run.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    pem_path: PathBuf,
}

/// The rustls crypto provider used on both sides (ring, as the crate itself uses).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TestCa {
    /// A fresh CA; its certificate is written as PEM to `dir/test-ca.pem`.
    pub fn new(dir: &Path) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "molecule-git-token-helper test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let pem_path = dir.join(CA_FILE);
        std::fs::write(&pem_path, cert.pem())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", pem_path.display()));
        TestCa {
            issuer: Issuer::new(params, key),
            cert_der: cert.der().clone(),
            pem_path,
        }
    }

    /// The CA certificate (PEM) for clients to trust.
    pub fn ca_pem_path(&self) -> &Path {
        &self.pem_path
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A leaf certificate and its PKCS#8 key for `names` (DNS names, or IP
    /// addresses such as "127.0.0.1"), signed by this CA.
    pub fn leaf(&self, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(sans).expect("leaf names");
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }

    /// A server configuration presenting a leaf for `names` (and the CA
    /// certificate after it), offering HTTP/1.1 by ALPN.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let (leaf, key) = self.leaf(names);
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf, self.cert_der.clone()], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// A client configuration that trusts this CA only (for Rust-side test clients).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.cert_der.clone())
            .expect("CA into root store");
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A TLS server stream over an accepted TCP stream.
pub type TlsServerStream = rustls::StreamOwned<ServerConnection, TcpStream>;

/// A TLS client stream over a connected TCP stream.
pub type TlsClientStream = rustls::StreamOwned<ClientConnection, TcpStream>;

/// Complete a TLS handshake as the server on `stream` (bounded by the
/// stream's own read/write timeouts) and return the encrypted stream.
pub fn accept(config: &Arc<ServerConfig>, mut stream: TcpStream) -> io::Result<TlsServerStream> {
    let mut conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut stream)?;
    }
    Ok(rustls::StreamOwned::new(conn, stream))
}

/// Complete a TLS handshake as a client for `server_name` on `stream`
/// (e.g. a tunnel opened through a CONNECT proxy).
pub fn connect(
    config: &Arc<ClientConfig>,
    server_name: &str,
    mut stream: TcpStream,
) -> io::Result<TlsClientStream> {
    let name = ServerName::try_from(server_name.to_string()).map_err(io::Error::other)?;
    let mut conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut stream)?;
    }
    Ok(rustls::StreamOwned::new(conn, stream))
}
