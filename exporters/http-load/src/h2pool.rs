//! HTTP/2 multiplexing: a fixed number of connections per origin that every VU shares as
//! concurrent streams, as h2load's `-c`/`-m`, gRPC clients and HTTP/2 proxies load a server.
//!
//! A VU takes a lease for each request: first a stream permit (when streams per connection
//! are capped; waiting for it is the request's blocked time), then the connection with the
//! fewest streams in flight. Every VU of a lane picks among the lane's connections only; with
//! one lane per worker thread a connection's task, its socket and the VUs that use it stay on
//! one thread, so a request never wakes another thread. A connection that is not open yet (or
//! was closed by the server) is opened by the first VU that needs it while the others wait
//! for it. Without a cap the server's SETTINGS_MAX_CONCURRENT_STREAMS is the limit: both
//! engines queue streams beyond it inside the connection.
//!
//! Connections are the lean engine's ([`crate::h2lean::mux`]) or the h2 crate's; an origin has
//! a pool of each kind, made when first asked for (SSE streams take the h2 crate's).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use http::Uri;

use crate::client::{ClientConfig, ClientError, ConnectTimes, Origin, OriginKey, connect_stream};
use crate::h2conn::{self, H2Handle};
use crate::h2lean::mux::{self, MuxConn};
use crate::wire::{Counted, WireCounters};

/// Every origin's shared connections, made on first use.
pub struct H2Pools {
    connections: usize,
    streams: Option<usize>,
    lanes: usize,
    origins: Mutex<Vec<Arc<OriginPool>>>,
}

impl H2Pools {
    /// `connections` per origin (at least 1) with at most `streams` each, split over `lanes`
    /// (the VU worker threads; at most one lane per connection).
    pub fn new(connections: usize, streams: Option<usize>, lanes: usize) -> Self {
        let connections = connections.max(1);
        Self {
            connections,
            streams,
            lanes: lanes.clamp(1, connections),
            origins: Mutex::default(),
        }
    }

    /// The pool of `uri`'s origin on the lean engine or on the h2 crate's, made the first
    /// time a VU asks for it.
    pub fn for_origin(&self, uri: &Uri, lean: bool) -> Result<Arc<OriginPool>, ClientError> {
        let mut all = self.origins.lock().expect("origins");
        if let Some(p) = all.iter().find(|p| p.serves(uri) && p.lean == lean) {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(OriginPool::new(
            uri,
            self.connections,
            self.streams,
            self.lanes,
            lean,
        )?);
        all.push(Arc::clone(&p));
        Ok(p)
    }
}

/// One origin's connections, split into lanes.
pub struct OriginPool {
    key: OriginKey,
    /// Connections of the lean engine, else of the h2 crate.
    pub lean: bool,
    https: bool,
    host: String,
    port: u16,
    lanes: Vec<Lane>,
}

struct Lane {
    slots: Vec<Slot>,
    /// `slots × streams` permits when streams are capped.
    permits: Option<Arc<Semaphore>>,
}

struct Slot {
    /// Held while a VU opens the connection, so the others wait for it instead of opening
    /// their own; otherwise held only to clone the sender.
    live: tokio::sync::Mutex<Option<Live>>,
    /// Streams in flight (leases out) on this slot.
    inflight: AtomicUsize,
    /// Connections ever opened in this slot (tests and the `blocked` reasoning read it).
    opened: AtomicUsize,
}

struct Live {
    sender: PoolConn,
    wire: Arc<WireCounters>,
}

/// A shared connection of either engine.
#[derive(Clone)]
pub enum PoolConn {
    Lean(MuxConn),
    H2(H2Handle),
}

impl PoolConn {
    fn is_closed(&self) -> bool {
        match self {
            PoolConn::Lean(c) => !c.is_usable(),
            PoolConn::H2(h) => h.is_closed(),
        }
    }

    /// Marks the connection unusable (it failed a request): the next user opens a new one.
    pub fn discard(&self) {
        match self {
            PoolConn::Lean(c) => c.discard(),
            PoolConn::H2(h) => h.discard(),
        }
    }
}

/// One request's use of a shared connection; dropping it frees the stream.
pub struct Lease<'a> {
    pub sender: PoolConn,
    pub wire: Arc<WireCounters>,
    /// This request opened the connection: what that took.
    pub connect: Option<ConnectTimes>,
    /// Waited for a stream permit or for another VU to open the connection.
    pub blocked: Duration,
    _stream: InFlight<'a>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// A stream counted in flight on its slot until dropped.
struct InFlight<'a>(&'a Slot);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl OriginPool {
    fn new(
        uri: &Uri,
        connections: usize,
        streams: Option<usize>,
        lanes: usize,
        lean: bool,
    ) -> Result<Self, ClientError> {
        let origin = Origin::of(uri)?;
        let lanes = (0..lanes)
            .map(|l| {
                // Connection j belongs to lane j mod lanes.
                let n = (l..connections).step_by(lanes).count();
                Lane {
                    slots: (0..n)
                        .map(|_| Slot {
                            live: tokio::sync::Mutex::new(None),
                            inflight: AtomicUsize::new(0),
                            opened: AtomicUsize::new(0),
                        })
                        .collect(),
                    permits: streams.map(|s| Arc::new(Semaphore::new(n * s))),
                }
            })
            .collect();
        Ok(Self {
            key: OriginKey::of(uri),
            lean,
            https: origin.https,
            host: origin.host.to_owned(),
            port: origin.port,
            lanes,
        })
    }

