//! nginx that writes down which connection served each request: its access log holds
//! `$connection $connection_requests $server_protocol` per request, so a test sees how many
//! connections the client really opened and how the requests spread over them, from the
//! server's side. TLS, HTTP/1.1 or HTTP/2 by ALPN, with a self-signed certificate made by the
//! openssl CLI. `Err` says what is missing, for tests to skip.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;

use super::nginx::{config_head, free_addr, self_signed, serve};

pub struct LoggingNginx {
    child: Child,
    pub https: SocketAddr,
    dir: tempfile::TempDir,
}

/// One access-log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub connection: u64,
    pub connection_requests: u64,
    pub protocol: String,
}

impl LoggingNginx {
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        self_signed(d)?;
        let https = free_addr()?;
        let head = config_head(d, 512);
        let p = d.display();
        let conf = format!(
            r#"{head}  log_format conns '$connection $connection_requests $server_protocol';
  access_log {p}/access.log conns;
  server {{
    listen {https} ssl http2;
    ssl_certificate {p}/cert.pem;
    ssl_certificate_key {p}/key.pem;
    location / {{ return 200 "ok\n"; }}
  }}
}}
"#
        );
        let child = serve(d, &conf, &[https])?;
        Ok(LoggingNginx { child, https, dir })
    }

    pub fn https_url(&self) -> String {
        format!("https://{}", self.https)
    }

    fn access_log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    /// Every request logged so far (nginx writes the line when the response is done).
    pub fn served(&self) -> Vec<Served> {
        std::fs::read_to_string(self.access_log())
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut f = l.split(' ');
                let mut num = || f.next().and_then(|v| v.parse().ok()).expect(l);
                let (connection, connection_requests) = (num(), num());
                Served {
                    connection,
                    connection_requests,
                    protocol: l.rsplit(' ').next().unwrap_or("").to_owned(),
                }
            })
            .collect()
    }

    /// Requests per connection, by nginx's connection serial number.
    pub fn per_connection(&self) -> BTreeMap<u64, u64> {
        let mut m = BTreeMap::new();
        for s in self.served() {
            *m.entry(s.connection).or_default() += 1;
        }
        m
    }
}

impl Drop for LoggingNginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
