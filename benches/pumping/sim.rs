//! One scenario's run: warm-up days of normal traffic, then the simulated day with the
//! scenario on top, every send and correct check going through the guard in time order.

use crate::gateway::Gateway;
use crate::rng::Rng;
use crate::scenarios::Scenario;
use crate::traffic::{self, User, ATTACKER, DAY, DAY_START, H};
use crate::world::{Pool, COUNTRIES};
use otpgw::config::PumpingConfig;
use otpgw::ratelimit::pumping::{Action, Level, Outcome, PumpVerdict};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

pub struct Params {
    /// First sends of normal users per day (resends come on top).
    pub sends_per_day: f64,
    pub warmup_days: i64,
    pub seed: u64,
}

#[derive(Default)]
pub struct Stats {
    pub attack: u64,
    pub through: u64,
    /// Let through an hour or more after the attack began.
    pub late: u64,
    pub normal: u64,
    pub refused: u64,
    pub challenged: u64,
    /// Levels blocked during the day (by their label), and trips in all (a level
    /// trips again, with a new strike, each time a send passes its challenge while
    /// its counts still say pumped), by level.
    pub blocks: BTreeMap<Level, (BTreeSet<String>, u64)>,
    /// Normal sends refused during the day, by the level that refused them.
    pub refused_by: BTreeMap<Level, u64>,
    pub warmup_normal: u64,
    pub warmup_refused: u64,
    /// Levels that fell into a full level's shared overflow entry.
    pub overflowed: u64,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Kind {
    First,
    Resend,
    Approve,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Ev {
    t: i64,
    seq: u64,
    user: u32,
    kind: Kind,
    passed: bool,
    /// When the send was first tried (a retry after a challenge keeps it).
    intent: i64,
}

struct Run<'a> {
    sc: &'a Scenario,
    gw: Gateway,
    users: Vec<Option<User>>,
    free: Vec<u32>,
    heap: BinaryHeap<Reverse<Ev>>,
    seq: u64,
    brng: Rng,
    st: Stats,
}

/// Runs one scenario.
pub fn run(sc: &Scenario, cfg: &PumpingConfig, p: &Params, pool: &Pool) -> Stats {
    let mut rng = Rng::new(p.seed);
    let start = DAY_START - p.warmup_days * DAY;
    let (arrivals, attack_numbers) = traffic::arrivals(sc, p.sends_per_day, start, &mut rng);
    let mut attack_numbers = attack_numbers.into_iter();
    let mut taken = vec![0; COUNTRIES.len()];
    let mut urng = rng.fork(0x05E5);
    let mut arng = rng.fork(0xA77);
    let mut run = Run {
        sc,
        gw: Gateway::new(cfg),
        users: Vec::new(),
        free: Vec::new(),
        heap: BinaryHeap::new(),
        seq: 0,
        brng: rng.fork(0xB0),
        st: Stats::default(),
    };
    let mut next = arrivals.into_iter().peekable();
    loop {
        let ev_t = run.heap.peek().map(|Reverse(e)| e.t);
        let arrival = match (next.peek(), ev_t) {
            (Some(&(t, _)), Some(e)) => t <= e,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if !arrival {
            let Reverse(e) = run.heap.pop().expect("event");
            run.step(e);
            continue;
        }
        let (t, who) = next.next().expect("arrival");
        let mut u = if who == ATTACKER {
            let a = sc.attack.as_ref().expect("attack");
            traffic::attacker(a, attack_numbers.next().expect("number"), &mut arng)
        } else {
            let numbers = &pool.0[who];
            let to = numbers[taken[who] % numbers.len()].clone();
            taken[who] += 1;
            traffic::normal(who, to, t, sc.outage.as_ref(), &mut urng)
        };
        u.pending = 1;
        let id = match run.free.pop() {
            Some(id) => {
                run.users[id as usize] = Some(u);
                id
            }
            None => {
                run.users.push(Some(u));
                (run.users.len() - 1) as u32
            }
        };
        run.step(Ev {
            t,
            seq: 0,
            user: id,
            kind: Kind::First,
            passed: false,
            intent: t,
        });
    }
    run.st
}

impl Run<'_> {
    fn push(&mut self, user: u32, t: i64, kind: Kind, passed: bool, intent: i64) {
        self.seq += 1;
        self.users[user as usize].as_mut().expect("user").pending += 1;
        self.heap.push(Reverse(Ev {
            t,
            seq: self.seq,
            user,
            kind,
            passed,
            intent,
        }));
    }

    fn step(&mut self, e: Ev) {
        let mut u = self.users[e.user as usize].take().expect("user");
        u.pending -= 1;
        if e.kind == Kind::Approve {
            self.gw.approve(&u.to, u.ip, &u.risk, e.t);
        } else {
            u.risk.challenge_passed = e.passed;
            let v = self.gw.send(&u.to, u.ip, &u.risk, e.t);
            // A real user shown a challenge passes it 95 % of the time and tries again;
            // the attacker never passes one.
            let retry =
                v.outcome == Outcome::Challenge && !e.passed && !u.attack && self.brng.chance(0.95);
            self.account(&u, &e, &v, retry);
            self.users[e.user as usize] = Some(u);
            if retry {
                let at = e.t + (self.brng.between(10.0, 40.0) * 1000.0) as i64;
                self.push(e.user, at, e.kind, true, e.intent);
            } else if v.outcome == Outcome::Allowed {
                let u = self.users[e.user as usize].as_ref().expect("user");
                let (resend, typed, on_resend) = (u.resend, u.typed, u.code_on_resend);
                if let Some(rd) = resend.filter(|_| e.kind == Kind::First) {
                    self.push(e.user, e.t + rd, Kind::Resend, false, e.t + rd);
                }
                if let Some(d) = typed.filter(|_| on_resend == (e.kind == Kind::Resend)) {
                    self.push(e.user, e.t + d, Kind::Approve, false, e.t + d);
                }
            }
            u = self.users[e.user as usize].take().expect("user");
        }
        if u.pending > 0 {
            self.users[e.user as usize] = Some(u);
        } else {
            self.free.push(e.user);
        }
    }

    fn account(&mut self, u: &User, e: &Ev, v: &PumpVerdict, retry: bool) {
        let in_day = (DAY_START..DAY_START + DAY).contains(&e.intent);
        let st = &mut self.st;
        if std::env::var_os("PUMPING_DEBUG").is_some() {
            for t in v.trips.iter().filter(|t| t.new) {
                let h = (e.t - DAY_START) as f64 / H as f64;
                eprintln!(
                    "{h:.2} h attack={} {} {} strikes {} {:?}",
                    u.attack,
                    t.level.as_str(),
                    t.label,
                    t.strikes,
                    t.explain
                );
            }
        }
        if in_day {
            for t in v
                .trips
                .iter()
                .filter(|t| t.new && t.action != Action::Shadow)
            {
                let b = st.blocks.entry(t.level).or_default();
                b.0.insert(t.label.clone());
                b.1 += 1;
            }
        }
        st.overflowed += u64::from(v.overflowed);
        let allowed = v.outcome == Outcome::Allowed;
        if u.attack {
            let a = self.sc.attack.as_ref().expect("attack");
            st.attack += 1;
            if allowed {
                st.through += 1;
                if e.intent >= DAY_START + a.start + H {
                    st.late += 1;
                }
            }
            return;
        }
        if !e.passed {
            if in_day {
                st.normal += 1;
                st.challenged += u64::from(v.outcome == Outcome::Challenge);
            } else {
                st.warmup_normal += 1;
            }
        }
        if allowed || retry {
            return;
        }
        if in_day {
            st.refused += 1;
            if let Some(c) = v.cause() {
                *st.refused_by.entry(c.level).or_default() += 1;
            }
        } else {
            st.warmup_refused += 1;
        }
    }
}
