//! `metrics/rules.toml`: the series the recording rules write and the external ones they
//! read, in groups, written out as one `pub const GROUP: &[Metric]` per group.
//!
//! ```toml
//! [[group]]
//! const = "HTTP"
//! doc = "Shared HTTP signals."
//! kind = "Recorded"              # the default for the group's entries
//! labels = ["scenario", "step"]  # likewise
//!
//! [[group.metric]]
//! name = "redline:http_reqs:rate1m"
//! help = "Requests per second."
//! ```

use std::collections::BTreeSet;

use serde::Deserialize;
use toml::Spanned;

use crate::source::{Error, Source};
use crate::syntax;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    group: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    #[serde(rename = "const")]
    constant: Spanned<String>,
    doc: String,
    kind: Option<Spanned<String>>,
    labels: Option<Vec<String>>,
    metric: Vec<Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    labels: Option<Vec<String>>,
    help: Spanned<String>,
}

/// Reads `rules.toml` and returns the Rust that declares its groups.
pub fn generate(source: &Source) -> Result<String, String> {
    let file: File = source.parse()?;
    let mut out = String::new();
    let mut names = BTreeSet::new();
    for group in &file.group {
        let constant = group.constant.get_ref();
        if !syntax::is_constant(constant) {
            let line = source.line(group.constant.span());
            return Err(source.describe(&Error::new(
                line,
                "group, field `const`",
                format!("`{constant}` is not UPPER_SNAKE_CASE"),
            )));
        }
        out += &format!("#[doc = {}]\n", syntax::literal(&group.doc));
        out += &format!("pub const {constant}: &[crate::Metric] = &[\n");
        for entry in &group.metric {
            out += &metric(source, group, entry, &mut names).map_err(|e| source.describe(&e))?;
        }
        out += "];\n\n";
    }
    Ok(out)
}

/// One entry as a `Metric` expression, its group's kind and labels filling in what it omits.
fn metric<'a>(
    source: &Source,
    group: &Group,
    entry: &'a Spanned<Entry>,
    names: &mut BTreeSet<&'a str>,
) -> Result<String, Error> {
    let e = entry.get_ref();
    let (name, help) = (e.name.get_ref(), e.help.get_ref());
    let kind = e.kind.as_ref().or(group.kind.as_ref());
    let labels = e.labels.as_ref().or(group.labels.as_ref());
    let bad_key = labels
        .into_iter()
        .flatten()
        .find(|k| !syntax::is_series_name(k, false) || *k == "testid");
    source.first_broken(
        &format!("group {}, metric {name}", group.constant.get_ref()),
        [
            (
                syntax::is_series_name(name, true) && names.insert(name),
                e.name.span(),
                "name",
                "not a series name ([a-zA-Z_:][a-zA-Z0-9_:]*), or named twice in this file".into(),
            ),
            (
                kind.is_some(),
                entry.span(),
                "kind",
                "missing, and the group has none".into(),
            ),
            (
                kind.is_none_or(|k| syntax::KINDS.contains(&k.get_ref().as_str())),
                kind.map_or(entry.span(), |k| k.span()),
                "kind",
                format!("not one of {:?}", syntax::KINDS),
            ),
            (
                labels.is_some(),
                entry.span(),
                "labels",
                "missing, and the group has none (`labels = []` for none)".into(),
            ),
            (
                bad_key.is_none(),
                entry.span(),
                "labels",
                format!(
                    "`{}` is not a label key (`testid` is implicit)",
                    bad_key.map_or("", |k| k)
                ),
            ),
            (
                !help.trim().is_empty(),
                e.help.span(),
                "help",
                "empty; say what the series measures".into(),
            ),
        ],
    )?;
    Ok(format!(
        "    crate::Metric {{\n        name: {},\n        kind: crate::Kind::{},\n        labels: {},\n        help: {},\n    }},\n",
        syntax::literal(name),
        kind.map_or("", |k| k.get_ref()),
        syntax::keys(labels.map_or(&[], Vec::as_slice)),
        syntax::literal(help),
    ))
}
