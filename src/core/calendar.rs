//! Time for quotas: calendar windows in the shop's time zone.
//!
//! A daily quota is "per business day": it rolls over at midnight in the configured time
//! zone (America/Lima by default; Peru is UTC-5 all year), not at midnight UTC, while every
//! time stored or logged stays UTC. An hourly quota rolls over on the local hour. The
//! current time is an input (the runtime's clock reads it), so tests can stand exactly on
//! either side of midnight.
//!
//! A window is the same for every instant inside it, and finding it walks the zone's
//! rules, which cost more than the rest of a quota's plan: each thread keeps the windows
//! it found last and hands them out again while the clock stays inside them.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use std::cell::RefCell;

/// A window this thread found, the zone and period it is of, and when it begins.
struct Found {
    zone: String,
    period: Period,
    begins_at: Timestamp,
    window: Window,
}

/// The most windows a thread keeps (a zone or two, an hour and a day each).
const FOUND_KEPT: usize = 8;

thread_local! {
    static FOUND: RefCell<Vec<Found>> = const { RefCell::new(Vec::new()) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Hour,
    Day,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }
}

/// One calendar window: an id that names it and the instant it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub id: String,
    pub ends_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    name: String,
}

impl Calendar {
    /// A calendar in an IANA time zone such as "America/Lima".
    pub fn new(tz_name: &str) -> Option<Self> {
        let tz = jiff::tz::db().get(tz_name).ok()?;
        Some(Self {
            tz,
            name: tz_name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `at` (Unix seconds) as the shop's local time, `2026-11-25 07:00`.
    pub fn local_text(&self, at: i64) -> Option<String> {
        let t = Timestamp::from_second(at).ok()?;
        Some(
            t.to_zoned_datetime(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
        )
    }

    /// The instant a local date and time in the shop's zone stands for.
    pub fn local_instant(&self, civil: jiff::civil::DateTime) -> Option<Timestamp> {
        self.tz.to_timestamp(civil).ok()
    }

    /// The window of `period` that `now` falls in.
    pub fn window(&self, period: Period, now: Timestamp) -> Window {
        FOUND.with_borrow_mut(|found| {
            let inside = |f: &&Found| {
                f.period == period
                    && f.zone == self.name
                    && f.begins_at <= now
                    && now < f.window.ends_at
            };
            if let Some(f) = found.iter().find(inside) {
                return f.window.clone();
            }
            let (begins_at, window) = self.find_window(period, now);
            found.retain(|f| !(f.period == period && f.zone == self.name));
            if found.len() >= FOUND_KEPT {
                found.clear();
            }
            found.push(Found {
                zone: self.name.clone(),
                period,
                begins_at,
                window: window.clone(),
            });
            window
        })
    }

    /// The window of `period` that `now` falls in, from the zone's rules, and when it
    /// begins (`now` itself if the zone cannot say: the window is then reused only from
    /// `now` on, which is still inside it).
    fn find_window(&self, period: Period, now: Timestamp) -> (Timestamp, Window) {
        let local = now.to_zoned_datetime(self.tz.clone());
        match period {
            Period::Day => {
                let date = local.date();
                let zoned = |d: jiff::civil::Date| d.to_zoned_datetime(self.tz.clone()).ok();
                let begins_at = zoned(date).map_or(now, |z| z.timestamp().min(now));
                let ends_at = date
                    .tomorrow()
                    .ok()
                    .and_then(zoned)
                    .map_or(now + 24.hours(), |z| z.timestamp());
                let window = Window {
                    id: date.to_string(),
                    ends_at,
                };
                (begins_at, window)
            }
            Period::Hour => {
                let start = local
                    .with()
                    .minute(0)
                    .second(0)
                    .subsec_nanosecond(0)
                    .build()
                    .map_or(now, |z| z.timestamp());
                let window = Window {
                    id: format!("{}T{:02}", local.date(), local.hour()),
                    ends_at: start + 1.hour(),
                };
                (start.min(now), window)
            }
        }
    }
}

impl Calendar {
    /// The local days ending with the one `now` falls in, newest first: today and the
    /// `count - 1` days before it, each with its id and the instant it ends.
    pub fn days_back(&self, now: Timestamp, count: usize) -> Vec<Window> {
        let today = self.window(Period::Day, now);
        let mut days = Vec::with_capacity(count);
        let mut date = now.to_zoned_datetime(self.tz.clone()).date();
        let mut ends_at = today.ends_at;
        days.push(today);
        for _ in 1..count {
            let Ok(earlier) = date.yesterday() else { break };
            ends_at = earlier
                .tomorrow()
                .ok()
                .and_then(|d| d.to_zoned_datetime(self.tz.clone()).ok())
                .map_or(ends_at - 24.hours(), |z| z.timestamp());
            date = earlier;
            days.push(Window {
                id: date.to_string(),
                ends_at,
            });
        }
        days
    }

    /// The local time of day of `now`, in minutes after midnight (0 to 1439).
    pub fn minute_of_day(&self, now: Timestamp) -> u16 {
        let local = now.to_zoned_datetime(self.tz.clone());
        (local.hour() as u16) * 60 + local.minute() as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn lima_days_end_at_five_utc() {
        let lima = Calendar::new("America/Lima").unwrap();
        // 23:59:59 in Lima on the 24th is 04:59:59 UTC on the 25th.
        let before = lima.window(Period::Day, at("2026-11-25T04:59:59Z"));
        assert_eq!(before.id, "2026-11-24");
        assert_eq!(before.ends_at, at("2026-11-25T05:00:00Z"));
        let after = lima.window(Period::Day, at("2026-11-25T05:00:00Z"));
        assert_eq!(after.id, "2026-11-25");
        assert_eq!(after.ends_at, at("2026-11-26T05:00:00Z"));
    }

    #[test]
    fn hours_are_local_hours() {
        let lima = Calendar::new("America/Lima").unwrap();
        let w = lima.window(Period::Hour, at("2026-11-25T14:30:00Z"));
        assert_eq!(w.id, "2026-11-25T09");
        assert_eq!(w.ends_at, at("2026-11-25T15:00:00Z"));
        // A zone with a half-hour offset rolls over on its own half hours.
        let kolkata = Calendar::new("Asia/Kolkata").unwrap();
        let w = kolkata.window(Period::Hour, at("2026-11-25T14:40:00Z"));
        assert_eq!(w.ends_at, at("2026-11-25T15:30:00Z"));
        assert!(Calendar::new("Mars/Olympus").is_none());
    }

    #[test]
    fn days_back_walk_lima_days() {
        let lima = Calendar::new("America/Lima").unwrap();
        // 00:30 on the 25th in Lima.
        let days = lima.days_back(at("2026-11-25T05:30:00Z"), 3);
        let ids: Vec<&str> = days.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["2026-11-25", "2026-11-24", "2026-11-23"]);
        assert_eq!(days[1].ends_at, at("2026-11-25T05:00:00Z"));
        assert_eq!(days[2].ends_at, at("2026-11-24T05:00:00Z"));
        assert_eq!(lima.minute_of_day(at("2026-11-25T05:30:00Z")), 30);
        assert_eq!(lima.minute_of_day(at("2026-11-25T04:59:00Z")), 23 * 60 + 59);
    }

    #[test]
    fn a_window_found_again_is_the_one_the_zone_gives() {
        // Every 7 minutes across days with a change of offset (Santiago's and Madrid's
        // clocks move; Lima's do not), on one thread, so found windows are reused.
        for zone in ["America/Lima", "America/Santiago", "Europe/Madrid"] {
            let calendar = Calendar::new(zone).unwrap();
            for start in [
                "2026-04-04T00:00:00Z",
                "2026-09-05T00:00:00Z",
                "2026-10-24T00:00:00Z",
                "2026-03-28T00:00:00Z",
            ] {
                // Forwards, then back again (a clock set back, a replay of old lines).
                let mut now = at(start);
                for step in [7, -7] {
                    for _ in 0..(4 * 24 * 60 / 7) {
                        for period in [Period::Hour, Period::Day] {
                            assert_eq!(
                                calendar.window(period, now),
                                calendar.find_window(period, now).1,
                                "{zone} {period:?} at {now}"
                            );
                        }
                        now += step.minutes();
                    }
                }
            }
        }
    }
}
