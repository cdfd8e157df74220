//! TLS: certificates for garita's listeners, and the private CA it may trust for its
//! upstreams, in the forms Pingora's rustls build takes.

use crate::config::TrustedCa;
use pingora::protocols::tls::CaType;
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
