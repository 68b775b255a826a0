//! What a version cannot show, kept in an annotation so that a round trip through that version loses nothing
//! (as Kubernetes does for its own types).
//!
//! In: the elements of a list as one version writes them (v2 targets, v1 calls), converted element by element.
//! Out: the converted list, and an annotation on the converted object holding, by index, each original element
//! that the normal rules would not give back. Converting back, an entry of the annotation replaces the element
//! the normal rules would produce when it still shows exactly as the element now written: at its own index
//! first, then at the first still unmatched equal element (so an inserted or removed element does not detach
//! the others). An entry that no longer matches is dropped, never applied to another element; an annotation
//! that does not parse is ignored. The annotation is consumed by the conversion that reads it, so the object of
//! the other version never carries it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// On a v1 object (`v1beta1`, `v1alpha3`): the v2 targets its calls show differently, by index (JSON object
/// `{"<index>": <target>}`), e.g. a `service` target, which a v1 call writes as `kind: Service`.
pub const HIDDEN_V2_TARGETS: &str = "conversion.k8s.otterize.com/v2-targets";

/// On a v2 object: the `v1beta1` calls its targets show differently, by index (`{"<index>": <call>}`), e.g. a
/// `svc:server` call, which v2 writes as `kind: Service`. On a `v1alpha3` object: the `v1beta1` calls it
/// cannot hold (Azure `azureActions`/`azureDataActions`).
pub const HIDDEN_V1BETA1_CALLS: &str = "conversion.k8s.otterize.com/v1beta1-calls";

/// Removes the annotation `key` from `metadata` and reads its entries; an annotation that does not parse
/// reads as no entries.
pub(crate) fn take<T: DeserializeOwned>(metadata: &mut ObjectMeta, key: &str) -> BTreeMap<usize, T> {
    let Some(annotations) = metadata.annotations.as_mut() else {
        return BTreeMap::new();
    };
    let Some(text) = annotations.remove(key) else {
        return BTreeMap::new();
    };
    if annotations.is_empty() {
        metadata.annotations = None;
    }
    serde_json::from_str(&text).unwrap_or_default()
}

/// Sets the annotation `key` to `entries`, or removes it when there are none.
pub(crate) fn put<T: Serialize>(metadata: &mut ObjectMeta, key: &str, entries: &BTreeMap<usize, T>) {
    if entries.is_empty() {
        if let Some(annotations) = metadata.annotations.as_mut()
            && annotations.remove(key).is_some()
            && annotations.is_empty()
        {
            metadata.annotations = None;
        }
        return;
    }
    // A map of plain data types always serializes; an empty object would only mean "nothing hidden".
    let text = serde_json::to_string(entries).unwrap_or_else(|_| "{}".to_owned());
    metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(key.to_owned(), text);
}

/// Converts `items` with `convert`, except where an entry of `hidden` shows (through `show`) as the item: there
/// the entry itself is the result. Matching is described in the module documentation.
pub(crate) fn restore<A: PartialEq, B>(
    items: Vec<A>,
    hidden: BTreeMap<usize, B>,
    show: impl Fn(&B) -> A,
    convert: impl Fn(A) -> B,
) -> Vec<B> {
    let mut restored: Vec<Option<B>> = items.iter().map(|_| None).collect();
    let mut unmatched = Vec::new();
    for (index, entry) in hidden {
        match items.get(index) {
            Some(item) if show(&entry) == *item => restored[index] = Some(entry),
            _ => unmatched.push(entry),
        }
    }
    for entry in unmatched {
        let shown = show(&entry);
        let free = items
            .iter()
            .zip(&restored)
            .position(|(item, slot)| slot.is_none() && *item == shown);
        if let Some(index) = free {
            restored[index] = Some(entry);
        }
    }
    items
        .into_iter()
        .zip(restored)
        .map(|(item, slot)| slot.unwrap_or_else(|| convert(item)))
        .collect()
}

/// The entries of `originals` that `back` does not give back from their converted form `converted` (same
/// index): what the converted object must hide to lose nothing.
pub(crate) fn lost<A: Clone + PartialEq, B>(
    originals: &[A],
    converted: &[B],
    back: impl Fn(&B) -> A,
) -> BTreeMap<usize, A> {
    originals
        .iter()
        .zip(converted)
        .enumerate()
        .filter(|(_, (original, converted))| back(converted) != **original)
        .map(|(index, (original, _))| (index, original.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy conversion that loses the sign: items are i32 written as u32.
    fn show(entry: &i32) -> u32 {
        entry.unsigned_abs()
    }

    fn convert(item: u32) -> i32 {
        item as i32
    }

    #[test]
    fn entries_come_back_at_their_index_or_at_an_equal_unmatched_item() {
        let hidden = BTreeMap::from([(1, -2), (3, -5)]);
        assert_eq!(
            restore(vec![1, 2, 3, 5], hidden.clone(), show, convert),
            [1, -2, 3, -5]
        );
        // An item inserted in front: both entries follow their items.
        assert_eq!(
            restore(vec![9, 1, 2, 3, 5], hidden.clone(), show, convert),
            [9, 1, -2, 3, -5]
        );
        // An item edited: its entry is dropped, not moved.
        assert_eq!(restore(vec![1, 4, 3, 5], hidden, show, convert), [1, 4, 3, -5]);
        // An entry at its own index wins over an earlier equal item.
        assert_eq!(
            restore(vec![2, 2], BTreeMap::from([(1, -2)]), show, convert),
            [2, -2]
        );
    }

    #[test]
    fn only_what_does_not_come_back_is_lost() {
        let originals = [1, -2, 3];
        let converted: Vec<u32> = originals.iter().map(show).collect();
        assert_eq!(
            lost(&originals, &converted, |c| convert(*c)),
            BTreeMap::from([(1, -2)])
        );
    }

    #[test]
    fn the_annotation_is_written_read_and_removed() {
        let mut metadata = ObjectMeta::default();
        put(&mut metadata, "k", &BTreeMap::<usize, i32>::new());
        assert_eq!(metadata.annotations, None);
        put(&mut metadata, "k", &BTreeMap::from([(2, -1)]));
        assert_eq!(
            metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("k"))
                .map(String::as_str),
            Some(r#"{"2":-1}"#)
        );
        assert_eq!(take::<i32>(&mut metadata, "k"), BTreeMap::from([(2, -1)]));
        assert_eq!(
            metadata.annotations, None,
            "removed, and no empty map left behind"
        );
        metadata.annotations = Some([("k".to_owned(), "not json".to_owned())].into());
        assert_eq!(take::<i32>(&mut metadata, "k"), BTreeMap::new());
    }
}
