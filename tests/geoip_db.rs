//! The test GeoIP databases in `geoip/` are generated from `geoip/test-ranges.csv`.
//!
//! This test rebuilds both layouts (MaxMind GeoIP2 `country.iso_code` and ip-location-db
//! `country_code`) and fails if the committed files differ, so the CSV stays the readable
//! source of truth. `GARITA_WRITE_GEOIP=1` rewrites the files instead.

use garita::core::net::geo::CountryCode;
use garita::state::geoip::CountryDb;
use ipnet::IpNet;
use mmdb_writer::Writer;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

fn geoip_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip")
}

fn ranges() -> Vec<(IpNet, String)> {
    let text = std::fs::read_to_string(geoip_dir().join("test-ranges.csv")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != "network,country")
        .map(|l| {
            let (net, country) = l.split_once(',').expect("network,country");
            (net.parse().expect(net), country.to_string())
        })
        .collect()
}

/// Build a database; `maxmind` picks the GeoIP2 layout, otherwise ip-location-db's.
fn build(maxmind: bool) -> Vec<u8> {
    let kind = if maxmind {
        "GeoLite2-Country"
    } else {
        "ip-location-db-country"
    };
    let mut writer = Writer::builder(format!("garita-test-{kind}"))
        .description(&[(
            "en",
            "garita test ranges, generated from geoip/test-ranges.csv",
        )])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(1_764_000_000))
        .build();
    for (net, country) in ranges() {
        let record = if maxmind {
            serde_json::json!({"country": {"iso_code": country}})
        } else {
            serde_json::json!({"country_code": country})
        };
        writer.insert(net, &record).unwrap();
    }
    writer.to_bytes().unwrap()
}

#[test]
fn committed_databases_match_the_csv() {
    for (file, maxmind) in [
        ("test-country.mmdb", true),
        ("test-country-ipdb.mmdb", false),
    ] {
        let path = geoip_dir().join(file);
        let fresh = build(maxmind);
        if std::env::var_os("GARITA_WRITE_GEOIP").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale; run GARITA_WRITE_GEOIP=1 cargo test --test geoip_db",
            path.display()
        );
    }
}

#[test]
fn both_layouts_give_the_csv_country() {
    for file in ["test-country.mmdb", "test-country-ipdb.mmdb"] {
        let db = CountryDb::open(&geoip_dir().join(file)).unwrap();
        for (net, country) in ranges() {
            let inside = net.hosts().next().unwrap_or(net.addr());
            assert_eq!(
                db.country(inside),
                CountryCode::parse_config(&country),
                "{file}: {inside}"
            );
        }
        assert_eq!(db.country("10.1.2.3".parse().unwrap()), None, "{file}");
        assert_eq!(
            db.country("::ffff:192.0.2.1".parse().unwrap())
                .unwrap()
                .as_str(),
            "PE"
        );
    }
}
