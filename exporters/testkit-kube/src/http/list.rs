//! Lists: selectors, `limit`/`continue` paging, the List envelope.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::route::Target;
use crate::Shared;
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};

/// The objects a list or deletecollection selects, plus the list rv.
pub(super) fn select(
    shared: &Shared,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<(Vec<Arc<Value>>, u64), ApiError> {
    let labels = LabelSelector::from_query(q)?;
    let fields = FieldSelector::from_query(q)?;
    let (items, rv) = shared.store.list(t.res, t.namespace.as_deref());
    let items = items
        .into_iter()
        .filter(|o| labels.matches_object(o) && fields.matches(o))
        .collect();
    Ok((items, rv))
}

pub(super) fn list_body(
    res: &ResourceType,
    items: Vec<Value>,
    rv: u64,
    cont: Option<(String, usize)>,
) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = cont {
        meta["continue"] = json!(token);
        meta["remainingItemCount"] = json!(remaining);
    }
    json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": meta, "items": items})
}

/// Lists with `limit`/`continue` paging. The continue token pins the first page's rv,
/// so a watch started from the last page's rv replays anything that changed meanwhile.
pub(super) fn list(
    shared: &Shared,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let (items, mut rv) = select(shared, t, q)?;
    let mut start = 0;
    if let Some(token) = q.get("continue").filter(|c| !c.is_empty()) {
        let (trv, after) = token
            .split_once(':')
            .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
        rv = trv
            .parse()
            .map_err(|_| ApiError::bad_request("invalid continue token"))?;
        let after = unhex(after).ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
        start = items.partition_point(|o| object_key(o) <= after);
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let end = limit.map_or(items.len(), |l| (start + l).min(items.len()));
    let cont = (end < items.len()).then(|| {
        let last = object_key(&items[end - 1]);
        (format!("{rv}:{}", hex(&last)), items.len() - end)
    });
    let page: Vec<Value> = items[start..end].iter().map(|o| (**o).clone()).collect();
    Ok(list_body(t.res, page, rv, cont))
}

/// Store order is (namespace, name); the continue token remembers the last one served.
fn object_key(o: &Value) -> String {
    format!(
        "{}\u{0}{}",
        o.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        o.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_keys_round_trip() {
        assert_eq!(unhex(&hex("ns\u{0}name")).unwrap(), "ns\u{0}name");
        assert_eq!(unhex("abc"), None, "odd length");
        assert_eq!(unhex("zz"), None, "not hex");
    }
}
