//! The reading as a whole against pprof's rules: flat to the innermost inlined frame, cum
//! once per sample, the parser's one-pass walk equal to a plain reading of decoded
//! structs, on real and built profiles, and malformed input as errors, never panics.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use prost::Message;

use super::fixtures::{FIXTURE_A, FIXTURE_B, sample, synthetic};
use super::*;

fn stat(stats: &[FunctionStat], name: &str) -> (i64, i64) {
    let s = stats.iter().find(|s| s.name == name).unwrap();
    (s.flat, s.cum)
}

#[test]
fn flat_goes_to_innermost_inlined_frame_and_cum_counts_recursion_once() {
    let p = synthetic();
    let stats = p.functions("inuse_space").unwrap();
    assert_eq!(stat(&stats, "b"), (100, 100));
    assert_eq!(stat(&stats, "a"), (0, 100));
    assert_eq!(stat(&stats, "c"), (7, 7));
    assert_eq!(stat(&stats, "main"), (0, 107));
    assert_eq!(stats.len(), 4, "zero-valued sample made a row: {stats:?}");
    assert_eq!(p.total("inuse_space").unwrap(), 107);
    let t = top(stats, 2, Order::Cum);
    assert_eq!(
        t.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["main", "a"],
        "cum ties broken by name"
    );
}

#[test]
fn dangling_location_is_reported_not_panicked_on() {
    let mut p = synthetic();
    p.sample[0] = sample(&[10, 11, 999], 100);
    assert!(matches!(
        p.functions("inuse_space"),
        Err(ProfileError::Dangling("location", 999))
    ));
}

#[test]
fn unpacked_fields_and_sparse_ids_read_the_same_and_truncation_is_an_error() {
    let want = synthetic().functions("inuse_space").unwrap();
    let mut p = synthetic();
    // location_id 10, 11 and value 100, unpacked (one key per element), plus a label.
    p.sample[0] = Bytes::from_static(&[0x08, 10, 0x08, 11, 0x10, 100, 0x1a, 2, 0x08, 1]);
    assert_eq!(p.functions("inuse_space").unwrap(), want);

    // Ids far apart (not Go's 1..n) take the hash-map path.
    let big = 1u64 << 40;
    let mut p = synthetic();
    for f in &mut p.function {
        f.id += big;
    }
    for l in &mut p.location {
        l.id += big;
        for line in &mut l.line {
            line.function_id += big;
        }
    }
    p.sample = vec![
        sample(&[10 + big, 11 + big], 100),
        sample(&[12 + big, 12 + big, 12 + big, 11 + big], 7),
    ];
    let mut got = p.functions("inuse_space").unwrap();
    let mut want = want;
    got.sort_by(|a, b| a.name.cmp(&b.name));
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(got, want);

    p.sample[0] = Bytes::from_static(&[0x0a, 5, 1]);
    assert!(matches!(
        p.total("inuse_space"),
        Err(ProfileError::Malformed(_))
    ));
}

/// pprof's rules written the plain way, over fully decoded structs: the reference the
/// parser's one-pass walk must agree with. Totals, and (flat, cum) per function name.
fn reference(p: &Profile, sample_type: &str) -> (Vec<i64>, BTreeMap<String, (i64, i64)>) {
    use std::collections::HashSet;
    let vi = p
        .sample_types()
        .iter()
        .position(|t| *t == sample_type)
        .unwrap();
    let name_of_fn: HashMap<u64, &str> = p
        .function
        .iter()
        .map(|f| (f.id, p.string(f.name)))
        .collect();
    let loc: HashMap<u64, Vec<&str>> = p
        .location
        .iter()
        .map(|l| {
            let names = if l.line.is_empty() {
                vec!["<unknown>"]
            } else {
                l.line.iter().map(|x| name_of_fn[&x.function_id]).collect()
            };
            (l.id, names)
        })
        .collect();
    let mut totals = vec![0i64; p.sample_type.len()];
    let mut rows: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for encoded in &p.sample {
        let s = Sample::decode(encoded.clone()).unwrap();
        for (t, v) in totals.iter_mut().zip(&s.value) {
            *t += v;
        }
        let v = s.value.get(vi).copied().unwrap_or(0);
        if v == 0 {
            continue;
        }
        let mut seen = HashSet::new();
        for (depth, id) in s.location_id.iter().enumerate() {
            for (i, name) in loc[id].iter().enumerate() {
                let row = rows.entry(name.to_string()).or_default();
                if depth == 0 && i == 0 {
                    row.0 += v;
                }
                if seen.insert(*name) {
                    row.1 += v;
                }
            }
        }
    }
    (totals, rows)
}

