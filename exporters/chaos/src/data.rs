//! The data check: a writer that keeps writing unique values through a request template
//! while faults happen, and a verifier that reads every acknowledged write back after
//! recovery. A write counts as acknowledged only on a 2xx; a read that answers 404 or a
//! different value is a lost write. Reads that cannot be answered at all are "unverified",
//! never lost: an unreachable service is the prober's finding, not the data check's.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use prometheus_client::metrics::counter::Counter;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Reads in flight while verifying.
const VERIFY_CONCURRENCY: usize = 8;
/// Attempts per read before it is reported as unverified.
const READ_ATTEMPTS: u32 = 3;

/// `METHOD URL` with `{seq}` (the write's sequence number) and `{run}` (this run's id)
/// placeholders, e.g. `PUT http://app/kv/{run}-{seq}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTemplate {
    pub method: reqwest::Method,
    pub url: String,
}

impl FromStr for RequestTemplate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (method, url) = s.trim().split_once(char::is_whitespace).ok_or_else(|| {
            format!("{s:?}: expected 'METHOD URL', e.g. 'PUT http://app/kv/{{seq}}'")
        })?;
        let method = reqwest::Method::from_str(&method.to_ascii_uppercase())
            .map_err(|_| format!("{s:?}: {method:?} is not an HTTP method"))?;
        let url = url.trim().to_string();
        reqwest::Url::parse(
            &url.replace("{seq}", "0")
                .replace("{run}", "r")
                .replace("{value}", "v"),
        )
        .map_err(|e| format!("{s:?}: {e}"))?;
        Ok(Self { method, url })
    }
}

impl RequestTemplate {
    /// The URL names the write (its `{seq}` or its `{value}`).
    pub fn names_the_write(&self) -> bool {
        self.url.contains("{seq}") || self.url.contains("{value}")
    }

    fn url_for(&self, run: &str, seq: u64) -> String {
        self.url
            .replace("{value}", &format!("{run}-{seq}"))
            .replace("{seq}", &seq.to_string())
            .replace("{run}", run)
    }
}

/// What a write sends and a read must show, per scenario: the seed's app is no key-value
/// store, so its checks name their own body, headers and expectation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckShape {
    /// The write's body with `{run}`, `{seq}` and `{value}`; None: the value itself.
    pub write_body: Option<String>,
    /// Headers of the write, e.g. `Content-Type=application/json`.
    pub write_headers: Vec<(String, String)>,
    /// Text the read's body must contain (same placeholders); None: the body must equal
    /// the value.
    pub read_expect: Option<String>,
    /// Session persistence: the cookies a write's answer set are sent with its read-back,
    /// so the read sees that write's session (e.g. one kept in Redis across a failover).
    pub session: bool,
}

impl CheckShape {
    fn fill(t: &str, run: &str, seq: u64, value: &str) -> String {
        t.replace("{value}", value)
            .replace("{seq}", &seq.to_string())
            .replace("{run}", run)
    }
}

#[derive(Debug, Clone)]
pub struct DataConfig {
    pub write: RequestTemplate,
    pub read: RequestTemplate,
    pub shape: CheckShape,
    pub interval: Duration,
    pub timeout: Duration,
    /// The writer stops after this many acknowledged writes (bounds the verification).
    pub max_writes: u64,
    /// Makes keys and values unique to this run.
    pub run_id: String,
}

/// What one verification found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verification {
    /// Acknowledged writes read back this time.
    pub checked: u64,
    /// Acknowledged writes found missing or changed for the first time.
    pub newly_lost: u64,
    /// Reads that got no answer after retries.
    pub unverified: u64,
}

/// An acknowledged write: what its read must show, and the session its answer set.
#[derive(Debug, Clone)]
struct Acked {
    expect: String,
    cookie: Option<String>,
}

#[derive(Default)]
struct Book {
    /// seq -> what to read back, for every acknowledged write.
    acked: BTreeMap<u64, Acked>,
    lost: BTreeSet<u64>,
    attempted: u64,
}

/// A running writer plus the verifier over what it wrote.
#[derive(Clone)]
pub struct DataHandle {
    cfg: Arc<DataConfig>,
    client: reqwest::Client,
    book: Arc<Mutex<Book>>,
    lost_metric: Counter,
}

