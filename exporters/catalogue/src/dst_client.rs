//! Series written by `redline dst-client`: Linkerd `Destination.Get` streams and how fast
//! every stream converges on the endpoints the churn daemon sets. Names are the ones the
//! Linkerd destination load-test plan lists, plus the fan-out signals its criteria need
//! ("all clients observe all changes within N seconds").
//!
//! The entries live in `metrics/dst_client.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/dst_client.rs"));
