//! A real network partition: two network namespaces made by this test, joined by a veth
//! pair on a private /30; the demo target runs in one, the prober in the other, and the
//! test cuts them apart for a known time with blackhole routes on both sides (packets
//! silently dropped, as in a real partition). Taking the link down instead does not make a
//! clean cut: the kernel holds packets for an unresolved neighbour and sends them when the
//! link returns, so requests started shortly before the heal still succeed. Needs root and iproute2; without
//! them it says why and skips, except under CI (`CI` set), where it must run.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use redline_chaos::probe::{self, ProbeConfig, ProbeMetrics};
use support::{TargetOptions, start_target};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const PROBE_URL_ENV: &str = "REDLINE_CHAOS_TEST_PROBE_URL";
const PROBE_FOR_ENV: &str = "REDLINE_CHAOS_TEST_PROBE_FOR_MS";
const INTERVAL: Duration = Duration::from_millis(100);

#[test]
#[ignore = "helper: the demo target as a child process, started by the other tests"]
fn target_child() {
    support::target_child_main();
}

/// The prober as a child process (it runs inside the other namespace): probes for a fixed
/// time and prints what it saw.
#[test]
#[ignore = "helper: the prober inside a network namespace, started by the partition test"]
fn prober_child() {
    let (Ok(url), Ok(ms)) = (std::env::var(PROBE_URL_ENV), std::env::var(PROBE_FOR_ENV)) else {
        return;
    };
    let run_for = Duration::from_millis(ms.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cancel = CancellationToken::new();
        let cfg = ProbeConfig {
            interval: INTERVAL,
            // Shorter than the cut, so blackholed attempts fail inside it.
            timeout: Duration::from_millis(500),
            successes: 3,
        };
        let p = probe::spawn(
            url.parse().unwrap(),
            cfg,
            ProbeMetrics::default(),
            cancel.clone(),
        )
        .unwrap();
        let start = Instant::now();
        let up = p.settled(start, Duration::from_secs(10)).await;
        println!("\nPROBING {up}");
        tokio::time::sleep_until(start + run_for).await;
        for i in p.interruptions_since(start) {
            println!("\nINTERRUPTION {} {}", i.length().as_micros(), i.failed);
        }
        println!("\nDONE {} {} {}", p.attempts(), p.failures(), p.is_up());
        cancel.cancel();
    });
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces and a veth pair; deleted on drop (deleting a namespace deletes its veth end).
struct Netns {
    target_ns: String,
    prober_ns: String,
}

impl Netns {
    fn create() -> Result<Self, String> {
        let id = std::process::id();
        let n = Self {
            target_ns: format!("redline-chaos-t{id}"),
            prober_ns: format!("redline-chaos-p{id}"),
        };
        let target_if = format!("rlc{}t", id % 100_000);
        let prober_if = format!("rlc{}p", id % 100_000);
        ip(&["netns", "add", &n.target_ns])?;
        ip(&["netns", "add", &n.prober_ns])?;
        ip(&[
            "link",
            "add",
            &target_if,
            "netns",
            &n.target_ns,
            "type",
            "veth",
            "peer",
            "name",
            &prober_if,
            "netns",
            &n.prober_ns,
        ])?;
        for (ns, dev, addr) in [
            (&n.target_ns, &target_if, "10.200.77.1/30"),
            (&n.prober_ns, &prober_if, "10.200.77.2/30"),
        ] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(n)
    }

    /// Blackhole routes to the peer on both sides: a bidirectional partition.
    fn partition(&self, cut: bool) {
        let op = if cut { "add" } else { "del" };
        ip(&[
            "-n",
            &self.target_ns,
            "route",
            op,
            "blackhole",
            "10.200.77.2/32",
        ])
        .unwrap();
        ip(&[
            "-n",
            &self.prober_ns,
            "route",
            op,
            "blackhole",
            "10.200.77.1/32",
        ])
        .unwrap();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.target_ns]);
        let _ = ip(&["netns", "del", &self.prober_ns]);
    }
}

fn skip_or_fail(why: String) {
    if std::env::var_os("CI").is_some() {
        panic!("the partition test must run in CI: {why}");
    }
    eprintln!("SKIPPED real partition test: {why}");
}

#[tokio::test]
async fn measured_interruption_matches_a_real_partition() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    if uid.as_deref() != Some("0") {
        return skip_or_fail("not root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    let net = match Netns::create() {
        Ok(n) => n,
        Err(e) => return skip_or_fail(format!("cannot build the namespaces: {e}")),
    };
    let target_addr = "10.200.77.1:8080".parse().unwrap();
    let target = start_target(
        "target_child",
        target_addr,
        &TargetOptions {
            netns: Some(net.target_ns.clone()),
            ..TargetOptions::default()
        },
    )
    .await;

    let exe = std::env::current_exe().unwrap();
    let mut prober = tokio::process::Command::new("ip")
        .args(["netns", "exec", &net.prober_ns])
        .arg(&exe)
        .args([
            "prober_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_URL_ENV, format!("http://{target_addr}/health"))
        .env(PROBE_FOR_ENV, "6000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(prober.stdout.take().unwrap()).lines();
    let mut output = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.contains("PROBING") {
                assert!(
                    l.contains("PROBING true"),
                    "the prober reaches the target across the veth: {l}"
                );
                return;
            }
        }
        panic!("prober child ended before probing");
    })
    .await
    .expect("prober up within 20 s");

    tokio::time::sleep(Duration::from_millis(1000)).await;
    let cut_start = Instant::now();
    net.partition(true);
    let cut_done = Instant::now();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let heal_start = Instant::now();
    net.partition(false);
    let heal_done = Instant::now();

    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            output.push(l.clone());
            if l.contains("DONE") {
                return;
            }
        }
    })
    .await
    .expect("prober child reports");
    let _ = prober.wait().await;
    target.kill().await;
    drop(net);

    let interruptions: Vec<(Duration, u64)> = output
        .iter()
        .filter_map(|l| l.split("INTERRUPTION ").nth(1))
        .map(|r| {
            let mut it = r.split_whitespace();
            let us: u64 = it.next().unwrap().parse().unwrap();
            (
                Duration::from_micros(us),
                it.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(interruptions.len(), 1, "one interruption: {output:?}");
    let (measured, failed) = interruptions[0];
    // The cut surely held from cut_done to heal_start, at most from cut_start to heal_done.
    let shortest = heal_start - cut_done;
    let longest = heal_done - cut_start;
    eprintln!("partition: measured {measured:?} ({failed} failed), cut {shortest:?}..{longest:?}");
    assert!(
        measured + INTERVAL >= shortest && measured <= longest + INTERVAL,
        "measured {measured:?}, cut between {shortest:?} and {longest:?}"
    );
    assert!(
        output
            .iter()
            .any(|l| l.contains("DONE") && l.ends_with("true")),
        "up again at the end"
    );
}
