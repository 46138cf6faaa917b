//! A daemon module's data file (`metrics/chaos.toml`, ...): its label sets and its families,
//! written out as the `label_sets!` and `catalogue!` invocations of `src/declare.rs`.
//!
//! ```toml
//! [labels]
//! FaultLabels = ["fault"]
//! Response = { keys = ["scenario", "status"], doc = "One response." }
//!
//! [[metric]]
//! const = "FAULTS_INJECTED"
//! kind = "Counter"
//! labels = "FaultLabels"      # omitted for a single series
//! name = "redline_chaos_faults_injected_total"
//! help = "Faults injected, by kind."
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor, value};
use toml::Spanned;

use crate::source::{Error, Source};
use crate::syntax;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    labels: BTreeMap<String, Spanned<LabelSet>>,
    #[serde(default)]
    metric: Vec<Entry>,
}

/// A label set: its keys, in the order they are exposed, and an optional doc.
struct LabelSet {
    keys: Vec<String>,
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentedSet {
    keys: Vec<String>,
    doc: String,
}

/// `Name = ["a", "b"]`, or `Name = { keys = [...], doc = "..." }` where the set wants a doc.
impl<'de> Deserialize<'de> for LabelSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = LabelSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of label keys, or a table with `keys` and `doc`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LabelSet, A::Error> {
                let keys = Deserialize::deserialize(value::SeqAccessDeserializer::new(seq))?;
                Ok(LabelSet { keys, doc: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LabelSet, A::Error> {
                let set: DocumentedSet =
                    Deserialize::deserialize(value::MapAccessDeserializer::new(map))?;
                Ok(LabelSet {
                    keys: set.keys,
                    doc: Some(set.doc),
                })
            }
        }
        d.deserialize_any(Either)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(rename = "const")]
    constant: Spanned<String>,
    kind: Spanned<String>,
    labels: Option<Spanned<String>>,
    name: Spanned<String>,
    help: Spanned<String>,
}

/// Reads a daemon module's data file and returns the Rust that declares it.
pub fn generate(source: &Source) -> Result<String, String> {
    let file: File = source.parse()?;
    check(source, &file).map_err(|e| source.describe(&e))?;
    Ok(emit(&file))
}

fn check(source: &Source, file: &File) -> Result<(), Error> {
    for (name, set) in &file.labels {
        let keys = &set.get_ref().keys;
        let unique: BTreeSet<_> = keys.iter().collect();
        let bad = keys
            .iter()
            .find(|k| !syntax::is_label_key(k) || *k == "testid");
        source.first_broken(
            &format!("[labels] {name}"),
            [
                (
                    syntax::is_type(name),
                    set.span(),
                    "name",
                    "a label set is named like a Rust type (FaultLabels)".into(),
                ),
                (
                    !keys.is_empty(),
                    set.span(),
                    "keys",
                    "none; omit a family's `labels` for a single series".into(),
                ),
                (
                    bad.is_none(),
                    set.span(),
                    "keys",
                    format!(
                        "`{}` is not a label key: lower_snake_case, not a Rust keyword, not `testid` (every series has it)",
                        bad.map_or("", |k| k)
                    ),
                ),
                (
                    unique.len() == keys.len(),
                    set.span(),
                    "keys",
                    "a key listed twice".into(),
                ),
            ],
        )?;
    }
    if file.metric.is_empty() {
        return Err(Error::new(
            1,
            "[[metric]]",
            "none: a module declares at least one family",
        ));
    }
    let (mut constants, mut names) = (BTreeSet::new(), BTreeSet::new());
    for entry in &file.metric {
        let (constant, name, kind) = (
            entry.constant.get_ref(),
            entry.name.get_ref(),
            entry.kind.get_ref().as_str(),
        );
        let labels = entry.labels.as_ref();
        source.first_broken(
            &format!("metric {constant}"),
            [
                (
                    syntax::is_constant(constant) && constants.insert(constant),
                    entry.constant.span(),
                    "const",
                    "not UPPER_SNAKE_CASE, or declared twice in this file".into(),
                ),
                (
                    syntax::KINDS.contains(&kind) && kind != "Recorded",
                    entry.kind.span(),
                    "kind",
                    format!(
                        "`{kind}` is not a kind a daemon writes: one of {:?} (Recorded series are in rules.toml)",
                        syntax::KINDS.iter().filter(|k| **k != "Recorded").collect::<Vec<_>>()
                    ),
                ),
                (
                    labels.is_none_or(|l| file.labels.contains_key(l.get_ref())),
                    labels.map_or(0..0, |l| l.span()),
                    "labels",
                    format!(
                        "no label set `{}` in [labels]",
                        labels.map_or("", |l| l.get_ref())
                    ),
                ),
                (
                    syntax::is_series_name(name, false) && names.insert(name),
                    entry.name.span(),
                    "name",
                    format!(
                        "`{name}` is not a series name ([a-zA-Z_][a-zA-Z0-9_]*), or named twice in this file"
                    ),
                ),
                (
                    (kind == "Counter") == name.ends_with("_total"),
                    entry.name.span(),
                    "name",
                    "counters, and only counters, end in _total".into(),
                ),
                (
                    !entry.help.get_ref().trim().is_empty(),
                    entry.help.span(),
                    "help",
                    "empty; say what the series measures".into(),
                ),
            ],
        )?;
    }
    Ok(())
}

fn emit(file: &File) -> String {
    let mut out = String::from("label_sets! {\n");
    for (name, set) in &file.labels {
        let set = set.get_ref();
        if let Some(doc) = &set.doc {
            out += &format!("    #[doc = {}]\n", syntax::literal(doc));
        }
        out += &format!("    {name} {{ {} }}\n", set.keys.join(", "));
    }
    out += "}\n\ncatalogue! {\n";
    for entry in &file.metric {
        let labels = match &entry.labels {
            Some(set) => format!("<{}>", set.get_ref()),
            None => String::new(),
        };
        out += &format!(
            "    {}: {}{labels} = {},\n        {};\n",
            entry.constant.get_ref(),
            entry.kind.get_ref(),
            syntax::literal(entry.name.get_ref()),
            syntax::literal(entry.help.get_ref()),
        );
    }
    out += "}\n";
    out
}
