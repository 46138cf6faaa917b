//! A virtual user and its iteration: pick requests, fill templates, send on the VU's own
//! connection, read the response (SSE for streamed completions), run checks, record.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Request as HttpRequest, Uri};
use http_body_util::Full;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::client::{self, ClientConfig, ClientError, Conn};
use crate::h1::{self, H1Conn};
use crate::h2lean::encoder::RequestHead;
use crate::h2lean::{self, exchange::H2Lean};
use crate::h2pool::{H2Pools, Lease, OriginPool, PoolConn};
use crate::llm::{Llm, Sse};
use crate::metrics::{ErrorReason, Metrics, ReqKey, StepKey};
use crate::request::{BodySource, Env, Request, Requests};
use crate::response::{Keep, Response};
use crate::scenario::Think;
use crate::tokens::{User, Users};
use crate::wire::WireCounters;

/// What every VU of a run shares (read-only).
pub struct Shared {
    pub metrics: Arc<Metrics>,
    pub client: ClientConfig,
    pub users: Arc<Users>,
    /// Multiplexed HTTP/2: the connections every VU shares (`--http2 --max-connections`).
    pub h2: Option<H2Pools>,
    /// VU worker threads (VU `i` runs on `i mod workers`); 1 when VUs share the daemon's
    /// runtime.
    pub workers: usize,
}

/// A scenario as VUs see it.
pub struct ScenarioRt {
    pub idx: u16,
    pub name: String,
    pub requests: Requests,
    pub think: Option<Think>,
    pub open: bool,
}

/// When an iteration starts.
#[derive(Debug, Clone, Copy)]
pub enum IterationStart {
    /// Closed models: the clock read by the loop that just checked the step's deadline (one
    /// read serves both, and the first request's start; a read costs ~25 ns here).
    Now(Instant),
    /// Open models: the time the iteration was scheduled for, which its first request's
    /// latency is measured from (no coordinated omission).
    Intended(Instant),
}

/// The step an iteration belongs to, fixed when it starts.
#[derive(Debug, Clone, Copy)]
pub struct StepCtx {
    pub step: u16,
    /// False while a step settles: load runs, nothing is recorded.
    pub recording: bool,
}

pub struct Vu {
    pub id: u64,
    conn: Option<Conn>,
    /// The lean HTTP/1.1 connection, see [`crate::h1`].
    h1: Option<H1Conn>,
    /// The lean HTTP/2 connection, see [`crate::h2lean::exchange`].
    h2lean: Option<H2Lean>,
    /// The shared HTTP/2 connections of the origin this VU last used.
    h2: Option<Arc<OriginPool>>,
    rng: StdRng,
    iter: u64,
    vars: Vec<String>,
    picks: Vec<usize>,
    /// The request timeout, re-armed for every exchange. Made on the VU's first exchange, on
    /// the runtime the VU runs on.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Vu {
    pub fn new(id: u64) -> Self {
        Self {
            id,
            conn: None,
            h1: None,
            h2lean: None,
            h2: None,
            rng: StdRng::from_rng(&mut rand::rng()),
            iter: 0,
            vars: Vec::new(),
            picks: Vec::new(),
            timer: None,
        }
    }

