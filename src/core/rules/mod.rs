//! The rules a policy applies, one family a file: [`connection`] rules (lists, geofence,
//! per-address rate), and on payment routes the [`identity`] rules built from [`lists`],
//! [`quotas`] and [`bindings`], then the [`risk`] rules that add up to a score
//! (amounts, newness, time of day, country, payment codes), each customer's order [`history`] for the
//! reviewer and each identity's payment codes' [`code_life`]. On webhook routes the [`webhook`]
//! decisions (source, signature, replay claim, delivery). [`rate`] is how the rules ask an
//! in-process burst limiter.

pub mod bindings;
pub mod code_life;
pub mod connection;
pub mod history;
pub mod identity;
pub mod lists;
pub mod quotas;
pub mod rate;
pub mod risk;
pub mod webhook;
