//! A map whose entries expire: the building block of the memory store.
//!
//! Expired entries are invisible to reads at once (lazy expiry against the caller's
//! `now`) and are removed by [`TtlMap::purge`], which the store's background task calls.
//! Ordered sets of (expiry, key) make purging and "evict the soonest to expire"
//! logarithmic instead of a scan. An entry may belong to a group (the memory store's
//! tenant); each group has its own ordered set (ungrouped entries share one), so a
//! group's size and its soonest entry are known without a scan too, and no key is held
//! in two sets. Store-wide questions look at the first entry of each set: there are as
//! many as groups, which is a handful of tenants.

use crate::domain::Millis;
use std::collections::{BTreeSet, HashMap};

type Order = BTreeSet<(Millis, String)>;

#[derive(Debug)]
struct Slot<V> {
    value: V,
    expires_at: Millis,
    group: Option<String>,
}

/// String-keyed map with a per-entry expiry instant and an optional group.
#[derive(Debug)]
pub struct TtlMap<V> {
    entries: HashMap<String, Slot<V>>,
    ungrouped: Order,
    groups: HashMap<String, Order>,
}

impl<V> Default for TtlMap<V> {
    fn default() -> Self {
        TtlMap {
            entries: HashMap::new(),
            ungrouped: BTreeSet::new(),
            groups: HashMap::new(),
        }
    }
}

impl<V> TtlMap<V> {
    /// A live entry.
    pub fn get(&self, key: &str, now: Millis) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|s| s.expires_at > now)
            .map(|s| &s.value)
    }

    /// A live entry, mutably.
    pub fn get_mut(&mut self, key: &str, now: Millis) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|s| s.expires_at > now)
            .map(|s| &mut s.value)
    }

    /// Expiry of a live entry.
    pub fn expiry(&self, key: &str, now: Millis) -> Option<Millis> {
        self.entries
            .get(key)
            .map(|s| s.expires_at)
            .filter(|e| *e > now)
    }

    /// Inserts or replaces an entry, in no group.
    pub fn insert(&mut self, key: String, value: V, expires_at: Millis) {
        self.insert_in(None, key, value, expires_at);
    }

    /// Inserts or replaces an entry of `group`.
    pub fn insert_in(&mut self, group: Option<&str>, key: String, value: V, expires_at: Millis) {
        self.remove(&key);
        self.link(group, expires_at, &key);
        let group = group.map(str::to_string);
        self.entries.insert(
            key,
            Slot {
                value,
                expires_at,
                group,
            },
        );
    }

    /// Moves an entry's expiry.
    pub fn set_expiry(&mut self, key: &str, expires_at: Millis) {
        let Some(slot) = self.entries.get_mut(key) else {
            return;
        };
        let (old, group) = (slot.expires_at, slot.group.clone());
        slot.expires_at = expires_at;
        self.unlink(group.as_deref(), old, key);
        self.link(group.as_deref(), expires_at, key);
    }

    /// Removes an entry.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let slot = self.entries.remove(key)?;
        self.unlink(slot.group.as_deref(), slot.expires_at, key);
        Some(slot.value)
    }

    /// Drops every entry expired at `now`; returns how many.
    pub fn purge(&mut self, now: Millis) -> usize {
        let mut gone = Vec::new();
        for set in std::iter::once(&mut self.ungrouped).chain(self.groups.values_mut()) {
            while set.first().is_some_and(|(exp, _)| *exp <= now) {
                gone.push(set.pop_first().expect("first exists").1);
            }
        }
        self.groups.retain(|_, set| !set.is_empty());
        for key in &gone {
            self.entries.remove(key);
        }
        gone.len()
    }

    /// Expiry of the entry that would expire first.
    pub fn soonest(&self) -> Option<Millis> {
        std::iter::once(&self.ungrouped)
            .chain(self.groups.values())
            .filter_map(|set| set.first().map(|(e, _)| *e))
            .min()
    }

    /// Expiry of `group`'s entry that would expire first.
    pub fn soonest_in(&self, group: &str) -> Option<Millis> {
        self.groups.get(group)?.first().map(|(e, _)| *e)
    }

    /// Removes `group`'s entry that would expire first.
    pub fn evict_soonest_in(&mut self, group: &str) -> Option<String> {
        let (_, key) = self.groups.get(group)?.first().cloned()?;
        self.remove(&key);
        Some(key)
    }

    /// Entries held, live or not yet purged.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries of `group` held, live or not yet purged.
    pub fn len_in(&self, group: &str) -> usize {
        self.groups.get(group).map_or(0, BTreeSet::len)
    }

    fn link(&mut self, group: Option<&str>, expires_at: Millis, key: &str) {
        let set = match group {
            Some(g) => self.groups.entry(g.to_string()).or_default(),
            None => &mut self.ungrouped,
        };
        set.insert((expires_at, key.to_string()));
    }

    fn unlink(&mut self, group: Option<&str>, expires_at: Millis, key: &str) {
        let k = (expires_at, key.to_string());
        match group {
            None => {
                self.ungrouped.remove(&k);
            }
            Some(g) => {
                if let Some(set) = self.groups.get_mut(g) {
                    set.remove(&k);
                    if set.is_empty() {
                        self.groups.remove(g);
                    }
                }
            }
        }
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
    fn soonest_looks_across_groups() {
        let mut m = TtlMap::default();
        m.insert("late".into(), (), 300);
        m.insert_in(Some("g"), "soon".into(), (), 100);
        m.insert_in(Some("h"), "mid".into(), (), 200);
        assert_eq!(m.soonest(), Some(100));
        assert_eq!(m.evict_soonest_in("g").as_deref(), Some("soon"));
        assert_eq!((m.len(), m.soonest()), (2, Some(200)));
    }

    #[test]
    fn groups_count_and_evict_their_own_entries() {
        let mut m = TtlMap::default();
        m.insert_in(Some("a"), "a1".into(), (), 100);
        m.insert_in(Some("b"), "b1".into(), (), 50);
        m.insert_in(Some("a"), "a2".into(), (), 300);
        m.insert("free".into(), (), 10);
        assert_eq!((m.len(), m.len_in("a"), m.len_in("b")), (4, 2, 1));
        assert_eq!(m.soonest(), Some(10));
        assert_eq!(m.soonest_in("a"), Some(100));
        m.set_expiry("a1", 400);
        assert_eq!(m.soonest_in("a"), Some(300));
        assert_eq!(m.evict_soonest_in("a").as_deref(), Some("a2"));
        assert_eq!(m.get("b1", 0), Some(&()), "another group is untouched");
        m.insert_in(Some("b"), "a1".into(), (), 20);
        assert_eq!(
            (m.len_in("a"), m.len_in("b")),
            (0, 2),
            "a re-insert moves it"
        );
        assert_eq!(m.purge(60), 3);
        assert_eq!((m.len(), m.len_in("b"), m.soonest_in("b")), (0, 0, None));
        assert!(m.groups.is_empty() && m.ungrouped.is_empty());
    }
}