    /// One iteration, starting at `start`.
    pub async fn iteration(
        &mut self,
        sh: &Shared,
        sc: &ScenarioRt,
        ctx: StepCtx,
        start: IterationStart,
        deadline: Instant,
    ) {
        let (it_start, intended) = match start {
            IterationStart::Now(t) => (t, None),
            IterationStart::Intended(t) => (t, Some(t)),
        };
        sc.requests.draw_vars(&mut self.rng, &mut self.vars);
        sc.requests.pick(&mut self.rng, &mut self.picks);
        let picks = std::mem::take(&mut self.picks);
        for (n, &i) in picks.iter().enumerate() {
            // Only the first request of an iteration was scheduled; later ones start when sent.
            let intended = if n == 0 { intended } else { None };
            let times = RequestTimes {
                intended,
                // The iteration's first clock read, taken a few instructions ago, serves the
                // first request of a closed-model iteration too (a read is ~75 instructions).
                now: (n == 0 && intended.is_none()).then_some(it_start),
                // The last request records the iteration too, under the same lock of the shard.
                iteration_start: (n + 1 == picks.len()).then_some(it_start),
            };
            self.request(sh, sc, &sc.requests.list[i], ctx, times).await;
        }
        let none = picks.is_empty();
        self.picks = picks;
        if ctx.recording && none {
            let took = it_start.elapsed();
            sh.metrics.with(|s| {
                s.step(StepKey {
                    scenario: sc.idx,
                    step: ctx.step,
                })
                .count_iteration(took)
            });
        }
        self.iter += 1;
        crate::busy_poll::mark();
        if let Some(t) = sc.think {
            let d = match t {
                Think::Fixed(d) => d,
                Think::Uniform { min, max } => {
                    if max > min {
                        self.rng.random_range(min..=max)
                    } else {
                        min
                    }
                }
            };
            let until = (Instant::now() + d).min(deadline);
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// What this VU's templates (URL, headers, body) are filled from, for `step` of `sc`.
    fn env<'a>(&'a self, sc: &'a ScenarioRt, step: &'a str, user: Option<&'a User>) -> Env<'a> {
        Env {
            vu: self.id,
            iter: self.iter,
            scenario: &sc.name,
            step,
            vars: &self.vars,
            token: user.map(|u| u.token()),
        }
    }

    fn build<'r>(
        &self,
        sh: &Shared,
        sc: &ScenarioRt,
        r: &'r Request,
        step_label: &str,
    ) -> Result<Built<'r>, ClientError> {
        let user = sh.users.for_vu(self.id);
        let env = self.env(sc, step_label, user);
        let bad = |m: String| ClientError {
            reason: ErrorReason::Other,
            message: m,
        };
        // A fixed URL and Host are borrowed, not cloned: each clone and drop is an atomic
        // reference count on the request's shared bytes, per request.
        let uri: Cow<'r, Uri> = match &r.static_uri {
            Some(u) => Cow::Borrowed(u),
            None => Cow::Owned(
                r.url
                    .render(&env)
                    .parse()
                    .map_err(|e| bad(format!("URL of {}: {e}", r.name)))?,
            ),
        };
        // HTTP/1.1's Host, given apart: the lean path writes it without a map insert.
        let host = if sh.client.http2 {
            None
        } else if let Some(host) = &r.static_host {
            Some(Cow::Borrowed(host))
        } else if let Some(a) = uri.authority() {
            Some(Cow::Owned(
                HeaderValue::from_str(a.as_str()).map_err(|e| bad(e.to_string()))?,
            ))
        } else {
            None
        };
        let mut headers = HeaderMap::new();
        let h = &mut headers;
        if let Some(ct) = &r.content_type {
            h.insert(CONTENT_TYPE, ct.clone());
        }
        if !sh.client.reuse && !sh.client.http2 {
            // A connection per request: the server closes it after answering, as wrk's
            // `-H 'Connection: close'` and Go's DisableKeepAlives (k6) ask.
            h.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(u) = user {
            h.insert(AUTHORIZATION, u.authorization.clone());
        }
        for (name, t) in &r.headers {
            let mut v = HeaderValue::from_str(&t.render(&env))
                .map_err(|_| bad(format!("header {name} of {} is not a valid value", r.name)))?;
            if t.uses_token() {
                v.set_sensitive(true);
            }
            h.insert(name.clone(), v);
        }
        Ok(Built { uri, host, headers })
    }

