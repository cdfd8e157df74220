//! Time-of-day rules: orders placed at local hours the shop finds odd (00:00 to 05:00 in
//! Lima, say).
//!
//! The hours are the shop's (`identity.time_zone`), read from the same clock as the quotas;
//! a range may wrap past midnight (`22:00-04:00`). The start is included, the end is not.

use super::{Buckets, Pending, RiskCheck, RiskContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    /// Minutes after local midnight.
    pub from: u16,
    pub to: u16,
}

impl Hours {
    /// `"HH:MM-HH:MM"`, 24-hour clock; `24:00` may end a range.
    pub fn parse(text: &str) -> Option<Self> {
        let (from, to) = text.split_once('-')?;
        let minute = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (from, to) = (minute(from)?, minute(to)?);
        (from != to && from < 24 * 60).then_some(Self { from, to })
    }

    pub fn contains(&self, minute: u16) -> bool {
        if self.from < self.to {
            (self.from..self.to).contains(&minute)
        } else {
            minute >= self.from || minute < self.to
        }
    }
}

impl RiskCheck for Hours {
    fn plan(&self, cx: &RiskContext<'_>, _: &mut Buckets) -> Option<Pending> {
        Some(Pending::Known(
            self.contains(cx.calendar.minute_of_day(cx.now)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_their_start_and_may_wrap_midnight() {
        let night = Hours::parse("00:00-05:00").unwrap();
        assert!(night.contains(0) && night.contains(4 * 60 + 59));
        assert!(!night.contains(5 * 60) && !night.contains(23 * 60 + 59));
        let late = Hours::parse("22:00-04:00").unwrap();
        assert!(late.contains(23 * 60) && late.contains(60) && !late.contains(12 * 60));
        assert_eq!(Hours::parse("18:00-24:00").map(|h| h.to), Some(24 * 60));
        for bad in [
            "5-6",
            "25:00-01:00",
            "01:00-01:00",
            "01:60-02:00",
            "24:00-01:00",
            "01:00",
        ] {
            assert_eq!(Hours::parse(bad), None, "{bad}");
        }
    }
}
