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
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
            ])
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let (https, h2c) = (free_port(), free_port());
        std::fs::write(d.join("nginx.conf"), config(d, https, h2c)).map_err(|e| e.to_string())?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-e")
            .arg(d.join("error.log"))
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("nginx: {e}"))?;
        let mut n = Nginx {
            child,
            https,
            h2c,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while [https, h2c]
            .iter()
            .any(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_err())
        {
            if let Ok(Some(status)) = n.child.try_wait() {
                let log =
                    std::fs::read_to_string(n._dir.path().join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {log}"));
            }
            if Instant::now() > deadline {
                return Err("nginx did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(n)
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

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn config(d: &Path, https: SocketAddr, h2c: SocketAddr) -> String {
    let d = d.display();
    format!(
        r#"
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 100000;
  http2_max_requests 100000;
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
