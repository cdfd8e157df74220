//! The decision core: facts in, a decision out, with nothing in between that waits.
//!
//! Nothing here imports the proxy framework, an async runtime, or any other layer of the
//! crate (`tests/layers.rs` keeps it so). [`request`] reads a request's line, head and body
//! into facts; [`identity`] and [`net`] are what those facts are checked against; [`rules`]
//! are the checks, on a compiled [`policy`]; [`webhook`] verifies notifications;
//! [`decision`] is the vocabulary of outcomes; [`plan`] is what the rules ask of the store
//! and what it answers; [`calendar`] tells which quota window a moment falls in; [`money`]
//! is how amounts are read and compared, exactly; [`outcomes`] is what reviews and
//! payment notifications later say of a request, and what that teaches the rules;
//! [`evidence`] is what a policy keeps of its exchanges for disputes.

pub mod calendar;
pub mod decision;
pub mod evidence;
pub mod identity;
pub mod money;
pub mod net;
pub mod outcomes;
pub mod plan;
pub mod policy;
pub mod request;
pub mod rules;
pub mod webhook;
