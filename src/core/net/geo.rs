//! Geofences: whether a route accepts a client's country.
//!
//! The country comes from the GeoIP database (`state::geoip`), which is an approximation:
//! VPNs, mobile carriers and cloud ranges put people in other countries than the one they
//! stand in, and private or unassigned ranges have no country at all. That last case is the
//! route's choice ([`UnknownCountry`]).

use std::collections::HashSet;
use std::fmt;

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

/// ISO 3166-1 alpha-2 codes in use, plus XK (Kosovo), which the databases use.
const ISO_3166_ALPHA2: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH \
BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR \
GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR \
KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV \
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE \
RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL \
TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

impl CountryCode {
    /// A code as a database stores it; anything that is not two ASCII letters is no country.
    pub fn from_record(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
            .then(|| Self([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]))
    }

    /// A code as an operator writes it in the config: must be an assigned ISO code.
    pub fn parse_config(text: &str) -> Option<Self> {
        let code = Self::from_record(text)?;
        ISO_3166_ALPHA2
            .split_ascii_whitespace()
            .any(|c| c == code.as_str())
            .then_some(code)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a geofence does with an address the database has no country for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownCountry {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Geofence {
    /// Only these countries may use the route.
    AllowOnly {
        countries: HashSet<CountryCode>,
        unknown: UnknownCountry,
    },
    /// Everyone but these countries may use the route.
    Block {
        countries: HashSet<CountryCode>,
        unknown: UnknownCountry,
    },
}

/// Why a geofence turned an address away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoRefusal {
    NotAllowed,
    Blocked,
    Unknown,
}

impl Geofence {
    pub fn check(&self, country: Option<CountryCode>) -> Result<(), GeoRefusal> {
        let (countries, unknown, allow_list) = match self {
            Geofence::AllowOnly { countries, unknown } => (countries, *unknown, true),
            Geofence::Block { countries, unknown } => (countries, *unknown, false),
        };
        match country {
            None if unknown == UnknownCountry::Allow => Ok(()),
            None => Err(GeoRefusal::Unknown),
            Some(c) if allow_list && !countries.contains(&c) => Err(GeoRefusal::NotAllowed),
            Some(c) if !allow_list && countries.contains(&c) => Err(GeoRefusal::Blocked),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: &str) -> CountryCode {
        CountryCode::parse_config(s).unwrap()
    }

    #[test]
    fn config_codes_must_be_assigned() {
        assert_eq!(cc("pe").as_str(), "PE");
        assert!(CountryCode::parse_config("UK").is_none());
        assert!(CountryCode::parse_config("PER").is_none());
        assert!(CountryCode::parse_config("P1").is_none());
    }

    #[test]
    fn allow_and_block_lists_and_unknowns() {
        let allow = Geofence::AllowOnly {
            countries: [cc("PE")].into(),
            unknown: UnknownCountry::Deny,
        };
        assert_eq!(allow.check(Some(cc("PE"))), Ok(()));
        assert_eq!(allow.check(Some(cc("US"))), Err(GeoRefusal::NotAllowed));
        assert_eq!(allow.check(None), Err(GeoRefusal::Unknown));
        let block = Geofence::Block {
            countries: [cc("KP")].into(),
            unknown: UnknownCountry::Allow,
        };
        assert_eq!(block.check(Some(cc("KP"))), Err(GeoRefusal::Blocked));
        assert_eq!(block.check(Some(cc("PE"))), Ok(()));
        assert_eq!(block.check(None), Ok(()));
    }
}
