//! Where a field stands in the YAML text: the line of a dotted field path, so that an error
//! found after parsing (validation, request compilation) still names its line.

/// serde_norway appends " at line L column C"; the error already carries them apart.
pub(super) fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The 1-based line of a dotted field path (`scenarios.burst.maxVUs`, `requests.2.weight`)
/// in a YAML document, found by walking keys at increasing indentation; `None` when the
/// path is not spelled out in block style.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0usize;
    let mut min_indent = 0usize;
    let mut found = None;
    for seg in path.split('.') {
        if let Ok(idx) = seg.parse::<usize>() {
            // The idx-th "- " item at the next indentation level.
            let mut count = 0;
            let mut item_indent = None;
            let mut hit = None;
            for (n, l) in lines.iter().enumerate().skip(from) {
                let indent = l.len() - l.trim_start().len();
                let t = l.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                if indent < min_indent && n > from {
                    break;
                }
                if t.starts_with("- ") || t == "-" {
                    if item_indent.is_none() {
                        item_indent = Some(indent);
                    }
                    if Some(indent) == item_indent {
                        if count == idx {
                            hit = Some((n, indent + 2));
                            break;
                        }
                        count += 1;
                    }
                }
            }
            let (n, ind) = hit?;
            found = Some(n + 1);
            from = n;
            min_indent = ind;
            // The item's first key is on the dash line; let the next key search include it.
            continue;
        }
        let mut hit = None;
        for (n, l) in lines.iter().enumerate().skip(from) {
            let t = l.trim_start().trim_start_matches("- ");
            let indent = l.len() - t.len();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if indent < min_indent && n > from {
                break;
            }
            let key = t.split(':').next().unwrap_or("").trim().trim_matches('"');
            if key == seg && t.contains(':') {
                hit = Some((n, indent + 1));
                break;
            }
        }
        let (n, ind) = hit?;
        found = Some(n + 1);
        from = n + 1;
        min_indent = ind;
    }
    found
}

/// [`locate`], else the line of the nearest enclosing field that is spelled out in block style
/// (a flow-style `{url: x, tags: {...}}` request: its `- ` line).
pub fn locate_nearest(text: &str, path: &str) -> Option<usize> {
    let mut p = path;
    loop {
        if let Some(line) = locate(text, p) {
            return Some(line);
        }
        p = &p[..p.rfind('.')?];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_walks_nested_keys_and_items() {
        let text = "scenarios:\n  a:\n    requests:\n      - url: x\n        weight: 0\n      - url: y\n        weight: 2\n";
        assert_eq!(locate(text, "scenarios.a.requests"), Some(3));
        assert_eq!(locate(text, "scenarios.a.requests.1"), Some(6));
        assert_eq!(locate(text, "scenarios.a.requests.1.weight"), Some(7));
        assert_eq!(locate(text, "scenarios.a.requests.0.weight"), Some(5));
        assert_eq!(locate(text, "scenarios.b"), None);
    }
}
