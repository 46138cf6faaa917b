//! Each receiver's command line for the options a test chose, and what it will then accept.

use std::path::Path;

use crate::error::HarnessError;
use crate::options::Options;
use crate::receiver::Receiver;

/// Where one server keeps its files and listens.
pub(crate) struct Layout<'a> {
    /// Prometheus' config file, or VictoriaMetrics' `-promscrape.config` when it scrapes.
    pub config: Option<&'a Path>,
    pub data: &'a Path,
    pub port: u16,
}

/// Whether the server started with `options` takes native histograms over remote-write, or
/// why it cannot be started the way `options` insist.
pub(crate) fn native_histograms(
    receiver: Receiver,
    options: &Options,
) -> Result<bool, HarnessError> {
    let refuse = |why: &str| HarnessError::Unsupported {
        receiver: receiver.name(),
        why: why.to_string(),
    };
    match (receiver, options.native_histograms) {
        (Receiver::Prometheus2, None) => Ok(!options.stock),
        (Receiver::Prometheus2, Some(true)) if options.stock => Err(refuse(
            "a stock Prometheus 2 refuses native histograms; they need --enable-feature=native-histograms",
        )),
        (Receiver::Prometheus2, Some(on)) => Ok(on),
        (Receiver::Prometheus3, Some(false)) => Err(refuse(
            "Prometheus 3 stores remote-written native histograms whatever its flags \
             (--enable-feature=native-histograms is a logged no-op in 3.16)",
        )),
        (Receiver::Prometheus3, _) => Ok(true),
        (Receiver::VictoriaMetrics, Some(true)) => Err(refuse(
            "VictoriaMetrics has no native histograms; it keeps the floats of a remote-write request and drops its histograms",
        )),
        (Receiver::VictoriaMetrics, _) => Ok(false),
    }
}