    async fn request(
        &mut self,
        sh: &Shared,
        sc: &ScenarioRt,
        r: &Request,
        ctx: StepCtx,
        times: RequestTimes,
    ) {
        let RequestTimes {
            intended,
            now,
            iteration_start,
        } = times;
        let m = &sh.metrics;
        let step_label = m.labels.steps[sc.idx as usize]
            .get(ctx.step as usize)
            .map_or("", |s| s.label.as_str());
        let body = match &r.body {
            BodySource::None => Bytes::new(),
            BodySource::Static(b) => b.clone(),
            BodySource::Template(t) => {
                let user = sh.users.for_vu(self.id);
                Bytes::from(t.render(&self.env(sc, step_label, user)))
            }
            BodySource::Files(f) => f[self.rng.random_range(0..f.len())].clone(),
        };
        let t0 = now.unwrap_or_else(Instant::now);
        let started = intended.unwrap_or(t0);
        let tier = sh.users.for_vu(self.id).map_or(0, |u| u.tier);
        let call = Call {
            sh,
            sc,
            r,
            step_label,
            body: &body,
            start: Start { started, now: t0 },
        };
        // The timeout is raced here rather than in a function of its own: every async
        // function between a VU's iteration and its exchange is one more move of the whole
        // exchange future (over a kilobyte) per request.
        let (mut timer, deadline) = self.timer_for(sh, t0);
        let result = tokio::select! {
            biased;
            r = self.exchange_inner(call) => r,
            () = expiry(&mut timer, deadline) => Err(self.timed_out(sh)),
        };
        self.timer = Some(timer);
        if !ctx.recording {
            return;
        }
        let key = |status| ReqKey {
            req: r.id,
            step: ctx.step,
            tier,
            status,
        };
        let sk = StepKey {
            scenario: sc.idx,
            step: ctx.step,
        };
        match result {
            Ok(x) => {
                // Closed model: like k6, from sending (after connecting). Open model: from the
                // intended start, so a slow server cannot hide queueing (no coordinated omission).
                let from = if intended.is_some() {
                    started
                } else {
                    x.sent_at
                };
                let dur = x.end.saturating_duration_since(from);
                let mut json = None;
                let check_results: Vec<(u16, bool)> = r
                    .checks
                    .iter()
                    .map(|c| {
                        (
                            c.id,
                            c.passes(x.status, Some(&x.headers), &x.body, &mut json),
                        )
                    })
                    .collect();
                let us = |d: Duration| d.as_micros() as u64;
                m.with(|s| {
                    s.request(key(x.status), us(dur));
                    let p = s.phases(key(x.status));
                    p.blocked.record(us(x.blocked));
                    p.sending.record(us(x.wrote.saturating_duration_since(x.sent_at)));
                    p.waiting.record(us(x.head.saturating_duration_since(x.wrote)));
                    p.receiving.record(us(x.end.saturating_duration_since(x.head)));
                    if let Some(ct) = x.connect {
                        p.connecting.record(us(ct.connecting));
                        if ct.tls_handshake {
                            p.tls.record(us(ct.tls));
                        }
                    }
                    let c = s.step(sk);
                    c.sent += x.sent;
                    c.received += x.received;
                    if let Some(t) = iteration_start {
                        // The response's end closes the iteration (only its checks follow).
                        c.count_iteration(x.end.saturating_duration_since(t));
                    }
                    for (id, pass) in check_results {
                        s.check(id, ctx.step, pass);
                    }
                    if let Some(llm) = &x.llm {
                        let cell = s.llm(sc.idx, ctx.step, tier);
                        cell.prompt_tokens += llm.prompt_tokens;
                        cell.completion_tokens += llm.completion_tokens;
                        if let Some(first) = llm.first_token {
                            cell.ttft.record(first.saturating_duration_since(started).as_micros() as u64);
                        }
                        for gap in &llm.gaps {
                            cell.itl.record(gap.as_micros() as u64);
                        }
                        if let Some(tps) = llm.tokens_per_second() {
                            cell.tps_milli.record((tps * 1000.0) as u64);
                        }
                    }
                });
            }
            Err((e, wire)) => {
                tracing::debug!(request = %r.name, reason = e.reason.as_str(), error = %e.message, "request failed");
                let end = Instant::now();
                let dur = end.saturating_duration_since(started);
                let failing: Vec<u16> = r.checks.iter().map(|c| c.id).collect();
                m.with(|s| {
                    s.request(key(0), dur.as_micros() as u64);
                    s.error(r.id, ctx.step, e.reason);
                    let c = s.step(sk);
                    c.sent += wire.0;
                    c.received += wire.1;
                    if let Some(t) = iteration_start {
                        c.count_iteration(end.saturating_duration_since(t));
                    }
                    for id in failing {
                        s.check(id, ctx.step, false);
                    }
                });
            }
        }
    }