/// The parser, on the encoded bytes, against [`reference`] for every sample type, and
/// its summary against sorting every row, for every top size.
fn assert_matches_reference(p: &Profile, bytes: &[u8]) {
    let mut parser = Parser::new();
    let parsed = parser.read(bytes).unwrap();
    for st in p.sample_types() {
        let (totals, rows) = reference(p, st);
        let got = parsed.totals().unwrap();
        assert_eq!(got.iter().map(|t| t.total).collect::<Vec<_>>(), totals);
        let stats = parsed.functions(st).unwrap();
        let got: BTreeMap<String, (i64, i64)> = stats
            .iter()
            .map(|s| (s.name.clone(), (s.flat, s.cum)))
            .collect();
        assert_eq!(got.len(), stats.len(), "one row per name");
        assert_eq!(got, rows, "{st}");
        for n in 0..=stats.len() + 1 {
            let summary = parsed.summary(st, n).unwrap();
            assert_eq!(summary.totals, parsed.totals().unwrap());
            assert_eq!(
                summary.top_flat,
                top(stats.clone(), n, Order::Flat),
                "{st} {n}"
            );
            assert_eq!(
                summary.top_cum,
                top(stats.clone(), n, Order::Cum),
                "{st} {n}"
            );
        }
    }
}

#[test]
fn parser_agrees_with_the_plain_reading_on_real_and_built_profiles() {
    for gz in [FIXTURE_A, FIXTURE_B] {
        let p = decode(gz).unwrap();
        // As served (gzip, Go's own encoding) and plain.
        assert_matches_reference(&p, gz);
        assert_matches_reference(&p, &p.encode_to_vec());
    }
    let p = synthetic();
    assert_matches_reference(&p, &p.encode_to_vec());
}

#[test]
fn a_function_twice_in_one_stack_counts_once_in_cum() {
    let mut p = synthetic();
    // main at two call sites (locations 11 and 20) on one stack; "a" as two Function
    // entries (ids 1 and 4, both named "a") on one stack: b inlined into a (10) called
    // by the other "a" (13).
    p.location.push(Location {
        id: 20,
        line: vec![Line {
            function_id: 0,
            line: 9,
        }],
    });
    p.sample = vec![sample(&[10, 11, 20], 5), sample(&[10, 13, 11], 3)];
    let stats = p.functions("inuse_space").unwrap();
    assert_eq!(stat(&stats, "main"), (0, 8));
    assert_eq!(stat(&stats, "a"), (0, 8));
    assert_eq!(stat(&stats, "b"), (8, 8));
    assert_matches_reference(&p, &p.encode_to_vec());
    // A leaf location with an inlined frame of the same function as its caller.
    p.sample = vec![sample(&[13, 10], 4)];
    let stats = p.functions("inuse_space").unwrap();
    assert_eq!(stat(&stats, "a"), (4, 4));
    assert_eq!(stat(&stats, "b"), (0, 4));
}

