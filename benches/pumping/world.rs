//! The tenant's normal world: countries with their real calling codes, mobile ranges
//! and national number lengths, their share of the tenant's sends, their time zone and
//! how often their users type the code back; and the day's volume curve.

use crate::rng::Rng;
use otpgw::domain::PhoneNumber;

/// One destination country.
pub struct Country {
    pub iso: &'static str,
    /// Calling code.
    pub cc: &'static str,
    /// Share of the tenant's sends (normalised over the table).
    pub share: f64,
    /// Offset of local time from UTC, hours.
    pub utc: f64,
    /// Share of users who type their code back.
    pub conv: f64,
    /// Mobile ranges: national leading digits, and the national number's length.
    pub plan: &'static [(&'static [&'static str], usize)],
}

const US_NPA: &[&str] = &[
    "201", "202", "203", "205", "206", "210", "212", "213", "214", "215", "216", "224", "248",
    "267", "281", "301", "303", "305", "310", "312", "313", "314", "317", "323", "347", "404",
    "407", "408", "412", "415", "469", "480", "503", "504", "510", "512", "513", "571", "602",
    "612", "614", "615", "617", "619", "626", "646", "650", "678", "702", "703", "704", "713",
    "718", "720", "732", "754", "773", "786", "801", "813", "832", "847", "858", "904", "909",
    "916", "917", "919", "925", "949", "954", "972", "973",
];
const CA_NPA: &[&str] = &[
    "204", "236", "289", "306", "343", "403", "416", "437", "438", "450", "506", "514", "579",
    "587", "604", "613", "647", "705", "709", "778", "780", "819", "825", "902", "905",
];
const BR_DDD: &[&str] = &[
    "119", "129", "139", "169", "199", "219", "249", "279", "319", "349", "419", "439", "479",
    "489", "519", "549", "619", "629", "679", "719", "759", "819", "859", "919", "929", "989",
];
const DE_11: &[&str] = &["151", "152", "157", "159", "176", "177", "178", "179"];
const DE_10: &[&str] = &[
    "160", "162", "163", "170", "171", "172", "173", "174", "175",
];
const ID_LEADS: &[&str] = &[
    "811", "812", "813", "821", "822", "823", "852", "853", "857", "858", "877", "878", "881",
    "882", "895", "896", "897", "898",
];
const PH_LEADS: &[&str] = &[
    "905", "906", "915", "916", "917", "926", "927", "935", "936", "945", "955", "956", "966",
    "967", "975", "977", "995", "997", "998", "999",
];
const NG_LEADS: &[&str] = &[
    "701", "703", "705", "706", "708", "802", "803", "805", "806", "807", "808", "810", "811",
    "812", "813", "814", "815", "816", "902", "903", "905", "906", "907",
];
const VN_LEADS: &[&str] = &[
    "90", "91", "93", "94", "96", "97", "98", "32", "33", "34", "35", "36", "37", "38", "39", "70",
    "76", "77", "78", "79", "81", "82", "83", "84", "85", "86", "88", "89",
];
const ZA_LEADS: &[&str] = &[
    "60", "61", "62", "63", "64", "65", "66", "71", "72", "73", "74", "76", "78", "79", "81", "82",
    "83", "84",
];

/// The tenant's countries, biggest first.
pub const COUNTRIES: &[Country] = &[
    c("US", "1", 20.0, -6.0, 0.85, &[(US_NPA, 10)]),
    c("IN", "91", 14.0, 5.5, 0.72, &[(&["6", "7", "8", "9"], 10)]),
    c("BR", "55", 10.0, -3.0, 0.78, &[(BR_DDD, 11)]),
    c(
        "GB",
        "44",
        7.0,
        0.0,
        0.86,
        &[(&["71", "73", "74", "75", "77", "78", "79"], 10)],
    ),
    c("DE", "49", 6.0, 1.0, 0.84, &[(DE_11, 11), (DE_10, 10)]),
    c("FR", "33", 5.0, 1.0, 0.83, &[(&["6", "7"], 9)]),
    c(
        "MX",
        "52",
        5.0,
        -6.0,
        0.74,
        &[(&["55", "33", "81", "22", "44", "66", "99"], 10)],
    ),
    c("ID", "62", 4.0, 7.0, 0.71, &[(ID_LEADS, 11)]),
    c(
        "ES",
        "34",
        3.5,
        1.0,
        0.85,
        &[(&["6", "71", "72", "73", "74"], 9)],
    ),
    c(
        "IT",
        "39",
        3.0,
        1.0,
        0.84,
        &[(&["32", "33", "34", "35", "36", "38", "39"], 10)],
    ),
    c("PH", "63", 3.0, 8.0, 0.73, &[(PH_LEADS, 10)]),
    c("NG", "234", 2.5, 1.0, 0.70, &[(NG_LEADS, 10)]),
    c(
        "TR",
        "90",
        2.5,
        3.0,
        0.80,
        &[(&["50", "53", "54", "55"], 10)],
    ),
    c(
        "PL",
        "48",
        2.0,
        1.0,
        0.86,
        &[(
            &[
                "50", "51", "53", "57", "60", "66", "69", "72", "78", "79", "88",
            ],
            9,
        )],
    ),
    c("VN", "84", 2.0, 7.0, 0.75, &[(VN_LEADS, 9)]),
    c("CA", "1", 2.0, -5.0, 0.86, &[(CA_NPA, 10)]),
    c("AU", "61", 1.5, 10.0, 0.87, &[(&["4"], 9)]),
    c("ZA", "27", 1.0, 2.0, 0.77, &[(ZA_LEADS, 9)]),
    c(
        "NL",
        "31",
        1.0,
        1.0,
        0.88,
        &[(&["61", "62", "63", "64", "65", "68"], 9)],
    ),
    c(
        "KE",
        "254",
        0.7,
        3.0,
        0.76,
        &[(&["70", "71", "72", "74", "79", "11"], 9)],
    ),
    c(
        "PK",
        "92",
        0.6,
        5.0,
        0.72,
        &[(&["30", "31", "32", "33", "34"], 10)],
    ),
    c(
        "EG",
        "20",
        0.6,
        2.0,
        0.74,
        &[(&["10", "11", "12", "15"], 10)],
    ),
    c("LV", "371", 0.2, 2.0, 0.88, &[(&["2"], 8)]),
    c("EE", "372", 0.15, 2.0, 0.89, &[(&["5"], 8)]),
];

/// A country the tenant never sends to (the never-served burst).
pub const UNSERVED: Country = c(
    "UZ",
    "998",
    0.0,
    5.0,
    0.8,
    &[(&["90", "91", "93", "94", "97", "99"], 9)],
);

const fn c(
    iso: &'static str,
    cc: &'static str,
    share: f64,
    utc: f64,
    conv: f64,
    plan: &'static [(&'static [&'static str], usize)],
) -> Country {
    Country {
        iso,
        cc,
        share,
        utc,
        conv,
        plan,
    }
}

/// A country by ISO code (the tenant's, or the never-served one).
pub fn country(iso: &str) -> &'static Country {
    COUNTRIES
        .iter()
        .chain(std::iter::once(&UNSERVED))
        .find(|c| c.iso == iso)
        .unwrap_or_else(|| panic!("no country {iso}"))
}

/// A valid number that starts with `start` (E.164) and has `len` digits after `+`,
/// uniform over the valid ones.
pub fn fill(start: &str, len: usize, rng: &mut Rng) -> PhoneNumber {
    for _ in 0..200 {
        let mut s = String::with_capacity(len + 1);
        s.push_str(start);
        rng.digits(len + 1 - start.len(), &mut s);
        if let Ok(n) = PhoneNumber::parse(&s) {
            return n;
        }
    }
    panic!("no valid number under {start} ({len} digits)");
}

impl Country {
    /// A random mobile number of the country, uniform over its ranges.
    pub fn number(&self, rng: &mut Rng) -> PhoneNumber {
        let (leads, len) = self.range_set(rng);
        let lead = rng.pick(leads);
        fill(&format!("+{}{lead}", self.cc), self.cc.len() + len, rng)
    }

