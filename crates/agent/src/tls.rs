//! HTTPS for the agent's listener (`tls.cert`, `tls.key`): rustls with the
//! ring provider. Handshakes run beside the accept loop, each within
//! `limits.read_timeout` (at most ten seconds), so a slow client cannot hold
//! up the others; at most `limits.max_connections` run at once, so clients
//! that connect and never finish a handshake cannot pile up sockets and
//! tasks (past the limit, new connections wait in the listen queue).

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{Limits, TlsConfig};

/// The longest a handshake may take, whatever `limits.read_timeout` says.
const MAX_HANDSHAKE: Duration = Duration::from_secs(10);

/// The server configuration from the PEM files, or why not.
pub fn server_config(c: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&c.cert)
        .map_err(|e| format!("tls.cert `{}`: {e}", c.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.cert `{}`: {e}", c.cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls.cert `{}` holds no certificate",
            c.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&c.key)
        .map_err(|e| format!("tls.key `{}`: {e}", c.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls.cert and tls.key do not make a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener whose connections have finished their TLS handshake.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, std::net::SocketAddr)>,
    local: std::net::SocketAddr,
}

impl TlsListener {
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        limits: &Limits,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(256);
        let timeout = limits.read_timeout.min(MAX_HANDSHAKE);
        let handshakes = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        tokio::spawn(async move {
            loop {
                // A connection is taken only with a handshake slot free; the
                // slot is held until the connection is handed over or dropped.
                let Ok(slot) = Arc::clone(&handshakes).acquire_owned().await else {
                    return;
                };
                let Ok((stream, addr)) = tcp.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let shaken = tokio::time::timeout(timeout, acceptor.accept(stream)).await;
                    if let Ok(Ok(tls)) = shaken {
                        let _ = tx.send((tls, addr)).await;
                    }
                    drop(slot);
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Some(conn) = self.ready.recv().await {
                return conn;
            }
            // The accept task never ends while the listener lives.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