#[test]
fn ids_that_are_not_dense_read_the_same() {
    let want = synthetic().functions("inuse_space").unwrap();
    let sorted = |mut v: Vec<FunctionStat>| {
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };
    // One far outlier among small ids makes a map sparse; id 0 is a valid key too.
    // (location 12 or 10 becomes `to`, function 3 becomes `fn_to`.)
    for (from, to, fn_to) in [(12, 1 << 40, 3), (12, u64::MAX, u64::MAX - 1), (10, 0, 7)] {
        let mut p = synthetic();
        for l in &mut p.location {
            if l.id == from {
                l.id = to;
            }
            for line in &mut l.line {
                if line.function_id == 3 {
                    line.function_id = fn_to;
                }
            }
        }
        for f in &mut p.function {
            if f.id == 3 {
                f.id = fn_to;
            }
        }
        let ids =
            |s: &[u64]| -> Vec<u64> { s.iter().map(|&i| if i == from { to } else { i }).collect() };
        p.sample = vec![
            sample(&ids(&[10, 11]), 100),
            sample(&ids(&[12, 12, 12, 11]), 7),
        ];
        assert_eq!(
            sorted(p.functions("inuse_space").unwrap()),
            sorted(want.clone()),
            "location {from} as {to}"
        );
        assert_matches_reference(&p, &p.encode_to_vec());
    }
}

#[test]
fn location_ids_in_two_packed_fields_read_as_one_list() {
    let want = synthetic().functions("inuse_space").unwrap();
    let mut p = synthetic();
    // location_id [12, 12] then [12, 11] (two packed fields), value 7.
    p.sample[1] = Bytes::from_static(&[0x0a, 2, 12, 12, 0x0a, 2, 12, 11, 0x12, 1, 7]);
    assert_eq!(p.functions("inuse_space").unwrap(), want);
    // An empty packed field before the real one.
    p.sample[1] = Bytes::from_static(&[0x0a, 0, 0x0a, 4, 12, 12, 12, 11, 0x12, 1, 7]);
    assert_eq!(p.functions("inuse_space").unwrap(), want);
}

#[test]
fn one_parser_reads_profile_after_profile() {
    let mut parser = Parser::new();
    let fresh = |bytes: &[u8]| Parser::new().read(bytes).unwrap().summary("inuse_space", 5);
    let small = synthetic().encode_to_vec();
    for bytes in [FIXTURE_B, &small[..], FIXTURE_A, FIXTURE_B, &small[..]] {
        let got = parser.read(bytes).unwrap().summary("inuse_space", 5);
        assert_eq!(got.unwrap(), fresh(bytes).unwrap());
    }
    assert!(parser.read(b"\x1f\x8bnot gzip").is_err());
    assert_eq!(
        parser
            .read(FIXTURE_A)
            .unwrap()
            .summary("inuse_space", 5)
            .unwrap(),
        fresh(FIXTURE_A).unwrap()
    );
}

#[test]
fn malformed_bytes_are_errors_not_panics() {
    let good = synthetic().encode_to_vec();
    let mut parser = Parser::new();
    for cut in 1..good.len() {
        // Cut anywhere: an error, or (at a field boundary) a shorter profile.
        if let Ok(p) = parser.read(&good[..cut]) {
            let _ = p.summary("inuse_space", 5);
        }
    }
    // sample_type (1) as a varint instead of a message.
    assert!(matches!(
        parser.read(&[0x08, 1]),
        Err(ProfileError::Malformed(_))
    ));
    // A group (wire type 3).
    assert!(matches!(
        parser.read(&[0x0b]),
        Err(ProfileError::Malformed(_))
    ));
    // A gzip trailer that lies about the size (4 GiB): bounded reservation, then
    // flate2's own check of it fails.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &good).unwrap();
    let mut gz = gz.finish().unwrap();
    let n = gz.len();
    gz[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut out = Vec::new();
    assert!(matches!(gunzip(&gz, &mut out), Err(ProfileError::Gzip(_))));
    assert!(out.capacity() < 1 << 20, "{}", out.capacity());
}

#[test]
fn zero_samples_are_not_walked() {
    // pprof drops zero-valued samples before it looks at their stacks; so does the
    // parser, which does not even read their location ids.
    let mut p = synthetic();
    p.sample.push(sample(&[999], 0));
    assert_eq!(p.total("inuse_space").unwrap(), 107);
    assert!(p.functions("inuse_space").is_ok());
}