    /// The VU's one timeout timer for an exchange starting at `now`, and that exchange's
    /// deadline. The timer is left armed at an earlier exchange's deadline: it only fires
    /// early, once per timeout at most, and is then moved to this exchange's deadline (see
    /// `expiry`). Re-arming it for every request (a clock read and a timer-wheel update) cost
    /// ~240 instructions a request.
    fn timer_for(
        &mut self,
        sh: &Shared,
        now: Instant,
    ) -> (Pin<Box<tokio::time::Sleep>>, tokio::time::Instant) {
        let deadline = tokio::time::Instant::from_std(now + sh.client.timeout);
        let timer = match self.timer.take() {
            Some(t) => t,
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        (timer, deadline)
    }

    /// A request that had no complete response within the timeout: its connection (in
    /// whatever state the exchange left it) is dropped.
    fn timed_out(&mut self, sh: &Shared) -> (ClientError, (u64, u64)) {
        self.conn = None;
        self.h1 = None;
        self.h2lean = None;
        let message = format!("no complete response within {:?}", sh.client.timeout);
        (
            ClientError {
                reason: ErrorReason::Timeout,
                message,
            },
            (0, 0),
        )
    }

    /// Sends `r` and reads its response; retries once on a fresh connection when a reused
    /// keep-alive connection turns out to be closed (the server's idle close races our send).
    async fn exchange_inner(
        &mut self,
        call: Call<'_>,
    ) -> Result<Exchange, (ClientError, (u64, u64))> {
        let Call {
            sh,
            sc,
            r,
            step_label,
            body,
            start: Start { started, now },
        } = call;
        // The clock is read as few times as the phases need (each read and each difference
        // cost ~100 instructions): the first attempt starts at `now`, and a kept connection
        // is ready at once, so sending starts where connecting started.
        for attempt in 0..2 {
            let t_conn = if attempt == 0 { now } else { Instant::now() };
            let ready = |times: &Option<client::ConnectTimes>| {
                if times.is_some() {
                    Instant::now()
                } else {
                    t_conn
                }
            };
            let built = self.build(sh, sc, r, step_label).map_err(|e| (e, (0, 0)))?;
            let uri: &Uri = &built.uri;
            let streaming = r.openai.as_ref().is_some_and(|o| o.stream);
            let keep = Keep {
                headers: !r.checks.is_empty(),
                body: r.needs_body || r.openai.is_some(),
            };
            let lean_h1 = h1::serves(&sh.client, streaming) && h1::lean_scheme(uri);
            // A connection of the VU's own; shared ones (`--max-connections`) are below.
            let lean_h2 =
                h2lean::serves(&sh.client, streaming) && sh.h2.is_none() && h1::lean_scheme(uri);
            if lean_h1 || lean_h2 {
                let (result, times, sent_at) = if lean_h1 {
                    let (conn, times) = client::kept(&sh.client, &mut self.h1, uri)
                        .await
                        .map_err(|e| (e, (0, 0)))?;
                    let sent_at = ready(&times);
                    let head = h1::RequestHead {
                        method: &r.method,
                        target: uri.path_and_query().map_or("/", |p| p.as_str()),
                        host: built.host.as_deref(),
                        headers: &built.headers,
                    };
                    (conn.exchange(&head, body, keep).await, times, sent_at)
                } else {
                    let (conn, times) = client::kept(&sh.client, &mut self.h2lean, uri)
                        .await
                        .map_err(|e| (e, (0, 0)))?;
                    let sent_at = ready(&times);
                    (
                        conn.exchange(&built.h2_head(&r.method), body, keep).await,
                        times,
                        sent_at,
                    )
                };
                match result {
                    Ok((x, keep_alive)) => {
                        if !keep_alive || !sh.client.reuse {
                            self.h1 = None;
                            self.h2lean = None;
                        }
                        let blocked = t_conn.saturating_duration_since(started);
                        return Ok(Exchange::lean(x, r, sent_at, blocked, times));
                    }
                    Err((e, wire, nothing_back)) => {
                        self.h1 = None;
                        self.h2lean = None;
                        // The server's idle close raced our send: once more, on a new one.
                        if times.is_none()
                            && attempt == 0
                            && nothing_back
                            && e.reason == ErrorReason::Reset
                        {
                            continue;
                        }
                        return Err((e, wire));
                    }
                }
            }
            let pool = match &sh.h2 {
                Some(pools) => {
                    let lean = h2lean::serves(&sh.client, streaming);
                    Some(
                        self.origin_pool(pools, uri, lean)
                            .map_err(|e| (e, (0, 0)))?,
                    )
                }
                None => None,
            };
            // Multiplexed: a stream on a shared connection, held until the body is read.
            let mut lease = None;
            let (wire, times, waited) = match &pool {
                Some(p) => {
                    let l = p
                        .lease(&sh.client, self.id, sh.workers, t_conn)
                        .await
                        .map_err(|e| (e, (0, 0)))?;
                    let got = (Arc::clone(&l.wire), l.connect, l.blocked);
                    lease = Some(l);
                    got
                }
                None => {
                    let (conn, times) = client::connection(&sh.client, &mut self.conn, uri)
                        .await
                        .map_err(|e| (e, (0, 0)))?;
                    let waited = times.map_or(Duration::ZERO, |t| t.blocked);
                    (Arc::clone(&conn.wire), times, waited)
                }
            };
            if let Some(PoolConn::Lean(c)) = lease.as_ref().map(|l| &l.sender) {
                // Bytes on a shared connection go to the request that ends next (each byte
                // counted once); the stream stamps its own sending, head and end.
                // Without a new connection, sending starts when the lease was granted: at
                // once (`waited` zero, no clock read) or after waiting that long.
                let sent_at = if times.is_some() {
                    Instant::now()
                } else {
                    t_conn + waited
                };
                let blocked = t_conn.saturating_duration_since(started) + waited;
                match c.send(&built.h2_head(&r.method), body, keep).await {
                    Ok(s) => {
                        let (sent, received) = wire.take();
                        let x = s.into_response(sent, received);
                        return Ok(Exchange::lean(x, r, sent_at, blocked, times));
                    }
                    Err((e, nothing_back)) => {
                        if times.is_none()
                            && attempt == 0
                            && nothing_back
                            && e.reason == ErrorReason::Reset
                        {
                            continue;
                        }
                        return Err((e, wire.take()));
                    }
                }
            }
            // hyper or the h2 crate: boxed, because their futures are the largest of any
            // path and, inline, every request's future (the lean ones' too) would carry them
            // and be moved whole at every call: 1,968 bytes for this function's future and
            // 2,368 for a request's, with memmove ~4 % of the client's CPU on HTTP/1.1.
            let hyper = HyperCall {
                sh,
                r,
                body,
                built,
                lease,
                wire,
                times,
                waited,
                started,
                t_conn,
                retry_on_reset: attempt == 0,
                streaming,
            };
            match Box::pin(self.exchange_hyper(hyper)).await {
                None => continue,
                Some(out) => return out,
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// An exchange through hyper (a connection of the VU's own) or the h2 crate (a shared
    /// connection): the paths the lean engines do not serve (streamed responses, `--http-client
    /// hyper`). Called boxed; see `exchange_inner`.
    ///
    /// `None`: a reused connection was found closed; the caller retries on a new one.
    async fn exchange_hyper(
        &mut self,
        h: HyperCall<'_, '_>,
    ) -> Option<Result<Exchange, (ClientError, (u64, u64))>> {
        let HyperCall {
            sh,
            r,
            body,
            built,
            mut lease,
            wire,
            times,
            waited,
            started,
            t_conn,
            retry_on_reset,
            streaming,
        } = h;
        let multiplexed = lease.is_some();
        let (r0, w0) = (
            wire.read.load(std::sync::atomic::Ordering::Relaxed),
            wire.written.load(std::sync::atomic::Ordering::Relaxed),
        );
        // A connection of its own: what moved during this exchange. A shared one: what
        // moved since the previous request on it took its bytes (each byte counted once).
        let wire_delta = || {
            if multiplexed {
                return wire.take();
            }
            (
                wire.written.load(std::sync::atomic::Ordering::Relaxed) - w0,
                wire.read.load(std::sync::atomic::Ordering::Relaxed) - r0,
            )
        };
        let reused = times.is_none();
        let sent_at = Instant::now();
        let blocked = t_conn.saturating_duration_since(started) + waited;
        let req = built.into_http(&r.method, sh.client.http2, body);
        let sent = match lease.as_mut().map(|l| &mut l.sender) {
            Some(PoolConn::H2(h)) => client::send_h2(h, req, body).await,
            Some(PoolConn::Lean(_)) => unreachable!("lean streams returned above"),
            None => client::send(self.conn.as_mut().expect("connected above"), req, body).await,
        };
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                self.conn = None;
                if let Some(l) = &lease {
                    // A broken shared connection: the next lease opens a new one.
                    l.sender.discard();
                }
                if reused && retry_on_reset && e.reason == ErrorReason::Reset {
                    return None;
                }
                return Some(Err((e, wire_delta())));
            }
        };
        let head = Instant::now();
        // Sending ends with the last write of this exchange (the Counted stream stamps it);
        // no write seen (cannot happen for a sent request) counts as sending nothing. On a
        // shared connection it is the connection's last write before the response head.
        let wrote_any = multiplexed || wire.written.load(std::sync::atomic::Ordering::Relaxed) > w0;
        let wrote = match wire.last_write() {
            Some(t) if t > sent_at && wrote_any => t.min(head),
            _ => sent_at,
        };
        let status = resp.status().as_u16();
        let (parts, mut incoming) = resp.into_parts();
        let stream = streaming && status == 200;
        let keep = r.needs_body || (r.openai.is_some() && !stream);
        let mut buf = BytesMut::new();
        let mut sse = stream.then(Sse::default);
        let read = async {
            while let Some(data) = incoming.chunk().await {
                let data = data?;
                if let Some(s) = sse.as_mut() {
                    s.feed(&data, Instant::now());
                }
                if keep {
                    buf.extend_from_slice(&data);
                }
            }
            Ok::<_, ClientError>(())
        };
        if let Err(e) = read.await {
            self.conn = None;
            return Some(Err((e, wire_delta())));
        }
        let end = Instant::now();
        let body = buf.freeze();
        let llm = match (&r.openai, sse) {
            (Some(_), Some(s)) => Some(s.finish()),
            (Some(o), None) if status == 200 => Some(Llm::from_body(&body, o.api)),
            _ => None,
        };
        let (sent, received) = wire_delta();
        if !sh.client.reuse {
            self.conn = None;
        }
        Some(Ok(Exchange {
            status,
            headers: parts.headers,
            body,
            sent_at,
            wrote,
            head,
            end,
            blocked,
            connect: times,
            sent,
            received,
            llm,
        }))
    }

    /// The shared connections of `uri`'s origin on the `lean` engine or the h2 crate's (the
    /// VU keeps the last one it used).
    fn origin_pool(
        &mut self,
        pools: &H2Pools,
        uri: &Uri,
        lean: bool,
    ) -> Result<Arc<OriginPool>, ClientError> {
        match &self.h2 {
            Some(p) if p.serves(uri) && p.lean == lean => Ok(Arc::clone(p)),
            _ => Ok(Arc::clone(self.h2.insert(pools.for_origin(uri, lean)?))),
        }
    }
}

/// A request made ready to send: its absolute URI, HTTP/1.1's Host and its headers. The lean
/// paths write from it directly; hyper and the h2 crate get an `http::Request` made of it.
struct Built<'r> {
    uri: Cow<'r, Uri>,
    host: Option<Cow<'r, HeaderValue>>,
    headers: HeaderMap,
}

impl Built<'_> {
    /// The head of an HTTP/2 request (the lean engine).
    fn h2_head<'a>(&'a self, method: &'a http::Method) -> RequestHead<'a> {
        RequestHead {
            method,
            https: self.uri.scheme_str() == Some("https"),
            authority: self.uri.authority().map_or("", |a| a.as_str()),
            path: self
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("/"),
            headers: &self.headers,
        }
    }

