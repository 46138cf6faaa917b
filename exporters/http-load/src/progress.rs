//! Progress: an indicatif line on a terminal, a plain line every few seconds otherwise
//! (CI logs, `kubectl logs`). Reads the same merged snapshot as the collector.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

pub struct Progress {
    done: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub async fn finish(self) {
        self.done.cancel();
        let _ = self.task.await;
    }
}

fn line(m: &Metrics, started: Instant, last: &mut (u64, Instant)) -> String {
    let snap = m.snapshot();
    let reqs: u64 = snap.reqs.values().map(|(n, _)| n).sum();
    let failed: u64 = snap
        .reqs
        .iter()
        .filter(|(k, _)| !m.expected(k.status))
        .map(|(_, (n, _))| n)
        .sum();
    let now = Instant::now();
    let rps = (reqs - last.0) as f64 / now.duration_since(last.1).as_secs_f64().max(1e-3);
    *last = (reqs, now);
    let mut running = Vec::new();
    for (i, g) in m.gauges.iter().enumerate() {
        if let Some(st) = m.labels.steps[i].get(g.step.load(Ordering::Relaxed)) {
            running.push(format!(
                "{}[step {}] vus={}",
                m.labels.scenarios[i],
                st.label,
                g.vus.load(Ordering::Relaxed)
            ));
        }
    }
    format!(
        "{:>6.1}s {} reqs={reqs} rps={rps:.1} failed={:.2}%",
        started.elapsed().as_secs_f64(),
        if running.is_empty() {
            "waiting".to_owned()
        } else {
            running.join(" ")
        },
        failed as f64 * 100.0 / reqs.max(1) as f64
    )
}

pub fn start(m: Arc<Metrics>, started: Instant, stop: CancellationToken) -> Progress {
    let done = CancellationToken::new();
    let d = done.clone();
    let task = tokio::spawn(async move {
        let tty = std::io::stderr().is_terminal();
        let every = if tty {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        };
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        let mut last = (0u64, started);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = d.cancelled() => break,
                _ = stop.cancelled() => break,
            }
            let l = line(&m, started, &mut last);
            match &bar {
                Some(b) => b.set_message(l),
                None => eprintln!("{l}"),
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    });
    Progress { done, task }
}
