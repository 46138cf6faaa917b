//! How VUs use connections: how many there may be, how many HTTP/2 streams share one, and
//! whether one is reused at all. The command line builds it today (`--max-connections`,
//! `--streams-per-connection`, `--no-connection-reuse`); the names under `serde` are the ones a
//! scenario file's options will carry (`maxConnections`, `streamsPerConnection`,
//! `noConnectionReuse`, as k6 spells the last).

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionOptions {
    /// HTTP/1.1: at most this many open connections, VUs beyond it wait for one. HTTP/2: this
    /// many connections per origin, shared by every VU as concurrent streams (h2load's `-c`).
    pub max_connections: Option<usize>,
    /// HTTP/2 with `max_connections`: at most this many concurrent streams on one connection
    /// (h2load's `-m`); without it the server's SETTINGS_MAX_CONCURRENT_STREAMS is the limit.
    pub streams_per_connection: Option<usize>,
    /// A new connection (and TLS handshake) for every request, as k6's `noConnectionReuse`
    /// or wrk with `Connection: close`.
    #[serde(default)]
    pub no_connection_reuse: bool,
}

/// Which HTTP/2 implementation runs requests that are not SSE streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Http2Engine {
    /// Frames driven by redline itself ([`crate::h2lean`]), like the lean HTTP/1.1 path.
    #[default]
    Lean,
    /// The `h2` crate, hyper's engine ([`crate::h2conn`]): the reference the lean path is
    /// compared with.
    H2,
}

/// How the client's connections are shaped once the options are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Each VU owns one kept-alive connection (k6's model).
    PerVu,
    /// Each VU owns its connection, but at most `max` are open at once.
    Limited { max: usize },
    /// HTTP/2: `connections` per origin shared by all VUs, up to `streams` each.
    Multiplexed {
        connections: usize,
        streams: Option<usize>,
    },
    /// A fresh connection for every request.
    PerRequest,
}

impl ConnectionOptions {
    /// The shape these options ask for over `http2` or HTTP/1.1, or why they cannot go
    /// together (the message names the flags).
    pub fn shape(&self, http2: bool) -> Result<Shape, String> {
        if self.max_connections == Some(0) {
            return Err("--max-connections must be at least 1".into());
        }
        if self.streams_per_connection == Some(0) {
            return Err("--streams-per-connection must be at least 1".into());
        }
        if self.no_connection_reuse {
            if self.max_connections.is_some() || self.streams_per_connection.is_some() {
                return Err(
                    "--no-connection-reuse opens a connection per request: it cannot go with --max-connections or --streams-per-connection".into(),
                );
            }
            return Ok(Shape::PerRequest);
        }
        match (self.max_connections, self.streams_per_connection) {
            (None, None) => Ok(Shape::PerVu),
            (None, Some(_)) => {
                Err("--streams-per-connection needs --max-connections (the connections the streams share)".into())
            }
            (Some(_), Some(_)) if !http2 => Err(
                "--streams-per-connection needs --http2: an HTTP/1.1 connection carries one request at a time".into(),
            ),
            (Some(max), None) if !http2 => Ok(Shape::Limited { max }),
            (Some(connections), streams) => Ok(Shape::Multiplexed {
                connections,
                streams,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(max: Option<usize>, streams: Option<usize>, no_reuse: bool) -> ConnectionOptions {
        ConnectionOptions {
            max_connections: max,
            streams_per_connection: streams,
            no_connection_reuse: no_reuse,
        }
    }

    #[test]
    fn shapes_follow_the_protocol() {
        assert_eq!(opts(None, None, false).shape(true), Ok(Shape::PerVu));
        assert_eq!(
            opts(Some(5), None, false).shape(false),
            Ok(Shape::Limited { max: 5 })
        );
        assert_eq!(
            opts(Some(5), Some(10), false).shape(true),
            Ok(Shape::Multiplexed {
                connections: 5,
                streams: Some(10)
            })
        );
        assert_eq!(
            opts(Some(2), None, false).shape(true),
            Ok(Shape::Multiplexed {
                connections: 2,
                streams: None
            })
        );
        assert_eq!(opts(None, None, true).shape(false), Ok(Shape::PerRequest));
    }

    #[test]
    fn contradictions_are_refused_naming_the_flags() {
        let e = opts(Some(5), Some(10), false).shape(false).unwrap_err();
        assert!(e.contains("--http2"), "{e}");
        let e = opts(None, Some(10), false).shape(true).unwrap_err();
        assert!(e.contains("--max-connections"), "{e}");
        let e = opts(Some(1), None, true).shape(true).unwrap_err();
        assert!(e.contains("--no-connection-reuse"), "{e}");
        assert!(opts(Some(0), None, false).shape(false).is_err());
        assert!(opts(Some(1), Some(0), false).shape(true).is_err());
    }

    #[test]
    fn scenario_names_are_camel_case() {
        let o: ConnectionOptions = serde_json::from_str(
            r#"{"maxConnections": 5, "streamsPerConnection": 10, "noConnectionReuse": false}"#,
        )
        .unwrap();
        assert_eq!(o, opts(Some(5), Some(10), false));
        assert!(serde_json::from_str::<ConnectionOptions>(r#"{"maxConns": 1}"#).is_err());
    }
}