    pub fn serves(&self, uri: &Uri) -> bool {
        self.key.matches(uri)
    }

    /// Connections opened so far, over all lanes (reconnects included).
    pub fn opened(&self) -> usize {
        self.lanes
            .iter()
            .flat_map(|l| &l.slots)
            .map(|s| s.opened.load(Ordering::Relaxed))
            .sum()
    }

    /// A new connection of this origin, on the lean engine or the h2 crate's.
    async fn open(
        &self,
        cfg: &ClientConfig,
    ) -> Result<(PoolConn, Arc<WireCounters>, ConnectTimes), ClientError> {
        let (io, times) = connect_stream(cfg, self.https, &self.host, self.port).await?;
        let wire = Arc::new(WireCounters::default());
        let sender = if self.lean {
            // The lean connection counts its bytes itself.
            PoolConn::Lean(mux::start(io, Arc::clone(&wire)))
        } else {
            PoolConn::H2(h2conn::handshake(Counted::new(io, &wire), None).await?)
        };
        Ok((sender, wire, times))
    }

    /// A stream on one of the connections of VU `vu`'s lane (`workers` VU threads, VU `i` on
    /// thread `i mod workers`).
    ///
    /// `t0` is when the request asked (the caller's clock read). The clock is read again only
    /// when the lease had to wait, for a stream or for the slot's lock: `blocked` is zero
    /// otherwise (two reads a request were ~50 ns of a ~4 µs request here).
    pub async fn lease(
        &self,
        cfg: &ClientConfig,
        vu: u64,
        workers: usize,
        t0: Instant,
    ) -> Result<Lease<'_>, ClientError> {
        let lane = &self.lanes[(vu % workers.max(1) as u64) as usize % self.lanes.len()];
        let mut waited = false;
        let permit = match &lane.permits {
            Some(p) => Some(match Arc::clone(p).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    waited = true;
                    Arc::clone(p).acquire_owned().await.expect("never closed")
                }
            }),
            None => None,
        };
        // With a permit in hand some slot has a free stream: the least busy one does.
        let slot = lane
            .slots
            .iter()
            .min_by_key(|s| s.inflight.load(Ordering::Relaxed))
            .expect("a lane has at least one connection");
        slot.inflight.fetch_add(1, Ordering::Relaxed);
        // Taken before the first await: a request dropped while waiting (its timeout) still
        // frees its stream.
        let stream = InFlight(slot);
        let mut live = match slot.live.try_lock() {
            Ok(live) => live,
            Err(_) => {
                waited = true;
                slot.live.lock().await
            }
        };
        let blocked = if waited { t0.elapsed() } else { Duration::ZERO };
        if let Some(l) = live.as_ref().filter(|l| !l.sender.is_closed()) {
            return Ok(Lease {
                sender: l.sender.clone(),
                wire: Arc::clone(&l.wire),
                connect: None,
                blocked,
                _stream: stream,
                _permit: permit,
            });
        }
        *live = None;
        // Boxed: connecting (TCP, TLS, the h2 crate's handshake) is the cold path and its
        // future the largest; inline, every lease's future would carry and move it.
        let (sender, wire, times) = Box::pin(self.open(cfg)).await?;
        slot.opened.fetch_add(1, Ordering::Relaxed);
        *live = Some(Live {
            sender: sender.clone(),
            wire: Arc::clone(&wire),
        });
        Ok(Lease {
            sender,
            wire,
            connect: Some(times),
            blocked,
            _stream: stream,
            _permit: permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn connections_split_over_lanes_with_their_stream_permits() {
        let pools = H2Pools::new(5, Some(10), 2);
        let p = pools
            .for_origin(&uri("https://127.0.0.1:8443/a"), true)
            .unwrap();
        let slots: Vec<usize> = p.lanes.iter().map(|l| l.slots.len()).collect();
        assert_eq!(slots, [3, 2]);
        let permits: Vec<usize> = p
            .lanes
            .iter()
            .map(|l| l.permits.as_ref().unwrap().available_permits())
            .collect();
        assert_eq!(permits, [30, 20]);
        // Fewer connections than worker threads: one lane per connection.
        let p = H2Pools::new(1, None, 4)
            .for_origin(&uri("http://127.0.0.1:1/"), true)
            .unwrap();
        assert_eq!(p.lanes.len(), 1);
        assert!(p.lanes[0].permits.is_none());
    }

    #[test]
    fn one_pool_per_origin() {
        let pools = H2Pools::new(2, None, 1);
        let a = pools
            .for_origin(&uri("https://127.0.0.1:8443/a"), true)
            .unwrap();
        let b = pools
            .for_origin(&uri("https://127.0.0.1:8443/b?x=1"), true)
            .unwrap();
        let c = pools
            .for_origin(&uri("http://127.0.0.1:8443/a"), true)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        // The h2 crate's connections (SSE streams) are a pool of their own.
        let h2 = pools
            .for_origin(&uri("https://127.0.0.1:8443/a"), false)
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &h2) && a.lean && !h2.lean);
        assert!(a.serves(&uri("https://127.0.0.1:8443/z")));
        assert!(!a.serves(&uri("https://127.0.0.1:8444/a")));
        assert_eq!(a.opened(), 0);
    }
}