impl DataHandle {
    pub fn acknowledged(&self) -> u64 {
        self.book().acked.len() as u64
    }

    pub fn attempted(&self) -> u64 {
        self.book().attempted
    }

    pub fn lost(&self) -> u64 {
        self.book().lost.len() as u64
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads back every acknowledged write not already known lost. Each write is
    /// re-checked every time: a write that survived one fault may not survive the next.
    pub async fn verify(&self) -> Verification {
        let todo: Vec<(u64, Acked)> = {
            let b = self.book();
            b.acked
                .iter()
                .filter(|(seq, _)| !b.lost.contains(seq))
                .map(|(s, v)| (*s, v.clone()))
                .collect()
        };
        let mut reads = futures::stream::iter(todo)
            .map(|(seq, want)| async move { (seq, self.read_back(seq, &want).await) })
            .buffer_unordered(VERIFY_CONCURRENCY);
        let mut v = Verification::default();
        while let Some((seq, outcome)) = reads.next().await {
            match outcome {
                ReadBack::Same => v.checked += 1,
                ReadBack::Lost => {
                    v.checked += 1;
                    if self.book().lost.insert(seq) {
                        v.newly_lost += 1;
                        self.lost_metric.inc();
                    }
                }
                ReadBack::NoAnswer => v.unverified += 1,
            }
        }
        if v.newly_lost > 0 {
            tracing::warn!(
                lost = v.newly_lost,
                checked = v.checked,
                "acknowledged writes lost"
            );
        }
        v
    }

    async fn read_back(&self, seq: u64, want: &Acked) -> ReadBack {
        let url = self.cfg.read.url_for(&self.cfg.run_id, seq);
        let contains = self.cfg.shape.read_expect.is_some();
        for attempt in 0..READ_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let mut req = self.client.request(self.cfg.read.method.clone(), &url);
            if let Some(c) = &want.cookie {
                req = req.header(reqwest::header::COOKIE, c);
            }
            let resp = req.send().await;
            let Ok(resp) = resp else { continue };
            let status = resp.status();
            if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
                return ReadBack::Lost;
            }
            if !status.is_success() {
                continue;
            }
            return match resp.bytes().await {
                Ok(body) if !contains && body.as_ref() == want.expect.as_bytes() => ReadBack::Same,
                Ok(body) if contains && contains_bytes(&body, want.expect.as_bytes()) => {
                    ReadBack::Same
                }
                Ok(_) => ReadBack::Lost,
                Err(_) => continue,
            };
        }
        ReadBack::NoAnswer
    }
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

enum ReadBack {
    Same,
    Lost,
    NoAnswer,
}

/// Starts the writer; it stops at `cancel` (recording nothing after it) or after `max_writes`
/// acknowledged writes.
pub fn spawn(
    cfg: DataConfig,
    lost_metric: Counter,
    cancel: CancellationToken,
) -> Result<DataHandle, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .pool_max_idle_per_host(0)
        .build()?;
    let handle = DataHandle {
        cfg: Arc::new(cfg),
        client,
        book: Arc::default(),
        lost_metric,
    };
    tokio::spawn(write_loop(handle.clone(), cancel));
    Ok(handle)
}

