//! Where the state lives: the store a config names (in memory, an embedded file, or
//! Redis shared by several instances), how long a request waits for it and how often the
//! embedded one writes back. Plain data, compiled from `[state]`; the runtime builds the
//! store from it.

use std::path::PathBuf;
use std::time::Duration;

/// Which store keeps the state.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// In this process only: lost at exit (tests, demos).
    Memory,
    /// A database file on local disk.
    Embedded { path: PathBuf },
    /// Redis, shared by every instance with the same URL and prefix.
    Redis {
        /// The variable the URL was read from (the URL may hold a password: never shown).
        url_env: String,
        url: String,
        prefix: String,
        /// `rediss://` signed by a private CA: the certificates to trust instead of the
        /// Web PKI roots.
        tls_ca: Option<TrustedCa>,
    },
}

/// A PEM bundle of CA certificates, read once at load.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedCa {
    pub path: PathBuf,
    pub pem: Vec<u8>,
}

impl std::fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustedCa({})", self.path.display())
    }
}

impl TrustedCa {
    /// The DER of each certificate in the bundle (blocks that do not decode are skipped;
    /// a bundle with none is refused at load).
    pub fn certificates_der(&self) -> Vec<Vec<u8>> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::pem_slice_iter(&self.pem)
            .filter_map(Result::ok)
            .map(|der| der.to_vec())
            .collect()
    }
}

impl StoreBackend {
    pub fn describe(&self) -> String {
        match self {
            StoreBackend::Memory => "memory (lost at exit)".to_string(),
            StoreBackend::Embedded { path } => format!("embedded, {}", path.display()),
            StoreBackend::Redis {
                url_env,
                prefix,
                tls_ca,
                ..
            } => {
                let mut text = format!("redis (URL from {url_env}), keys under {{{prefix}}}:");
                if let Some(ca) = tls_ca {
                    text.push_str(&format!(", TLS trusting {}", ca.path.display()));
                }
                text
            }
        }
    }
}

impl std::fmt::Debug for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    pub backend: StoreBackend,
    /// How long a request waits for the store.
    pub timeout: Duration,
    /// How often the embedded store writes counters and bindings back to disk.
    pub flush_interval: Duration,
}