    /// An `http::Request` for hyper (origin-form URI, Host in the map) or the h2 crate
    /// (absolute URI).
    fn into_http(
        self,
        method: &http::Method,
        http2: bool,
        body: &Bytes,
    ) -> HttpRequest<client::ReqBody> {
        let mut req = HttpRequest::new(Full::new(body.clone()));
        *req.method_mut() = method.clone();
        *req.uri_mut() = if http2 {
            self.uri.into_owned()
        } else {
            match self.uri.path_and_query() {
                Some(p) => Uri::from(p.clone()),
                None => Uri::from_static("/"),
            }
        };
        let mut headers = self.headers;
        if let Some(h) = self.host {
            headers.insert(HOST, h.into_owned());
        }
        *req.headers_mut() = headers;
        req
    }
}

/// One request's exchange: what it is sent for and with, all borrowed (nothing is copied
/// per request), passed whole from the timeout wrapper to the exchange itself.
#[derive(Clone, Copy)]
struct Call<'a> {
    sh: &'a Shared,
    sc: &'a ScenarioRt,
    r: &'a Request,
    step_label: &'a str,
    body: &'a Bytes,
    start: Start,
}

/// What `Vu::exchange_hyper` needs of an attempt begun in `Vu::exchange_inner`.
struct HyperCall<'a, 'p> {
    sh: &'a Shared,
    r: &'a Request,
    body: &'a Bytes,
    built: Built<'a>,
    /// A stream on a shared connection (the h2 crate's), or none: the VU's own connection.
    lease: Option<Lease<'p>>,
    wire: Arc<WireCounters>,
    times: Option<client::ConnectTimes>,
    waited: Duration,
    started: Instant,
    t_conn: Instant,
    /// A reused connection found closed may be retried once on a new one (first attempt).
    retry_on_reset: bool,
    streaming: bool,
}

