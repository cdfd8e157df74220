//! garita: an edge gateway that guards a web shop's payment routes.
//!
//! The crate is split the way a request flows. [`client_ip`], [`route`] and [`geo`] turn a
//! connection and its request line into facts; [`decision`] turns facts into a
//! [`decision::Decision`] without touching any socket; [`proxy`] is the thin Pingora glue
//! that sequences the phases and maps a decision to a response; [`metrics`] and
//! [`decision_log`] account for what happened. [`config`] reads the TOML file once and
//! compiles it into the validated types the rest of the crate uses.
#![forbid(unsafe_code)]

pub mod body;
pub mod calendar;
pub mod client_ip;
pub mod config;
pub mod decision;
pub mod decision_log;
pub mod demo;
pub mod facts;
pub mod framing;
pub mod gateway;
pub mod geo;
pub mod identity;
pub mod ip_list;
pub mod key_list;
pub mod metrics;
pub mod path;
pub mod process_log;
pub mod proxy;
pub mod rate_limit;
pub mod response;
pub mod route;
pub mod rules;
pub mod store;
pub mod webhook;
