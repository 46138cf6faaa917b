//! What the generated Rust and Prometheus accept: the kinds, identifiers, series names and
//! how a text becomes a Rust string literal.

/// The variants of `redline_catalogue::Kind`, as the data files spell them. A kind outside
/// these would not compile either; checking here names the line.
pub const KINDS: &[&str] = &[
    "Counter",
    "Gauge",
    "Histogram",
    "NativeHistogram",
    "HistogramBoth",
    "Recorded",
];

/// Words a label key cannot be: it becomes a struct field, and `stringify!` of a raw
/// identifier (`r#type`) would not be the key.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe", "unsized",
    "use", "virtual", "where", "while", "yield",
];

fn word(s: &str, first: impl Fn(char) -> bool, rest: impl Fn(char) -> bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(first) && chars.all(rest)
}

/// A constant's name: `FAULTS_INJECTED`.
pub fn is_constant(s: &str) -> bool {
    word(
        s,
        |c| c.is_ascii_uppercase(),
        |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_',
    )
}

/// A label set's type name: `FaultLabels`.
pub fn is_type(s: &str) -> bool {
    word(s, |c| c.is_ascii_uppercase(), |c| c.is_ascii_alphanumeric())
}

/// A label key, which is also a Rust field name: `fault`, `expected_response`.
pub fn is_label_key(s: &str) -> bool {
    word(
        s,
        |c| c.is_ascii_lowercase() || c == '_',
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
    ) && !KEYWORDS.contains(&s)
}

/// A series name; `:` only where a recording rule writes it.
pub fn is_series_name(s: &str, colons: bool) -> bool {
    let ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':');
    word(s, ok, |c| ok(c) || c.is_ascii_digit())
}

/// The text as a Rust string literal (Debug escapes exactly what a literal needs).
pub fn literal(s: &str) -> String {
    format!("{s:?}")
}

/// Label keys as a `&[&str]` expression.
pub fn keys(keys: &[String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| literal(k)).collect();
    format!("&[{}]", quoted.join(", "))
}