/// The arguments after the program name.
pub(crate) fn command_line(
    receiver: Receiver,
    options: &Options,
    layout: &Layout<'_>,
) -> Result<Vec<String>, HarnessError> {
    let native = native_histograms(receiver, options)?;
    let refuse = |why: &str| HarnessError::Unsupported {
        receiver: receiver.name(),
        why: why.to_string(),
    };
    if options.exemplar_storage && receiver == Receiver::VictoriaMetrics {
        return Err(refuse(
            "VictoriaMetrics stores no exemplars (it drops them from remote-write requests)",
        ));
    }
    if options.created_timestamp_zero_ingestion && receiver != Receiver::Prometheus3 {
        return Err(refuse(
            "created-timestamp-zero-ingestion needs Prometheus 3 (2.42 predates it, and 1.0 \
             requests carry no start timestamps)",
        ));
    }
    let mut args = Vec::new();
    match receiver {
        Receiver::Prometheus2 | Receiver::Prometheus3 => {
            let config = layout.config.expect("Prometheus always gets a config file");
            args.push(format!("--config.file={}", config.display()));
            args.push(format!("--storage.tsdb.path={}", layout.data.display()));
            args.push(format!("--web.listen-address=127.0.0.1:{}", layout.port));
            args.push("--web.enable-remote-write-receiver".into());
            // Asked for explicitly, so given even to a stock server.
            if options.exemplar_storage {
                args.push("--enable-feature=exemplar-storage".into());
            }
            if options.created_timestamp_zero_ingestion {
                args.push("--enable-feature=created-timestamp-zero-ingestion".into());
            }
            if !options.stock {
                // 3.x takes native histograms without a flag and only logs a warning for it.
                if native && receiver == Receiver::Prometheus2 {
                    args.push("--enable-feature=native-histograms".into());
                }
                args.push("--web.enable-lifecycle".into());
                args.push("--log.level=warn".into());
            }
            if let Some(lb) = options.lookback_delta {
                args.push(format!("--query.lookback-delta={}ms", lb.as_millis()));
            }
        }
        Receiver::VictoriaMetrics => {
            if !options.rule_files.is_empty() {
                return Err(HarnessError::Unsupported {
                    receiver: receiver.name(),
                    why: "VictoriaMetrics single-node evaluates no rules (vmalert does); start a Prometheus for rule tests".into(),
                });
            }
            args.push(format!("-storageDataPath={}", layout.data.display()));
            args.push(format!("-httpListenAddr=127.0.0.1:{}", layout.port));
            if !options.stock {
                // Its response cache and 30 s latency offset hide fresh samples from queries
                // that run right after the write, which is all a test does.
                args.push("-search.disableCache".into());
                args.push("-search.latencyOffset=0s".into());
                args.push("-loggerLevel=WARN".into());
                // Remote-write is at-least-once: a write VictoriaMetrics stored but whose answer
                // was lost (an outage test's SIGTERM mid-request) comes again, and without
                // deduplication both copies are stored (measured: 281 samples of 280 pushed).
                // Production setups that take retried or HA-paired writes turn it on; at 1 ms
                // every distinct timestamp keeps its own sample.
                args.push("-dedup.minScrapeInterval=1ms".into());
            }
            if let Some(config) = layout.config {
                args.push(format!("-promscrape.config={}", config.display()));
            }
            if let Some(lb) = options.lookback_delta {
                args.push(format!("-search.maxLookback={}ms", lb.as_millis()));
            }
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn layout() -> Layout<'static> {
        Layout {
            config: Some(Path::new("/t/prometheus.yml")),
            data: Path::new("/t/data"),
            port: 9999,
        }
    }

    fn stock() -> Options {
        Options {
            stock: true,
            ..Options::default()
        }
    }

    #[test]
    fn a_stock_prometheus_gets_the_receiver_flag_and_nothing_else() {
        for receiver in [Receiver::Prometheus2, Receiver::Prometheus3] {
            let args = command_line(receiver, &stock(), &layout()).unwrap();
            assert_eq!(
                args,
                [
                    "--config.file=/t/prometheus.yml",
                    "--storage.tsdb.path=/t/data",
                    "--web.listen-address=127.0.0.1:9999",
                    "--web.enable-remote-write-receiver",
                ],
                "{receiver}"
            );
        }
        let vm = Layout {
            config: None,
            ..layout()
        };
        assert_eq!(
            command_line(Receiver::VictoriaMetrics, &stock(), &vm).unwrap(),
            ["-storageDataPath=/t/data", "-httpListenAddr=127.0.0.1:9999"]
        );
    }

    #[test]
    fn the_harness_default_turns_native_histograms_on_where_a_flag_is_needed() {
        let args = command_line(Receiver::Prometheus2, &Options::default(), &layout()).unwrap();
        assert!(args.contains(&"--enable-feature=native-histograms".to_string()));
        assert!(args.contains(&"--web.enable-lifecycle".to_string()));
        let args = command_line(Receiver::Prometheus3, &Options::default(), &layout()).unwrap();
        assert!(
            !args.iter().any(|a| a.starts_with("--enable-feature")),
            "{args:?}"
        );
        let off = Options {
            native_histograms: Some(false),
            lookback_delta: Some(Duration::from_secs(90)),
            ..Options::default()
        };
        let args = command_line(Receiver::Prometheus2, &off, &layout()).unwrap();
        assert!(
            !args.iter().any(|a| a.starts_with("--enable-feature")),
            "{args:?}"
        );
        assert!(args.contains(&"--query.lookback-delta=90000ms".to_string()));
    }

    #[test]
    fn what_a_receiver_cannot_do_is_refused_not_ignored() {
        let cases = [
            (
                Receiver::Prometheus2,
                Options {
                    native_histograms: Some(true),
                    ..stock()
                },
                "--enable-feature=native-histograms",
            ),
            (
                Receiver::Prometheus3,
                Options {
                    native_histograms: Some(false),
                    ..Options::default()
                },
                "whatever its flags",
            ),
            (
                Receiver::VictoriaMetrics,
                Options {
                    native_histograms: Some(true),
                    ..Options::default()
                },
                "drops its histograms",
            ),
            (
                Receiver::VictoriaMetrics,
                Options {
                    rule_files: vec!["alerts/http-load.yml".into()],
                    ..Options::default()
                },
                "vmalert",
            ),
        ];
        for (receiver, options, why) in cases {
            let e = command_line(receiver, &options, &layout()).unwrap_err();
            assert!(
                matches!(e, HarnessError::Unsupported { .. }) && e.to_string().contains(why),
                "{receiver}: {e}"
            );
        }
    }

    #[test]
    fn exemplar_storage_and_created_timestamps_are_flags_where_the_receiver_has_them() {
        let both = Options {
            exemplar_storage: true,
            created_timestamp_zero_ingestion: true,
            ..stock()
        };
        let args = command_line(Receiver::Prometheus3, &both, &layout()).unwrap();
        assert!(args.contains(&"--enable-feature=exemplar-storage".to_string()));
        assert!(args.contains(&"--enable-feature=created-timestamp-zero-ingestion".to_string()));
        let exemplars = Options {
            exemplar_storage: true,
            ..Options::default()
        };
        let args = command_line(Receiver::Prometheus2, &exemplars, &layout()).unwrap();
        assert!(args.contains(&"--enable-feature=exemplar-storage".to_string()));
        for (receiver, options, why) in [
            (Receiver::Prometheus2, &both, "Prometheus 3"),
            (Receiver::VictoriaMetrics, &exemplars, "no exemplars"),
        ] {
            let e = command_line(receiver, options, &layout()).unwrap_err();
            assert!(e.to_string().contains(why), "{receiver}: {e}");
        }
    }

    #[test]
    fn native_histograms_follow_the_flags() {
        let on = |r, o: &Options| native_histograms(r, o).unwrap();
        assert!(on(Receiver::Prometheus2, &Options::default()));
        assert!(!on(Receiver::Prometheus2, &stock()));
        assert!(on(Receiver::Prometheus3, &stock()));
        assert!(!on(Receiver::VictoriaMetrics, &Options::default()));
    }
}
