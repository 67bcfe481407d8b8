//! A level's decayed counts ([`Tally`]) in thousandths of a send: how they decay to a
//! moment, and how they are stored (the same fields `guard.lua` keeps).

use super::GuardPolicy;
use crate::domain::Millis;

/// Decayed counts of one level, in thousandths of a send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Recent sends.
    pub rs: i64,
    /// Recent approvals.
    pub ra: i64,
    /// Long sends (the baseline; includes the recent ones).
    pub ls: i64,
    /// Long approvals.
    pub la: i64,
    /// When last decayed, ms.
    pub t: Millis,
}

fn decay(x: i64, factor: f64) -> i64 {
    (x as f64 * factor + 0.5).floor() as i64
}

impl Tally {
    /// A level seen for the first time.
    pub fn new(now: Millis) -> Self {
        Tally {
            t: now,
            ..Tally::default()
        }
    }

    /// Decays the counts to `now` (a clock behind `t` decays nothing).
    pub fn decayed(mut self, now: Millis, p: &GuardPolicy) -> Self {
        if now > self.t {
            let dt = (now - self.t) as f64;
            let fr = (-dt / p.recent_ms as f64).exp();
            let fl = (-dt / p.baseline_ms as f64).exp();
            self.rs = decay(self.rs, fr);
            self.ra = decay(self.ra, fr);
            self.ls = decay(self.ls, fl);
            self.la = decay(self.la, fl);
            self.t = now;
        }
        self
    }

    /// Stored form: `rs,ra,ls,la,t`.
    pub fn encode(&self) -> String {
        format!("{},{},{},{},{}", self.rs, self.ra, self.ls, self.la, self.t)
    }

    /// Reads [`Tally::encode`].
    pub fn decode(s: &str) -> Option<Self> {
        let mut it = s.split(',').map(|x| x.parse::<i64>().ok());
        Some(Tally {
            rs: it.next()??,
            ra: it.next()??,
            ls: it.next()??,
            la: it.next()??,
            t: it.next()??,
        })
    }

    /// Thousandths to sends.
    pub(crate) fn f(x: i64) -> f64 {
        x as f64 / 1000.0
    }
}
