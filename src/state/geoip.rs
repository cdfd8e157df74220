//! The GeoIP database: which country an address is in.
//!
//! A MaxMind DB file, memory-mapped. Two record layouts are read: MaxMind
//! GeoIP2/GeoLite2 (`country.iso_code`, falling back to `registered_country.iso_code`) and
//! ip-location-db (`country_code`). Replace the file by renaming a new one over it (as
//! geoipupdate does), never by writing into it: the old mapping stays valid that way.

use crate::core::net::geo::CountryCode;
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

/// The fields of both record layouts that name a country.
#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    registered_country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    country_code: Option<&'a str>,
}

pub struct CountryDb {
    reader: maxminddb::Reader<maxminddb::Mmap>,
}

impl fmt::Debug for CountryDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountryDb")
            .field("database_type", &self.reader.metadata.database_type)
            .finish()
    }
}

impl CountryDb {
    pub fn open(path: &Path) -> Result<Self, String> {
        let reader = maxminddb::Reader::open_mmap(path).map_err(|e| e.to_string())?;
        Ok(Self { reader })
    }

    pub fn database_type(&self) -> &str {
        &self.reader.metadata.database_type
    }

    /// The country of an address, if the database knows one.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        let record: CountryRecord = self.reader.lookup(ip.to_canonical()).ok().flatten()?;
        let code = record
            .country
            .and_then(|c| c.iso_code)
            .or(record.country_code)
            .or(record.registered_country.and_then(|c| c.iso_code))?;
        CountryCode::from_record(code)
    }
}
