//! Where the buyer says they are against where they connect from: a billing country (a
//! fact read from the body) that differs from the client address's GeoIP country.
//!
//! Applies only when both are known; an address with no country is the geofence's
//! business. What it approximates: travellers, VPNs and mobile roaming all look like a
//! mismatch, so it is a weight, not a refusal.

use super::{Buckets, Pending, RiskCheck, RiskContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryMismatch;

impl RiskCheck for CountryMismatch {
    fn plan(&self, cx: &RiskContext<'_>, _: &mut Buckets) -> Option<Pending> {
        let (billing, connected) = (cx.facts.billing_country?, cx.country?);
        Some(Pending::Known(billing != connected))
    }
}
