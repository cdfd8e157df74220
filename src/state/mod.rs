//! What outlives a request: the in-process [`rate_limit`]ers and the identity [`store`]
//! (quota counters, bindings, webhook replay records).

pub mod rate_limit;
pub mod store;