/// Waits until `deadline` on `timer`, which may be armed earlier (never later: a VU's
/// deadlines only grow): when it fires before `deadline` it is moved there and waited on again.
async fn expiry(timer: &mut Pin<Box<tokio::time::Sleep>>, deadline: tokio::time::Instant) {
    loop {
        timer.as_mut().await;
        if timer.deadline() >= deadline {
            return;
        }
        timer.as_mut().reset(deadline);
    }
}

/// What a request's clock readings start from: the open model's intended start, a reading
/// already taken that serves as the request's own, and the start of the iteration it ends.
#[derive(Clone, Copy)]
struct RequestTimes {
    intended: Option<Instant>,
    now: Option<Instant>,
    iteration_start: Option<Instant>,
}

/// When a request starts: `started` (the intended start in open models), and `now`, the
/// clock read when it was about to be sent.
#[derive(Clone, Copy)]
struct Start {
    started: Instant,
    now: Instant,
}

impl Exchange {
    /// A lean path's response (HTTP/1.1 or HTTP/2), sent at `sent_at`.
    fn lean(
        x: Response,
        r: &Request,
        sent_at: Instant,
        blocked: Duration,
        connect: Option<client::ConnectTimes>,
    ) -> Self {
        let llm = match &r.openai {
            Some(o) if x.status == 200 => Some(Llm::from_body(&x.body, o.api)),
            _ => None,
        };
        Exchange {
            status: x.status,
            headers: x.headers,
            body: x.body,
            sent_at,
            wrote: x.wrote,
            head: x.head,
            end: x.end,
            blocked,
            connect,
            sent: x.sent,
            received: x.received,
            llm,
        }
    }
}

