//! Destination `Update` messages for the unit tests of [`crate::endpoints`] and
//! [`crate::shared`], built one way so both feed their sets what the controller sends
//! (adds at Linkerd's default weight).

use linkerd2_proxy_api::destination::{
    AddrSet, NoEndpoints, Update, WeightedAddr, WeightedAddrSet, update,
};
use linkerd2_proxy_api::net::TcpAddress;

pub fn add(addrs: impl IntoIterator<Item = TcpAddress>) -> Update {
    Update {
        update: Some(update::Update::Add(WeightedAddrSet {
            addrs: addrs
                .into_iter()
                .map(|a| WeightedAddr {
                    addr: Some(a),
                    weight: 10_000,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })),
    }
}

pub fn remove(addrs: impl IntoIterator<Item = TcpAddress>) -> Update {
    Update {
        update: Some(update::Update::Remove(AddrSet {
            addrs: addrs.into_iter().collect(),
        })),
    }
}

pub fn none(exists: bool) -> Update {
    Update {
        update: Some(update::Update::NoEndpoints(NoEndpoints { exists })),
    }
}
