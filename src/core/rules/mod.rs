//! The rules a policy applies, one family a file.

pub mod identity;
