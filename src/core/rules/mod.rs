//! The rules a policy applies, one family a file: [`connection`] rules (lists, geofence,
//! per-address rate), and on payment routes the [`identity`] rules built from [`lists`],
//! [`quotas`] and [`bindings`], then the [`risk`] rules that add up to a score
//! (amounts, newness, time of day, country), and each customer's order [`history`] for the
//! reviewer. On webhook routes the [`webhook`]
//! decisions (source, signature, replay claim, delivery). [`rate`] is how the rules ask an
//! in-process burst limiter.

pub mod bindings;
pub mod connection;
pub mod history;
pub mod identity;
pub mod lists;
pub mod quotas;
pub mod rate;
pub mod risk;
pub mod webhook;
