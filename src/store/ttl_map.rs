//! A map whose entries expire: the building block of the memory store.
//!
//! Expired entries are invisible to reads at once (lazy expiry against the caller's
//! `now`) and are removed by [`TtlMap::purge`], which the store's background task calls.
//! An ordered set of (expiry, key) makes purging and "evict the soonest to expire"
//! logarithmic instead of a scan.

use crate::domain::Millis;
use std::collections::{BTreeSet, HashMap};

/// String-keyed map with a per-entry expiry instant.
#[derive(Debug)]
pub struct TtlMap<V> {
    entries: HashMap<String, (V, Millis)>,
    order: BTreeSet<(Millis, String)>,
}

impl<V> Default for TtlMap<V> {
    fn default() -> Self {
        TtlMap {
            entries: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<V> TtlMap<V> {
    /// A live entry.
    pub fn get(&self, key: &str, now: Millis) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v)
    }

    /// A live entry, mutably.
    pub fn get_mut(&mut self, key: &str, now: Millis) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v)
    }

    /// Expiry of a live entry.
    pub fn expiry(&self, key: &str, now: Millis) -> Option<Millis> {
        self.entries.get(key).map(|(_, e)| *e).filter(|e| *e > now)
    }

    /// Inserts or replaces an entry.
    pub fn insert(&mut self, key: String, value: V, expires_at: Millis) {
        if let Some((_, old)) = self.entries.get(&key) {
            self.order.remove(&(*old, key.clone()));
        }
        self.order.insert((expires_at, key.clone()));
        self.entries.insert(key, (value, expires_at));
    }

    /// Moves an entry's expiry.
    pub fn set_expiry(&mut self, key: &str, expires_at: Millis) {
        if let Some((_, exp)) = self.entries.get_mut(key) {
            self.order.remove(&(*exp, key.to_string()));
            *exp = expires_at;
            self.order.insert((expires_at, key.to_string()));
        }
    }

    /// Removes an entry.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let (v, exp) = self.entries.remove(key)?;
        self.order.remove(&(exp, key.to_string()));
        Some(v)
    }

    /// Drops every entry expired at `now`; returns how many.
    pub fn purge(&mut self, now: Millis) -> usize {
        let mut n = 0;
        while let Some((exp, _)) = self.order.first() {
            if *exp > now {
                break;
            }
            let (_, key) = self.order.pop_first().expect("first exists");
            self.entries.remove(&key);
            n += 1;
        }
        n
    }

    /// Removes the entry that would expire first.
    pub fn evict_soonest(&mut self) -> Option<String> {
        let (_, key) = self.order.pop_first()?;
        self.entries.remove(&key);
        Some(key)
    }

    /// Entries held, live or not yet purged.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_are_invisible_then_purged() {
        let mut m = TtlMap::default();
        m.insert("a".into(), 1, 100);
        m.insert("b".into(), 2, 200);
        assert_eq!(m.get("a", 99), Some(&1));
        assert_eq!(m.get("a", 100), None);
        assert_eq!(m.purge(150), 1);
        assert_eq!(m.len(), 1);
        m.set_expiry("b", 120);
        assert_eq!(m.purge(150), 1);
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn evicts_the_soonest_to_expire() {
        let mut m = TtlMap::default();
        m.insert("late".into(), (), 300);
        m.insert("soon".into(), (), 100);
        m.insert("mid".into(), (), 200);
        assert_eq!(m.evict_soonest().as_deref(), Some("soon"));
        assert_eq!(m.len(), 2);
    }
}
