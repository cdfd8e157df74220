//! Where a request comes from: [`ip_list`]s of addresses and networks, and the [`geo`]fence
//! on the client's country.

pub mod geo;
pub mod ip_list;
