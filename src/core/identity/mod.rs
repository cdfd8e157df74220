//! Who is paying: identity [`document`]s, emails and phones in canonical form, and the
//! [`key_list`]s (block lists, keyed hashes) that identities are matched and stored under.

pub mod document;
pub mod key_list;
