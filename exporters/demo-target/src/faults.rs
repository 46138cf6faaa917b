//! Error injection, on every endpoint: `?status=503&p=0.1` answers 503 to about 10 % of
//! requests. The decision is made before the endpoint does any work, like a failing proxy
//! in front of the service would.

use http::StatusCode;
use rand::Rng;

use crate::query;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fault {
    pub status: StatusCode,
    pub probability: f64,
}

impl Fault {
    /// `Ok(None)` when the query asks for no fault.
    pub(crate) fn parse(q: Option<&str>) -> Result<Option<Fault>, String> {
        let Some(raw) = query::get(q, "status") else {
            return Ok(None);
        };
        let status = raw
            .parse::<u16>()
            .ok()
            .filter(|s| (200..=599).contains(s))
            .and_then(|s| StatusCode::from_u16(s).ok())
            .ok_or_else(|| format!("invalid status {raw:?}: want 200..=599"))?;
        let probability = match query::get(q, "p") {
            None => 1.0,
            Some(p) => p
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("invalid p {p:?}: want a probability in [0, 1]"))?,
        };
        Ok(Some(Fault {
            status,
            probability,
        }))
    }

    pub(crate) fn fires(&self, rng: &mut impl Rng) -> bool {
        // `random` is in [0, 1): p = 1 always fires, p = 0 never does.
        rng.random::<f64>() < self.probability
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_probability() {
        assert_eq!(Fault::parse(Some("sleep=1")).unwrap(), None);
        let f = Fault::parse(Some("status=503&p=0.25")).unwrap().unwrap();
        assert_eq!(f.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(f.probability, 0.25);
        assert_eq!(
            Fault::parse(Some("status=500"))
                .unwrap()
                .unwrap()
                .probability,
            1.0
        );
        for bad in [
            "status=abc",
            "status=99",
            "status=600",
            "status=503&p=1.5",
            "status=503&p=-0.1",
            "status=503&p=x",
        ] {
            assert!(Fault::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn certain_and_impossible_faults() {
        let mut rng = rand::rng();
        let always = Fault {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            probability: 1.0,
        };
        let never = Fault {
            probability: 0.0,
            ..always
        };
        assert!((0..1000).all(|_| always.fires(&mut rng)));
        assert!((0..1000).all(|_| !never.fires(&mut rng)));
    }
}