    /// The E.164 start of a random 10 000-number range of the country, and the length
    /// of its numbers (digits after `+`).
    pub fn range(&self, rng: &mut Rng) -> (String, usize) {
        let n = self.number(rng);
        let s = n.as_str();
        (s[..s.len() - 4].to_string(), s.len() - 1)
    }

    fn range_set(&self, rng: &mut Rng) -> (&'static [&'static str], usize) {
        // Weighted by the number of numbers behind each set of leads.
        let size = |&(l, n): &(&[&str], usize)| {
            l.iter()
                .map(|x| 10f64.powi((n - x.len()) as i32))
                .sum::<f64>()
        };
        let total: f64 = self.plan.iter().map(size).sum();
        let mut x = rng.unit() * total;
        for p in self.plan {
            x -= size(p);
            if x < 0.0 {
                return *p;
            }
        }
        self.plan[self.plan.len() - 1]
    }
}

/// Numbers for the normal users of every country, drawn up front: parsing a number is
/// cheap only while its country's patterns stay in the parser's cache, so they are
/// drawn country by country, and every scenario takes them in the same order.
pub struct Pool(pub Vec<Vec<PhoneNumber>>);

impl Pool {
    /// Enough numbers for `days` days of `per_day` first sends (a scenario that needs
    /// more starts over: a returning user).
    pub fn new(per_day: f64, days: f64, rng: &mut Rng) -> Self {
        let total = total_share();
        Pool(
            COUNTRIES
                .iter()
                .map(|c| {
                    let n = (per_day * days * c.share / total * 1.5) as usize + 100;
                    (0..n).map(|_| c.number(rng)).collect()
                })
                .collect(),
        )
    }
}

/// Relative volume at a local hour (0..24): low at 04:00, highest mid-afternoon; its
/// mean over a day is 1.
pub fn diurnal(hour: f64) -> f64 {
    let raw = |h: f64| {
        let x = (1.0 - (std::f64::consts::TAU * (h - 4.0) / 24.0).cos()) / 2.0;
        0.12 + 0.88 * x.powf(1.3)
    };
    static MEAN: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let mean = MEAN.get_or_init(|| (0..2400).map(|i| raw(i as f64 / 100.0)).sum::<f64>() / 2400.0);
    raw(hour.rem_euclid(24.0)) / mean
}

/// Highest value of [`diurnal`].
pub fn diurnal_max() -> f64 {
    (0..240)
        .map(|i| diurnal(i as f64 / 10.0))
        .fold(0.0, f64::max)
}

/// Total share weight of the table.
pub fn total_share() -> f64 {
    COUNTRIES.iter().map(|c| c.share).sum()
}
