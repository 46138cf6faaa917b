//! The relay's life: validate the flags, start the runtime and the HTTP side, answer k6
//! until a stop or --idle-exit, then drain the disk buffer and finish.

use std::sync::Arc;
use std::time::Duration;

use redline_runtime::Runtime;

use crate::{K6RelayArgs, K6RelayError, forward, labels, metrics, rejection, server, spill};

/// Runs the relay until SIGINT/SIGTERM, or until no write arrived for `--idle-exit` after the
/// first one; then stops accepting, drains the disk buffer into the queue, and finishes (flush
/// and staleness markers for every forwarded series).
pub async fn run(args: K6RelayArgs) -> Result<(), K6RelayError> {
    args.validate()?;
    if args.common.remote_write_url.is_none() {
        return Err(K6RelayError::Flag {
            flag: "--remote-write-url",
            message: "k6-relay forwards to a remote-write endpoint; set --remote-write-url (REDLINE_REMOTE_WRITE_URL)".into(),
        });
    }
    let mut rt = Runtime::new(&args.common, "k6-relay")?;
    // The relay keeps the queue as full as it may with k6's samples through an outage (the
    // rest waits in the disk buffer or in held requests); its own series would be the ones
    // dropped at the full queue, so they wait for room too.
    rt.wait_for_queue_room();
    let metrics = metrics::Metrics::register(rt.registry());
    let spill =
        match &args.buffer_dir {
            Some(dir) => Some(spill::Spill::open(dir, args.buffer_max_bytes).map_err(
                |source| K6RelayError::Buffer {
                    path: dir.clone(),
                    source,
                },
            )?),
            None => None,
        };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| K6RelayError::Bind {
            addr: args.listen,
            source,
        })?;
    let running = rt.start().await?;
    let writer = running
        .remote_writer()
        .expect("the runtime starts a writer when --remote-write-url is set");
    let rules = labels::LabelRules::new(&args, running.testid());
    let forwarder = Arc::new(forward::Forwarder::new(
        writer,
        forward::Room::from_common(&args.common),
        args.queue_full_wait,
        spill,
        metrics.clone(),
    ));
    let stop = running.shutdown_token();
    let relay = server::Relay::new(
        forwarder.clone(),
        rules,
        metrics.clone(),
        args.max_body_bytes,
    );
    let idle = relay.idle_clock();
    let server_stop = tokio_util::sync::CancellationToken::new();
    let addr = listener.local_addr().unwrap_or(args.listen);
    tracing::info!(%addr, path = rejection::WRITE_PATH, "k6-relay: accepting remote-write");
    let server = tokio::spawn(server::serve(listener, relay, server_stop.clone()));
    let replay = tokio::spawn(forward::replay_loop(forwarder.clone(), server_stop.clone()));
    running.set_ready(true);

    wait_for_end(&stop, &idle, args.idle_exit).await;
    // One grace for the whole stop (requests in flight, the disk buffer, the queue): after
    // SIGTERM the runtime ends the process a little past it, mid-flush and uncounted.
    let end = std::time::Instant::now() + args.common.shutdown_grace;
    running.set_ready(false);
    server_stop.cancel();
    let _ = server.await;
    let _ = replay.await;
    // Whatever is still on disk goes into the queue before the writer's own flush deadline.
    forwarder
        .drain(end.saturating_duration_since(std::time::Instant::now()))
        .await;
    drop(forwarder);
    let report = running
        .finish_within(end.saturating_duration_since(std::time::Instant::now()))
        .await?;
    if let Some(rw) = report.remote_write {
        tracing::info!(
            stale_markers = rw.stale_markers,
            completed = rw.completed,
            "k6-relay finished"
        );
    }
    // What the relay itself gave up (503s, a full or corrupt disk buffer, what is left on
    // disk) never reached the queue, so the queue's own line does not count it; a run that
    // lost any of it must not exit 0 either.
    let lost: Vec<(u64, metrics::Drop)> = metrics::Drop::ALL
        .into_iter()
        .map(|d| (metrics.dropped_count(d), d))
        .filter(|(n, _)| *n > 0)
        .collect();
    let why: Vec<String> = lost
        .iter()
        .map(|(n, d)| format!("{n} {}", d.as_str()))
        .collect();
    redline_runtime::report_lost(
        "k6-relay",
        lost.iter().map(|(n, _)| n).sum(),
        &format!("{} (redline_relay_dropped_samples_total)", why.join("; ")),
    );
    Ok(())
}

async fn wait_for_end(
    stop: &tokio_util::sync::CancellationToken,
    idle: &server::IdleClock,
    idle_exit: Duration,
) {
    loop {
        let check = Duration::from_millis(200).min(idle_exit.max(Duration::from_millis(10)));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(check) => {}
        }
        if !idle_exit.is_zero()
            && let Some(since) = idle.since_last_write()
            && since >= idle_exit
        {
            tracing::info!(idle = ?since, "k6-relay: no writes for --idle-exit; finishing");
            return;
        }
    }
}