async fn write_loop(h: DataHandle, cancel: CancellationToken) {
    let mut ticks = tokio::time::interval(h.cfg.interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if h.acknowledged() >= h.cfg.max_writes {
            tracing::info!(
                writes = h.cfg.max_writes,
                "data check: write budget reached; writer stops"
            );
            return;
        }
        let run = h.cfg.run_id.as_str();
        let value = format!("{run}-{seq}");
        let shape = &h.cfg.shape;
        let url = h.cfg.write.url_for(run, seq);
        let body = match &shape.write_body {
            Some(t) => CheckShape::fill(t, run, seq, &value),
            None => value.clone(),
        };
        let mut req = h
            .client
            .request(h.cfg.write.method.clone(), &url)
            .body(body);
        for (k, v) in &shape.write_headers {
            req = req.header(k.as_str(), CheckShape::fill(v, run, seq, &value));
        }
        let started = Instant::now();
        // A write still in flight at `cancel` is abandoned, not waited for.
        let resp = tokio::select! {
            _ = cancel.cancelled() => return,
            r = req.send() => r,
        };
        let acked = matches!(&resp, Ok(r) if r.status().is_success());
        if acked {
            let cookie = resp.as_ref().ok().filter(|_| shape.session).and_then(|r| {
                let pairs: Vec<&str> = r
                    .headers()
                    .get_all(reqwest::header::SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .filter_map(|v| v.split(';').next())
                    .map(str::trim)
                    .collect();
                (!pairs.is_empty()).then(|| pairs.join("; "))
            });
            let expect = match &shape.read_expect {
                Some(t) => CheckShape::fill(t, run, seq, &value),
                None => value.clone(),
            };
            let mut book = h.book();
            // Checked under the book's lock: a write answered as `cancel` came is not recorded,
            // so a verification that starts after `cancel` covers every acknowledged write.
            if cancel.is_cancelled() {
                return;
            }
            book.acked.insert(seq, Acked { expect, cookie });
        }
        h.book().attempted += 1;
        tracing::trace!(
            seq,
            acked,
            ms = started.elapsed().as_millis() as u64,
            "data write"
        );
        seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_fill() {
        let t: RequestTemplate = "put http://app/kv/{run}-{seq}".parse().unwrap();
        assert_eq!(t.method, reqwest::Method::PUT);
        assert_eq!(t.url_for("r1", 7), "http://app/kv/r1-7");
        // Whether a URL tells the writes apart is the flags' concern (ChaosArgs::validate):
        // a write's body can carry the key, a session can carry the read.
        assert!("PUT http://app/kv/x".parse::<RequestTemplate>().is_ok());
        assert!("http://app/kv/{seq}".parse::<RequestTemplate>().is_err());
        assert!("PUT not a url {seq}".parse::<RequestTemplate>().is_err());
    }

    #[tokio::test]
    async fn in_process_target_keeps_every_acknowledged_write() {
        let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
            .await
            .unwrap();
        let cancel = CancellationToken::new();
        let lost = Counter::default();
        let h = spawn(
            DataConfig {
                write: format!("PUT {}/kv/{{run}}/{{seq}}", target.url())
                    .parse()
                    .unwrap(),
                read: format!("GET {}/kv/{{run}}/{{seq}}", target.url())
                    .parse()
                    .unwrap(),
                shape: CheckShape::default(),
                interval: Duration::from_millis(5),
                timeout: Duration::from_secs(2),
                max_writes: 20,
                run_id: "unit".into(),
            },
            lost.clone(),
            cancel.clone(),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while h.acknowledged() < 20 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(h.acknowledged(), 20, "the writer stops at its budget");
        let v = h.verify().await;
        assert_eq!(
            v,
            Verification {
                checked: 20,
                newly_lost: 0,
                unverified: 0
            }
        );
        cancel.cancel();
        target.shutdown().await.unwrap();
        assert_eq!(lost.get(), 0);
    }

    #[tokio::test]
    async fn a_write_answered_after_cancel_is_not_recorded() {
        // A server that answers every write 400 ms late: the first write is in flight when
        // the run is cancelled, and its answer comes after.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            // Bounded: the writer opens one connection per write, and is cancelled at once.
            for _ in 0..4 {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        let cancel = CancellationToken::new();
        let h = spawn(
            DataConfig {
                write: format!("PUT http://{addr}/kv/{{run}}/{{seq}}")
                    .parse()
                    .unwrap(),
                read: format!("GET http://{addr}/kv/{{run}}/{{seq}}")
                    .parse()
                    .unwrap(),
                shape: CheckShape::default(),
                interval: Duration::from_secs(10),
                timeout: Duration::from_secs(2),
                max_writes: 10,
                run_id: "late".into(),
            },
            Counter::default(),
            cancel.clone(),
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
        let v = h.verify().await;
        // Well past the late answer: had the writer waited for it, the write would count now.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(h.acknowledged(), 0, "nothing is acknowledged after cancel");
        assert_eq!(v.checked, h.acknowledged());
        server.abort();
    }
}

#[cfg(test)]
mod shape_tests {
    //! The per-scenario check shapes against a small app that keeps each write in the
    //! session its answer's cookie names (as the seed's Django app keeps sessions in Redis).
    use std::collections::HashMap;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    type Sessions = Arc<Mutex<HashMap<String, String>>>;

    /// POST /cart/{key}: a new session holding the body, `Set-Cookie: sid=…`.
    /// GET /cart/{key}: `{"cart":<body>}` of the request's session, 404 without one.
    async fn session_app(sessions: Sessions) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut next = 0u64;
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break (String::new(), Vec::new());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        while buf.len() < i + 4 + len {
                            let n = s.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        break (head, buf[i + 4..].to_vec());
                    }
                };
                let cookie = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("cookie:")
                        .then(|| l[7..].trim().to_string())
                });
                let reply = if head.starts_with("POST ") {
                    next += 1;
                    let sid = format!("s{next}");
                    sessions
                        .lock()
                        .unwrap()
                        .insert(sid.clone(), String::from_utf8_lossy(&body).to_string());
                    format!(
                        "HTTP/1.1 201 Created\r\nSet-Cookie: sid={sid}; Path=/; HttpOnly\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    let found = cookie
                        .and_then(|c| c.strip_prefix("sid=").map(str::to_string))
                        .and_then(|sid| sessions.lock().unwrap().get(&sid).cloned());
                    match found {
                        Some(b) => {
                            let body = format!("{{\"cart\":{b}}}");
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                        }
                        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                    }
                };
                let _ = s.write_all(reply.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    async fn run(url: &str, shape: CheckShape, writes: u64) -> (DataHandle, Verification) {
        let cancel = CancellationToken::new();
        let h = spawn(
            DataConfig {
                write: format!("POST {url}/cart/{{run}}-{{seq}}").parse().unwrap(),
                read: format!("GET {url}/cart/{{run}}-{{seq}}").parse().unwrap(),
                shape,
                interval: Duration::from_millis(2),
                timeout: Duration::from_secs(2),
                max_writes: writes,
                run_id: "sess".into(),
            },
            Counter::default(),
            cancel.clone(),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while h.acknowledged() < writes && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cancel.cancel();
        let v = h.verify().await;
        (h, v)
    }

    fn json_cart() -> CheckShape {
        CheckShape {
            write_body: Some(r#"{"item":"{value}","n":{seq}}"#.into()),
            write_headers: vec![("Content-Type".into(), "application/json".into())],
            read_expect: Some(r#""item":"{value}""#.into()),
            session: true,
        }
    }

    #[tokio::test]
    async fn each_write_reads_back_in_its_own_session() {
        let sessions = Sessions::default();
        let url = session_app(sessions.clone()).await;
        let (h, v) = run(&url, json_cart(), 10).await;
        assert_eq!(
            v,
            Verification {
                checked: 10,
                newly_lost: 0,
                unverified: 0
            }
        );
        // What was written is the rendered body template.
        assert!(
            sessions
                .lock()
                .unwrap()
                .values()
                .any(|b| b == r#"{"item":"sess-3","n":3}"#)
        );
        assert_eq!(h.lost(), 0);
    }

    #[tokio::test]
    async fn without_the_session_cookie_or_after_the_store_lost_it_writes_are_lost() {
        let url = session_app(Sessions::default()).await;
        let (_, v) = run(
            &url,
            CheckShape {
                session: false,
                ..json_cart()
            },
            5,
        )
        .await;
        assert_eq!(
            (v.checked, v.newly_lost),
            (5, 5),
            "reads without the cookie find no session"
        );
        let sessions = Sessions::default();
        let url = session_app(sessions.clone()).await;
        let (h, _) = run(&url, json_cart(), 5).await;
        // The session store failed over without its data.
        sessions.lock().unwrap().clear();
        let v = h.verify().await;
        assert_eq!((v.checked, v.newly_lost), (5, 5));
    }

    #[tokio::test]
    async fn an_expectation_the_body_does_not_meet_is_a_lost_write() {
        let url = session_app(Sessions::default()).await;
        let shape = CheckShape {
            read_expect: Some(r#""item":"{value}-changed""#.into()),
            ..json_cart()
        };
        let (_, v) = run(&url, shape, 3).await;
        assert_eq!((v.checked, v.newly_lost), (3, 3));
    }
}
