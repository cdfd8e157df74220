//! Money as the rules see it: an exact number of minor units in one currency.
//!
//! Amounts are never floats. A decimal text (`"120.50"`, or the literal text of a JSON
//! number) is read into minor units at the currency's ISO 4217 exponent: 2 for PEN and
//! USD, 0 for JPY or CLP, 3 for KWD or BHD. More decimals than the currency has is an
//! error, not a rounding. Thresholds are given per currency ([`PerCurrency`]); an amount
//! in a currency a rule names no threshold for is outside that rule. Sums never mix
//! currencies.
//!
//! What it approximates: the exponent table covers the currencies a shop in the region
//! takes and the well-known exceptions to 2; any other three-letter code is taken to have
//! 2 decimals.

use std::fmt;

/// An ISO 4217 code, upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// Currencies without minor units, and with three decimals.
const NO_DECIMALS: [&str; 12] = [
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "UGX", "VND", "XAF",
];
const THREE_DECIMALS: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

impl Currency {
    pub const PEN: Currency = Currency(*b"PEN");

    /// A three-letter code, in any case, with surrounding blanks ignored.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let bytes: [u8; 3] = text.as_bytes().try_into().ok()?;
        if !bytes.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        Some(Self(bytes.map(|b| b.to_ascii_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// How many decimals its amounts have.
    pub fn exponent(self) -> u32 {
        let code = self.as_str();
        if NO_DECIMALS.contains(&code) {
            0
        } else if THREE_DECIMALS.contains(&code) {
            3
        } else {
            2
        }
    }

    /// Read a decimal text in this currency: no sign, no exponent, at most as many decimals
    /// as the currency has, at most 15 digits in all.
    pub fn amount(self, text: &str) -> Option<Amount> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let exponent = self.exponent() as usize;
        if whole.is_empty()
            || whole.len() + exponent > 15
            || frac.len() > exponent
            || (text.contains('.') && frac.is_empty())
            || !digits(whole)
            || !digits(frac)
        {
            return None;
        }
        let mut minor: u64 = whole.parse().ok()?;
        for i in 0..exponent {
            let digit = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
            minor = minor.checked_mul(10)?.checked_add(digit)?;
        }
        Some(Amount {
            minor,
            currency: self,
        })
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exact amount: minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amount {
    pub minor: u64,
    pub currency: Currency,
}

impl fmt::Display for Amount {
    /// The decimal text, with the currency's decimals: `120.50`, `3000`, `1.250`. Written
    /// digit by digit rather than through `write!`: every payment's log line has one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        let mut digits = itoa::Buffer::new();
        if exponent == 0 {
            return f.write_str(digits.format(self.minor));
        }
        let unit = 10u64.pow(exponent);
        f.write_str(digits.format(self.minor / unit))?;
        f.write_str(".")?;
        let fraction = digits.format(self.minor % unit);
        for _ in fraction.len()..exponent as usize {
            f.write_str("0")?;
        }
        f.write_str(fraction)
    }
}

/// A threshold per currency, in minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerCurrency(Vec<Amount>);

impl PerCurrency {
    pub fn new(mut amounts: Vec<Amount>) -> Self {
        amounts.sort_by_key(|a| a.currency);
        Self(amounts)
    }

    /// The threshold for `currency`, in minor units; `None` when none is set.
    pub fn get(&self, currency: Currency) -> Option<u64> {
        self.0
            .iter()
            .find(|a| a.currency == currency)
            .map(|a| a.minor)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Amount> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn amounts_are_read_exactly_at_the_currencys_exponent() {
        let pen = cur("pen");
        assert_eq!(pen, Currency::PEN);
        assert_eq!(pen.amount("120").unwrap().minor, 12000);
        assert_eq!(pen.amount("120.5").unwrap().minor, 12050);
        assert_eq!(pen.amount(" 0.07 ").unwrap().minor, 7);
        // 0.1 + 0.2 is 0.3 here, as it should be.
        let sum = pen.amount("0.1").unwrap().minor + pen.amount("0.2").unwrap().minor;
        assert_eq!(sum, pen.amount("0.3").unwrap().minor);
        for bad in ["", "1.005", "-3", "1e3", "abc", ".5", "5.", "1,5", "+1"] {
            assert_eq!(pen.amount(bad), None, "{bad:?}");
        }
        assert_eq!(
            pen.amount("9999999999999").unwrap().minor,
            999_999_999_999_900
        );
        assert_eq!(pen.amount("99999999999999"), None, "more than 15 digits");
        assert_eq!(cur("JPY").amount("1500").unwrap().minor, 1500);
        assert_eq!(cur("JPY").amount("1500.5"), None);
        assert_eq!(cur("KWD").amount("1.25").unwrap().minor, 1250);
        assert_eq!(cur("KWD").amount("1.2505"), None);
    }

    #[test]
    fn amounts_print_with_their_currencys_decimals() {
        let show = |code: &str, text: &str| cur(code).amount(text).unwrap().to_string();
        assert_eq!(show("PEN", "120.5"), "120.50");
        assert_eq!(show("USD", "0.07"), "0.07");
        assert_eq!(show("CLP", "3000"), "3000");
        assert_eq!(show("BHD", "1.25"), "1.250");
        assert_eq!(show("BHD", "0.001"), "0.001");
        assert_eq!(show("PEN", "0"), "0.00");
        assert_eq!(show("PEN", "0.5"), "0.50");
        assert_eq!(show("PEN", "1000.01"), "1000.01");
        assert_eq!(show("PEN", "9999999999999.99"), "9999999999999.99");
    }

    #[test]
    fn codes_are_three_letters() {
        for bad in ["PE", "PENN", "P3N", "", "€€€"] {
            assert_eq!(Currency::parse(bad), None, "{bad:?}");
        }
        let thresholds = PerCurrency::new(vec![
            cur("USD").amount("1500").unwrap(),
            cur("PEN").amount("5000").unwrap(),
        ]);
        assert_eq!(thresholds.get(cur("PEN")), Some(500_000));
        assert_eq!(thresholds.get(cur("EUR")), None);
    }
}
