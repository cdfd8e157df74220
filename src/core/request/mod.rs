//! What one request is, read into facts: its [`client_ip`], its normalised [`path`] and
//! the [`route`] that path falls under, the [`framing`] of its head, its [`body`] parsed
//! once (as strict [`json`] or a form), and the identity [`facts`] its [`selector`]s read.

pub mod body;
pub mod client_ip;
pub mod facts;
pub mod framing;
pub mod json;
pub mod path;
pub mod route;
pub mod selector;
