//! Who is paying: identity [`document`]s, emails and phones in canonical form, and the
//! [`key_list`]s (block lists, keyed hashes) that identities are matched and stored under,
//! and the masked [`hint`]s a reviewer may see of them.

pub mod document;
pub mod hint;
pub mod key_list;
