//! One running receiver: its process, its port, its files, and the query API in front of it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::QueryApi;
use crate::binary::{self, Program};
use crate::config;
use crate::error::HarnessError;
use crate::flags::{self, Layout};
use crate::options::Options;
use crate::receiver::Receiver;

/// How long a server may take to answer its ready path. Generous: up to eight helpers share two
/// cores, and Prometheus replays its WAL on a restart.
const READY_LIMIT: Duration = Duration::from_secs(30);

/// A running receiver (Prometheus 2, Prometheus 3 or VictoriaMetrics; the name is historical)
/// on a free loopback port, its data in a temp dir. Dropping it kills the process and removes
/// its data.
pub struct Prometheus {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    api: QueryApi,
    receiver: Receiver,
    program: Program,
    args: Vec<String>,
    native_histograms: bool,
}

/// A loopback port nothing listens on right now (the OS picks it; the probe socket is
/// closed again), for a server a test starts next.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Prometheus {
    /// Starts the default Prometheus (`REDLINE_TEST_PROMETHEUS`, 2 unless set to 3) with the
    /// harness's flags: remote-write receiver, native histograms, lifecycle API.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Result<Self, HarnessError> {
        let receiver = match options.receiver {
            Some(r) => r,
            None => Receiver::from_env()?,
        };
        // Refuse impossible combinations before possibly building Prometheus 3.
        let native_histograms = flags::native_histograms(receiver, &options)?;
        let program = binary::locate(receiver)?;
        let dir = tempfile::Builder::new()
            .prefix("redline-receiver-")
            .tempdir()?;
        let config = config::write(receiver, &options, dir.path())?;
        let port = free_port()?;
        let data = dir.path().join("data");
        let args = flags::command_line(
            receiver,
            &options,
            &Layout {
                config: config.as_deref(),
                data: &data,
                port,
            },
        )?;
        let mut server = Self {
            child: None,
            port,
            api: QueryApi::new(format!("http://127.0.0.1:{port}"))?,
            dir,
            receiver,
            program,
            args,
            native_histograms,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> Result<(), HarnessError> {
        let log = std::fs::File::create(self.log_path())?;
        let child = Command::new(&self.program.path)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|source| {
                let binary = self.program.path.display().to_string();
                if source.kind() == std::io::ErrorKind::NotFound {
                    HarnessError::Missing {
                        receiver: self.receiver.name(),
                        why: if binary.contains('/') {
                            format!("`{binary}` does not exist")
                        } else {
                            format!("`{binary}` is not on PATH")
                        },
                        install: self.receiver.install_step(),
                    }
                } else {
                    HarnessError::Spawn {
                        binary,
                        source,
                        install: self.receiver.install_step(),
                    }
                }
            })?;
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + READY_LIMIT;
        while Instant::now() < deadline {
            if self.api.answers(self.receiver.ready_path()).await {
                return Ok(());
            }
            // A server that exited (a bad flag, a taken port) will never be ready: say so now.
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(HarnessError::NotReady {
                    receiver: self.receiver.name(),
                    limit: Duration::ZERO,
                    log: format!("it exited ({status}):\n{}", self.log()),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(HarnessError::NotReady {
            receiver: self.receiver.name(),
            limit: READY_LIMIT,
            log: self.log(),
        })
    }

    /// Which server this is.
    pub fn receiver(&self) -> Receiver {
        self.receiver
    }

    /// Its version as the binary reports it (`2.42.0+ds`, `3.16.0`); `None` when it does not say.
    pub fn version(&self) -> Option<&str> {
        self.program.version.as_deref()
    }

    /// Whether it stores native histograms sent over remote-write, as started.
    pub fn takes_native_histograms(&self) -> bool {
        self.native_histograms
    }

    /// The arguments it was started with (after the program name).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The remote-write receiver's URL (the same path on all three).
    pub fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.url())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the process by its pid (SIGKILL) but keeps its data; the port goes dark.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same data, as after an outage.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop();
        self.spawn().await
    }
}

/// The server's query API is the server as a test sees it once it runs: `p.query(..)`,
/// `p.wait_for(..)` and the rest are [`QueryApi`]'s, not copied here method by method.
impl std::ops::Deref for Prometheus {
    type Target = QueryApi;

    fn deref(&self) -> &QueryApi {
        &self.api
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}
