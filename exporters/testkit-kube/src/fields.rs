//! Small edits of JSON objects that the store and the defaulting both make, so each
//! rule (a non-map field is replaced by a map; an absent source field is removed) is
//! written once.

use serde_json::{Map, Value, json};

/// A map field, made (or replaced, when it is not a map) if needed.
pub fn map<'a>(m: &'a mut Map<String, Value>, field: &str) -> &'a mut Map<String, Value> {
    let v = m.entry(field).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("just made a map")
}

/// `obj` as a map, with `field` made a map if needed (see [`map`]). `obj` must be a map.
pub fn map_of<'a>(obj: &'a mut Value, field: &str) -> &'a mut Map<String, Value> {
    map(obj.as_object_mut().expect("checked by the caller"), field)
}

/// Sets `field` to `value`'s, or removes it where `value` has none: a copy of one field.
pub fn copy(m: &mut Map<String, Value>, field: &str, value: Option<&Value>) {
    match value {
        Some(v) => m.insert(field.into(), v.clone()),
        None => m.remove(field),
    };
}
