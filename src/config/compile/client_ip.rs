//! `[client_ip]`: which proxies in front of garita are trusted to say who the client is,
//! and in which header.

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::Ctx;
use crate::core::net::ip_list::IpList;
use crate::core::request::client_ip::ClientIpResolver;

pub(super) fn client_ip(
    ctx: &Ctx,
    section: &file::ClientIpSection,
) -> Result<ClientIpResolver, ConfigError> {
    let mut trusted = IpList::new();
    let mut complete = true;
    for (i, entry) in section.trusted_proxies.iter().enumerate() {
        match IpList::parse_entry(entry) {
            Some(net) => trusted.insert(net),
            None => {
                complete = false;
                ctx.report(ctx.invalid(
                    format!("client_ip.trusted_proxies[{i}]"),
                    "an IP address or CIDR",
                    format!("{entry:?}"),
                ));
            }
        }
    }
    let header_text = section.header.as_deref().unwrap_or("X-Forwarded-For");
    let header = ctx.keep(
        http::HeaderName::from_bytes(header_text.as_bytes()).map_err(|_| {
            ctx.invalid(
                "client_ip.header",
                "an HTTP header name",
                format!("{header_text:?}"),
            )
        }),
    );
    match header {
        Some(header) if complete => Ok(ClientIpResolver::new(trusted, header)),
        _ => Err(ConfigError::already_reported()),
    }
}
