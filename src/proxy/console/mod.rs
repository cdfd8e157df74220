//! The review console, served by the admin listener at `/console/`: server-rendered
//! pages in the person's language ([`i18n`]), opened by signing in with a token
//! ([`session`]).

pub mod i18n;
pub mod session;
