//! A real TLS and HTTP/2 server for the client's tests: nginx (Debian nginx-light has the ssl
//! and http_v2 modules) with a self-signed certificate made by the openssl CLI, on loopback.
//! Every location answers `proto=$server_protocol` (`HTTP/1.1` or `HTTP/2.0`) in the body and
//! an `X-Proto` header, so a test sees which protocol was really negotiated; on `/five` nginx
//! closes an HTTP/1.1 connection after 5 requests.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    /// TLS; HTTP/2 by ALPN, else HTTP/1.1.
    pub https: SocketAddr,
    /// Cleartext HTTP/2 with prior knowledge (h2c) only.
    pub h2c: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// `Err` says what is missing; tests print it and skip.
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        self_signed(d)?;
        let (https, h2c) = (free_addr()?, free_addr()?);
        let child = serve(d, &config(d, https, h2c), &[https, h2c])?;
        Ok(Nginx {
            child,
            https,
            h2c,
            _dir: dir,
        })
    }

    pub fn https_url(&self) -> String {
        format!("https://{}", self.https)
    }

    pub fn h2c_url(&self) -> String {
        format!("http://{}", self.h2c)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx and openssl are on PATH, or which one is missing and how to install it.
fn tools() -> Result<(), String> {
    for (tool, hint) in [
        ("nginx", "apt-get install nginx-light"),
        ("openssl", "apt-get install openssl"),
    ] {
        if Command::new(tool)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Err(format!("`{tool}` is not on PATH ({hint})"));
        }
    }
    Ok(())
}

/// `cert.pem` and `key.pem` in `dir`: a self-signed P-256 certificate for localhost and
/// 127.0.0.1, made by the openssl CLI.
pub fn self_signed(dir: &Path) -> Result<(), String> {
    tools()?;
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// A loopback address nothing listens on right now.
pub fn free_addr() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())
}

/// Runs nginx (one process, no daemon) with `conf` as `dir/nginx.conf`, its error log in
/// `dir/error.log`, and waits up to 10 s until every address in `listens` accepts.
pub fn serve(dir: &Path, conf: &str, listens: &[SocketAddr]) -> Result<Child, String> {
    std::fs::write(dir.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
    let mut child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .args(["-g", "daemon off; master_process off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("nginx: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while listens
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_err())
    {
        let failed = match child.try_wait() {
            Ok(Some(status)) => Some(format!("nginx exited ({status})")),
            _ if Instant::now() > deadline => Some("nginx did not listen within 10 s".into()),
            _ => None,
        };
        if let Some(why) = failed {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            return Err(format!("{why}: {log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child)
}

/// The start of an nginx.conf both test nginxes share, up to inside the `http` block: one
/// worker, pid, error log and every temp path under `d` (the defaults are under /var, which a
/// test cannot write), and no cap on requests per connection. The caller adds the rest of the
/// `http` block and closes it.
pub fn config_head(d: &Path, worker_connections: u32) -> String {
    let d = d.display();
    format!(
        r#"
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 100000;
  http2_max_requests 100000;
"#
    )
}

fn config(d: &Path, https: SocketAddr, h2c: SocketAddr) -> String {
    let head = config_head(d, 256);
    let d = d.display();
    format!(
        r#"{head}  access_log off;
  server {{
    listen {https} ssl http2;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
    location / {{
      add_header X-Proto $server_protocol always;
      return 200 "proto=$server_protocol\n";
    }}
    # HTTP/1.1 connections close after 5 requests here.
    location /five {{
      keepalive_requests 5;
      add_header X-Proto $server_protocol always;
      return 200 "proto=$server_protocol\n";
    }}
  }}
  server {{
    listen {h2c} http2;
    location / {{
      add_header X-Proto $server_protocol always;
      return 200 "proto=$server_protocol\n";
    }}
  }}
}}
"#
    )
}
