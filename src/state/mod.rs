//! What outlives a request and a config swap: the in-process [`rate_limit`]ers, the
//! identity [`store`] (quota counters, bindings, webhook replay records) and the
//! [`geoip`] database, assembled into one [`runtime::Runtime`] from a config.

pub mod clock;
pub mod file_stamp;
pub mod geoip;
pub mod identity_keys;
pub mod rate_limit;
pub mod replay;
pub mod runtime;
pub mod store;
pub mod upstreams;
