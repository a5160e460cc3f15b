//! The reorder buffer: examples arrive from parallel workers in any order and leave in sequence
//! order. A dropped example (its file was quarantined) arrives as a `None` so the sequence can
//! advance past it. The buffer never blocks: the batcher keeps receiving while it waits for a
//! gap, and the sampler's token window bounds how many items can pile up here.

use std::collections::BTreeMap;

/// Items keyed by sequence number, released in order.
#[derive(Debug)]
pub struct Reorder<T> {
    next: u64,
    pending: BTreeMap<u64, Option<T>>,
}

impl<T> Reorder<T> {
    /// A buffer expecting `first` next.
    pub fn new(first: u64) -> Self {
        Reorder { next: first, pending: BTreeMap::new() }
    }

    /// Adds item `seq` (`None`: dropped). Stale or duplicate numbers are ignored.
    pub fn push(&mut self, seq: u64, item: Option<T>) {
        if seq >= self.next {
            self.pending.entry(seq).or_insert(item);
        }
    }

    /// The next item in order, if it has arrived: `Some((seq, None))` for a dropped one.
    pub fn pop(&mut self) -> Option<(u64, Option<T>)> {
        let item = self.pending.remove(&self.next)?;
        let seq = self.next;
        self.next += 1;
        Some((seq, item))
    }

    /// Items waiting for a gap to fill.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_order_across_gaps_and_drops() {
        let mut r = Reorder::new(10);
        r.push(12, Some('c'));
        r.push(11, None);
        assert!(r.pop().is_none(), "10 has not arrived");
        r.push(10, Some('a'));
        r.push(9, Some('z'));
        assert_eq!(r.pop(), Some((10, Some('a'))));
        assert_eq!(r.pop(), Some((11, None)));
        assert_eq!(r.pop(), Some((12, Some('c'))));
        assert!(r.pop().is_none());
        assert!(r.is_empty());
    }
}