struct Exchange {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
    sent_at: Instant,
    /// The last request byte written.
    wrote: Instant,
    head: Instant,
    end: Instant,
    blocked: Duration,
    connect: Option<client::ConnectTimes>,
    sent: u64,
    received: u64,
    llm: Option<Llm>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns (never polled, never made).
    fn future_size<A, B, Fut: std::future::Future>(_f: impl FnOnce(A, B) -> Fut) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// A request's future is made and moved on every request: kept small, because moving
    /// it is a memmove of its whole size (with the hyper paths inline it was 2,368 bytes,
    /// and memmove ~4 % of the client's CPU on HTTP/1.1). Fails when a large future is put
    /// inline on the path every request takes.
    #[test]
    fn a_requests_future_stays_small() {
        fn exchange<'a>(vu: &'a mut Vu, call: Call<'a>) -> impl Future + 'a {
            vu.exchange_inner(call)
        }
        fn request<'a>(
            vu: &'a mut Vu,
            a: (
                &'a Shared,
                &'a ScenarioRt,
                &'a Request,
                StepCtx,
                RequestTimes,
            ),
        ) -> impl Future + 'a {
            vu.request(a.0, a.1, a.2, a.3, a.4)
        }
        let (x, r) = (future_size(exchange), future_size(request));
        // 1,472 and 1,776 bytes now; with the hyper paths inline they were 1,968 and 2,368.
        assert!(x <= 1600, "exchange_inner's future is {x} bytes");
        assert!(r <= 1900, "a request's future is {r} bytes");
    }
}
