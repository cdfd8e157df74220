//! Where a request comes from: [`ip_list`]s of addresses and networks, the [`geo`]fence
//! on the client's country, and an address written as text ([`ip_text`]).

pub mod geo;
pub mod ip_list;
pub mod ip_text;
