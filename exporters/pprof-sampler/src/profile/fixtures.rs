//! Profiles for the unit tests of `profile/` and of the modules built on it: two real Go
//! heap profiles (Prometheus' own, saved) and a small one built by hand.

use bytes::Bytes;
use prost::Message;

use super::{Function, Line, Location, Profile, Sample, ValueType};

pub(crate) const FIXTURE_A: &[u8] = include_bytes!("../../tests/data/prometheus-heap-a.pb.gz");
pub(crate) const FIXTURE_B: &[u8] = include_bytes!("../../tests/data/prometheus-heap-b.pb.gz");

pub(crate) fn sample(locations: &[u64], value: i64) -> Bytes {
    Sample {
        location_id: locations.to_vec(),
        value: vec![value],
    }
    .encode_to_vec()
    .into()
}

/// A small profile built by hand so the flat/cum rules can be checked exactly:
/// main -> a -> b(leaf) with b inlined into a, and a recursive c -> c -> c.
pub(crate) fn synthetic() -> Profile {
    let strings = ["", "inuse_space", "bytes", "main", "a", "b", "c"];
    let f = |id: u64, name: i64| Function {
        id,
        name,
        system_name: name,
        filename: 0,
    };
    let line = |function_id| Line {
        function_id,
        line: 1,
    };
    Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        sample: vec![
            // b inlined into a (one location, two lines), called from main.
            sample(&[10, 11], 100),
            // c recursing three times, from main.
            sample(&[12, 12, 12, 11], 7),
            // Zero samples must not create rows.
            sample(&[13], 0),
        ],
        location: vec![
            Location {
                id: 10,
                line: vec![line(2), line(1)],
            },
            Location {
                id: 11,
                line: vec![line(0)],
            },
            Location {
                id: 12,
                line: vec![line(3)],
            },
            Location {
                id: 13,
                line: vec![line(4)],
            },
        ],
        function: vec![f(0, 3), f(1, 4), f(2, 5), f(3, 6), f(4, 4)],
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}
