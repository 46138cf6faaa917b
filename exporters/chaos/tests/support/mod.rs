//! The demo target as a real child process the tests SIGKILL and restart. The child is this
//! test binary itself, running only its `target_child` helper test (ignored unless asked
//! for by name), so no extra binary has to be built.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

pub const LISTEN_ENV: &str = "REDLINE_CHAOS_TEST_TARGET_LISTEN";
pub const KV_FILE_ENV: &str = "REDLINE_CHAOS_TEST_TARGET_KV_FILE";
pub const ACK_BEFORE_WRITE_ENV: &str = "REDLINE_CHAOS_TEST_TARGET_ACK_BEFORE_WRITE";

/// Body of the helper test: serve the target until killed. Returns at once when the
/// environment does not ask for it (a normal `cargo test --ignored` run).
pub fn target_child_main() {
    let Ok(listen) = std::env::var(LISTEN_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut args = redline_demo_target::TargetArgs::ephemeral();
        args.listen = listen.parse().expect("listen address");
        args.kv_file = std::env::var(KV_FILE_ENV).ok().map(PathBuf::from);
        args.kv_ack_before_write = std::env::var(ACK_BEFORE_WRITE_ENV).is_ok();
        let handle = redline_demo_target::spawn(args)
            .await
            .expect("target starts");
        println!("\nLISTENING {}", handle.addr());
        // Bounded: a forgotten child dies on its own.
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
}

#[derive(Clone, Debug, Default)]
pub struct TargetOptions {
    pub kv_file: Option<PathBuf>,
    pub ack_before_write: bool,
    /// Run inside this network namespace (`ip netns exec`).
    pub netns: Option<String>,
}

pub struct TargetProcess {
    pub child: Child,
    /// When the child reported it was listening.
    pub listening_at: Instant,
}

/// A free loopback port (bound, then released for the child to take).
/// A free port on a loopback address of the test's own (anything in 127.0.0.0/8 is
/// local). A target that is killed and restarted leaves its port free in between; on
/// the shared 127.0.0.1 a concurrently running test could be handed that port and
/// answer in its place. On an address no other test uses, nothing can.
pub fn free_port_on(ip: [u8; 4]) -> SocketAddr {
    let l = std::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), 0)).unwrap();
    l.local_addr().unwrap()
}

/// Starts the target on `addr` and waits (bounded) until it listens.
pub async fn start_target(
    test_name: &str,
    addr: SocketAddr,
    opts: &TargetOptions,
) -> TargetProcess {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match &opts.netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args([
        test_name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(LISTEN_ENV, addr.to_string())
    .env_remove(KV_FILE_ENV)
    .env_remove(ACK_BEFORE_WRITE_ENV)
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .kill_on_drop(true);
    if let Some(f) = &opts.kv_file {
        cmd.env(KV_FILE_ENV, f);
    }
    if opts.ack_before_write {
        cmd.env(ACK_BEFORE_WRITE_ENV, "1");
    }
    let mut child = cmd.spawn().expect("spawn the target child");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let listening_at = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("LISTENING ") {
                return Instant::now();
            }
        }
        panic!("target child exited before listening");
    })
    .await
    .expect("target child listens within 30 s");
    // Keep draining so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    TargetProcess {
        child,
        listening_at,
    }
}

impl TargetProcess {
    /// SIGKILL; returns the instant just before the signal, once the process is gone.
    pub async fn kill(mut self) -> Instant {
        let at = Instant::now();
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        at
    }
}
