//! A set kept as a sorted vector: what the index uses for its many small per-key sets (most hold one or two
//! values), where a B-tree would reserve room for eleven.

/// A sorted, repeat-free vector with set operations. Insertion and removal are O(n): use it for small sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortedSet<T>(Vec<T>);

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet(Vec::new())
    }
}

impl<T: Ord> SortedSet<T> {
    /// Adds `value`; false when it was there already.
    pub fn insert(&mut self, value: T) -> bool {
        match self.0.binary_search(&value) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, value);
                true
            }
        }
    }

    /// Removes `value`; false when it was not there.
    pub fn remove(&mut self, value: &T) -> bool {
        match self.0.binary_search(value) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    pub fn contains(&self, value: &T) -> bool {
        self.0.binary_search(value).is_ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_values_sorted_and_unique() {
        let mut set = SortedSet::default();
        assert!(set.insert(3) && set.insert(1) && set.insert(2));
        assert!(!set.insert(2), "already there");
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(set.remove(&2) && !set.remove(&2));
        assert!(set.contains(&3) && !set.contains(&2));
        assert_eq!(set.len(), 2);
    }
}
