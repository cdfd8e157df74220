//! TLS: certificates for garita's listeners, and the private CA it may trust for its
//! upstreams, in the forms Pingora's rustls build takes.
//!
//! Every TLS listener serves its certificate through a resolver garita holds, so that a
//! reload (a renewed certificate is a watched file) changes the chain without touching the
//! listener. The listeners themselves (which addresses, whether TLS) are bound at start.

use crate::config::{Config, TlsIdentity, TrustedCa};
use arc_swap::ArcSwap;
use pingora::listeners::tls::TlsSettings;
use pingora::protocols::tls::CaType;
use pingora::tls::sign::CertifiedKey;
use pingora::tls::{ClientHello, ResolvesServerCert};
use std::sync::Arc;

/// The certificates of a private CA, as a peer's trust list. Built once per config load,
/// not per connection.
pub fn ca_list(ca: &TrustedCa) -> Arc<CaType> {
    use pingora::utils::tls::{parse_x509, WrappedX509};
    ca.certificates_der()
        .into_iter()
        .map(|der| WrappedX509::new(der, parse_x509))
        .collect::<Vec<_>>()
        .into()
}

/// A listener's certificate, swapped in place when a reload brings a renewed one: the
/// listener keeps its socket and its settings, and the next handshake gets the new chain.
#[derive(Debug)]
pub struct Certificates {
    current: ArcSwap<CertifiedKey>,
}

impl Certificates {
    pub fn new(key: Arc<CertifiedKey>) -> Arc<Self> {
        Arc::new(Self {
            current: ArcSwap::new(key),
        })
    }

    pub fn replace(&self, key: Arc<CertifiedKey>) {
        self.current.store(key);
    }

    /// Pingora's settings for a listener serving these certificates (TLS 1.2 and 1.3;
    /// with `http2`, h2 offered by ALPN before http/1.1).
    pub fn settings(self: &Arc<Self>, http2: bool) -> TlsSettings {
        // The paths are never read: a resolver takes their place.
        let mut settings = TlsSettings::intermediate("", "").expect("TLS settings");
        settings.set_cert_resolver(self.clone());
        if http2 {
            settings.enable_h2();
        }
        settings
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The certificates of every TLS listener, kept to be replaced on reload.
#[derive(Debug, Default)]
pub struct ListenerCertificates {
    pub proxy: Option<Arc<Certificates>>,
    pub metrics: Option<Arc<Certificates>>,
    pub admin: Option<Arc<Certificates>>,
}

impl ListenerCertificates {
    /// The certificates `config` names, for the listeners being started.
    pub fn load(config: &Config) -> Self {
        let load =
            |identity: Option<&TlsIdentity>| identity.map(|i| Certificates::new(i.key.clone()));
        Self {
            proxy: load(config.tls.as_ref().map(|t| &t.identity)),
            metrics: load(config.metrics_tls.as_ref()),
            admin: load(config.admin.as_ref().and_then(|a| a.tls.as_ref())),
        }
    }

    /// Serve the certificates of a reloaded `config` (parsed and checked when it was
    /// compiled) on the listeners that have TLS.
    pub fn update(&self, config: &Config) {
        let pairs = [
            (&self.proxy, config.tls.as_ref().map(|t| &t.identity)),
            (&self.metrics, config.metrics_tls.as_ref()),
            (
                &self.admin,
                config.admin.as_ref().and_then(|a| a.tls.as_ref()),
            ),
        ];
        for (certs, identity) in pairs {
            if let (Some(certs), Some(identity)) = (certs, identity) {
                certs.replace(identity.key.clone());
            }
        }
    }
}
