//! The samples of one metric family from Prometheus' text exposition format, as the API
//! server's `/metrics` serves it.
//!
//! Only what counting requests needs: `name{label="value",...} value [timestamp]` lines of
//! one name, label values unescaped (`\\`, `\"`, `\n`). The Rust crates that parse the
//! whole format drag in regex and chrono for this one loop, or are unmaintained.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// One sample: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of the family `name` in `text`, in the order served.
pub fn samples(text: &str, name: &str) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        // `name_bucket` or `name2` is another family that shares the prefix.
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        let at = |message: String| Error::Exposition {
            line: index + 1,
            message,
        };
        let (labels, rest) = if let Some(body) = rest.strip_prefix('{') {
            parse_labels(body).map_err(at)?
        } else {
            (BTreeMap::new(), rest)
        };
        let value_text = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| at(format!("{name}: no value")))?;
        let value = parse_value(value_text)
            .ok_or_else(|| at(format!("{name}: bad value {value_text:?}")))?;
        out.push(Sample { labels, value });
    }
    Ok(out)
}

/// Parses `a="x",b="y"}` and returns the labels and what follows the `}`.
fn parse_labels(body: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = body;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without '='")?;
        let key = rest[..eq].trim().to_string();
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or_else(|| format!("label {key}: value not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {key}: unterminated value")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("label {key}: unterminated value")),
            }
        };
        rest = &rest[end + 1..];
        labels.insert(key, value);
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 12
apiserver_request_total{code="404",component="apiserver",group="",resource="podtemplates",scope="resource",subresource="",verb="GET",version="v1"} 3 1700000000000
apiserver_request_total_other{code="200"} 99
apiserver_request_totals 5
apiserver_request_duration_seconds_bucket{le="+Inf"} 7
odd_total{path="/a\"b\\c,d=e}",n="x\ny"} 1e3
"#;

    #[test]
    fn reads_every_sample_of_one_family_and_nothing_else() {
        let found = samples(TEXT, "apiserver_request_total").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].value, 12.0);
        assert_eq!(found[0].labels["resource"], "pods");
        assert_eq!(found[0].labels["verb"], "LIST");
        assert_eq!(found[0].labels["dry_run"], "");
        assert_eq!(found[1].labels["code"], "404");
        assert_eq!(
            found[1].value, 3.0,
            "a timestamp after the value is not the value"
        );
    }

    #[test]
    fn unescapes_label_values_with_commas_braces_and_quotes() {
        let found = samples(TEXT, "odd_total").unwrap();
        assert_eq!(found[0].labels["path"], r#"/a"b\c,d=e}"#);
        assert_eq!(found[0].labels["n"], "x\ny");
        assert_eq!(found[0].value, 1000.0);
    }

    #[test]
    fn special_values_and_unlabelled_samples() {
        let found = samples("up 1\nx{a=\"b\"} +Inf\ny NaN\n", "x").unwrap();
        assert_eq!(found[0].value, f64::INFINITY);
        assert!(samples("y NaN\n", "y").unwrap()[0].value.is_nan());
        assert_eq!(samples("up 1\n", "up").unwrap()[0].labels.len(), 0);
    }

    #[test]
    fn a_broken_line_is_an_error_naming_its_line() {
        let err = samples("# x\nm{a=\"b} 1\n", "m").unwrap_err();
        assert_eq!(
            err.to_string(),
            "API server /metrics line 2: label a: unterminated value"
        );
        let err = samples("m{a=b} 1\n", "m").unwrap_err();
        assert!(
            err.to_string()
                .contains("line 1: label a: value not quoted"),
            "{err}"
        );
        let err = samples("m{} one\n", "m").unwrap_err();
        assert!(err.to_string().contains("bad value \"one\""), "{err}");
    }
}
