//! Which protocol this receiver is spoken to in, learnt from its answers and shared by
//! every shard. With [`Protocol::Auto`] the first requests go out as 2.0; a receiver that
//! speaks only 1.0 shows it in one of two ways, and either sends it (and the refused
//! batch) back to 1.0 for good:
//! - `415 Unsupported Media Type`, as the 2.0 spec asks of a receiver that does not take
//!   the message (Prometheus 2.5x–3.x with 2.0 switched off), or any other 4xx without
//!   the written-samples headers: a 1.0 decoder failing on 2.0 bytes;
//! - a 2xx without any `X-Prometheus-Remote-Write-*-Written` header: older 1.0 receivers
//!   (Prometheus 2.42) decode the 2.0 bytes as an empty 1.0 request and say "done" having
//!   stored nothing. Every 2.0 receiver sends those headers, so their absence is the tell.
//!
//! Once an answer carried the headers, the receiver has shown it speaks 2.0 and no later
//! answer switches it back.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::config::Protocol;

/// The message a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    V1,
    V2,
}

impl Wire {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Wire::V1 => "application/x-protobuf",
            Wire::V2 => "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        }
    }

    pub(crate) fn version_header(self) -> &'static str {
        match self {
            Wire::V1 => "0.1.0",
            Wire::V2 => "2.0.0",
        }
    }
}

const TRYING_V2: u8 = 0;
const V2: u8 = 1;
const V1: u8 = 2;

pub(crate) struct ProtocolChoice {
    state: AtomicU8,
    unconfirmed_logged: AtomicBool,
}

impl ProtocolChoice {
    pub(crate) fn new(protocol: Protocol) -> Self {
        Self {
            state: AtomicU8::new(match protocol {
                Protocol::V1 => V1,
                Protocol::V2 => V2,
                Protocol::Auto => TRYING_V2,
            }),
            unconfirmed_logged: AtomicBool::new(false),
        }
    }

    /// True the first time only: a receiver storing less than it is sent says so on every
    /// request, and the log needs it once (the counter has the rest).
    pub(crate) fn first_unconfirmed(&self) -> bool {
        !self.unconfirmed_logged.swap(true, Ordering::Relaxed)
    }

    /// The message the next request carries.
    pub(crate) fn wire(&self) -> Wire {
        match self.state.load(Ordering::Relaxed) {
            V1 => Wire::V1,
            _ => Wire::V2,
        }
    }

    /// The receiver answered a 2.0 request with the written headers: it speaks 2.0.
    pub(crate) fn confirm_v2(&self) {
        let _ = self
            .state
            .compare_exchange(TRYING_V2, V2, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The receiver's `answer` to a 2.0 request says it speaks only 1.0. True when this
    /// switches (or already switched) to 1.0, so the batch must go again as 1.0; false with
    /// `2.0` asked for explicitly, or after the receiver showed it speaks 2.0. Says so once.
    pub(crate) fn refused_v2(&self, answer: &str) -> bool {
        match self
            .state
            .compare_exchange(TRYING_V2, V1, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => {
                tracing::warn!(
                    answer,
                    "remote-write receiver does not speak remote-write 2.0; speaking 1.0 to it from now on (--remote-write-protocol auto) and resending the batch"
                );
                true
            }
            // Another shard switched first: this batch went out as 2.0 and goes again.
            Err(V1) => true,
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_falls_back_once_and_a_confirmed_receiver_stays_on_2() {
        let auto = ProtocolChoice::new(Protocol::Auto);
        assert_eq!(auto.wire(), Wire::V2);
        assert!(auto.refused_v2("HTTP 415"));
        assert_eq!(auto.wire(), Wire::V1);
        assert!(
            auto.refused_v2("HTTP 415"),
            "a batch in flight as 2.0 goes again"
        );

        let confirmed = ProtocolChoice::new(Protocol::Auto);
        confirmed.confirm_v2();
        assert!(!confirmed.refused_v2("HTTP 400: out of order"));
        assert_eq!(confirmed.wire(), Wire::V2);
    }

    #[test]
    fn an_explicit_protocol_never_changes() {
        let v2 = ProtocolChoice::new(Protocol::V2);
        assert!(!v2.refused_v2("HTTP 415"));
        assert_eq!(v2.wire(), Wire::V2);
        let v1 = ProtocolChoice::new(Protocol::V1);
        v1.confirm_v2();
        assert_eq!(v1.wire(), Wire::V1);
    }
}
