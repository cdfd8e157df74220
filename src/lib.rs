//! garita: an edge gateway that guards a web shop's payment routes.
//!
//! The crate is grouped by layer, the way a request flows through it:
//! - [`core`] decides. Facts about one request in, a [`core::decision::Decision`] out: the
//!   request line and body read into facts, identity documents, IP lists and geofences, the
//!   rules, webhook verification. No Pingora and no tokio, so every rule is unit-tested and
//!   benchmarked without sockets; it never waits on the store (it plans, the glue asks the
//!   store, it concludes).
//! - [`config`] reads the TOML file and compiles it into validated plain data.
//! - [`state`] is what outlives a request: rate limiters and the identity store.
//! - [`proxy`] is the thin Pingora glue: it sequences the phases, asks the core, awaits the
//!   store, and maps decisions to responses; [`proxy::server`] assembles the running server.
//! - [`observe`] accounts for what happened: metrics, the decision log, the process log.
//! - [`cli`] is the `garita` command: run, check, sign, demo.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod core;
pub mod observe;
pub mod proxy;
pub mod state;
