//! The load client's TLS crypto: rustls' ring provider with three changes, all for the
//! handshake, which is the client's whole cost when every request opens a connection.
//!
//! 1. **Cipher suites in the order browsers and Go offer them**: AES-128-GCM first (ring's
//!    order puts AES-256-GCM-SHA384 first, as OpenSSL's does). Besides being what a gateway's
//!    real clients negotiate, its SHA-256 key schedule costs a fraction of SHA-384's: under
//!    callgrind a resumed TLS 1.3 handshake spent ~300k instructions in SHA-512 blocks.
//! 2. **X25519 from aws-lc-rs.** With a new connection per request (k6's
//!    `noConnectionReuse`, every TLS handshake a gateway terminates) half of the client's
//!    cost was ring's X25519 (portable C, ~200k instructions per key pair under callgrind).
//!    aws-lc-rs computes it in assembly. Only the key exchange comes from it: rustls' own
//!    `aws_lc_rs` feature stays off, because a binary with both of rustls' providers compiled
//!    in has no process default, and the kube and reqwest clients beside this one rely on it.
//! 3. **Handshake randoms from aws-lc's DRBG.** ring's `SystemRandom` is a `getrandom`
//!    syscall per fill, and rustls fills three per connection (the client random, the
//!    legacy session id and the seed of the ClientHello's extension order): three of the
//!    ~15 syscalls a TLS connection cost the client (strace, one request per connection).
//!    aws-lc's `RAND_bytes` is a per-thread CTR-DRBG seeded and reseeded from the OS, the
//!    generator X25519's keys above already come from.

use aws_lc_rs::agreement;
use rustls::crypto::ring::cipher_suite as suite;
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::{Error, NamedGroup, PeerMisbehaved, SupportedCipherSuite};

/// The provider the load client's connections use.
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: cipher_suites(),
        kx_groups: groups(),
        secure_random: &DrbgRandom,
        ..rustls::crypto::ring::default_provider()
    }
}

/// rustls' randoms from aws-lc's per-thread DRBG instead of a syscall per fill (see 3.).
#[derive(Debug)]
pub struct DrbgRandom;

impl SecureRandom for DrbgRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        aws_lc_rs::rand::fill(buf).map_err(|_| GetRandomFailed)
    }
}

/// ring's suites, AES-128-GCM first in each version, as Chrome, Firefox and Go order them.
pub fn cipher_suites() -> Vec<SupportedCipherSuite> {
    vec![
        suite::TLS13_AES_128_GCM_SHA256,
        suite::TLS13_AES_256_GCM_SHA384,
        suite::TLS13_CHACHA20_POLY1305_SHA256,
        suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
}

/// The key exchange groups the load client offers: X25519 from aws-lc-rs first (what
/// browsers, Go and OpenSSL servers choose), then ring's NIST curves as before.
pub fn groups() -> Vec<&'static dyn SupportedKxGroup> {
    let mut groups: Vec<&'static dyn SupportedKxGroup> = vec![&X25519];
    groups.extend(
        rustls::crypto::ring::default_provider()
            .kx_groups
            .into_iter()
            .filter(|g| g.name() != NamedGroup::X25519),
    );
    groups
}

#[derive(Debug)]
pub struct X25519;

impl SupportedKxGroup for X25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let private = agreement::EphemeralPrivateKey::generate(&agreement::X25519, &rng)
            .map_err(|_| Error::FailedToGetRandomBytes)?;
        let public = private
            .compute_public_key()
            .map_err(|_| Error::General("X25519 public key".into()))?
            .as_ref()
            .to_vec();
        Ok(Box::new(Active { private, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct Active {
    private: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
}

impl ActiveKeyExchange for Active {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
        agreement::agree_ephemeral(
            self.private,
            peer,
            Error::from(PeerMisbehaved::InvalidKeyShare),
            |secret| Ok(SharedSecret::from(secret)),
        )
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides of an exchange through the adapter agree, and agree with ring's X25519 on
    /// the other side (the peer a server's OpenSSL stands for).
    #[test]
    fn agrees_with_itself_and_with_ring() {
        let a = X25519.start().unwrap();
        let b = X25519.start().unwrap();
        let (a_pub, b_pub) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        assert_eq!(a_pub.len(), 32);
        let ab = a.complete(&b_pub).unwrap();
        let ba = b.complete(&a_pub).unwrap();
        assert_eq!(ab.secret_bytes(), ba.secret_bytes());

        let ring_x25519 = rustls::crypto::ring::default_provider()
            .kx_groups
            .into_iter()
            .find(|g| g.name() == NamedGroup::X25519)
            .unwrap();
        let r = ring_x25519.start().unwrap();
        let ours = X25519.start().unwrap();
        let (r_pub, ours_pub) = (r.pub_key().to_vec(), ours.pub_key().to_vec());
        assert_eq!(
            r.complete(&ours_pub).unwrap().secret_bytes(),
            ours.complete(&r_pub).unwrap().secret_bytes()
        );
    }

    /// The provider's randoms come from the DRBG, and they are random: two fills differ and
    /// neither is all zeroes (a stub that left the buffer alone would pass neither).
    #[test]
    fn randoms_come_from_the_drbg() {
        let p = provider();
        assert_eq!(format!("{:?}", p.secure_random), "DrbgRandom");
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        p.secure_random.fill(&mut a).unwrap();
        p.secure_random.fill(&mut b).unwrap();
        assert_ne!(a, [0; 32]);
        assert_ne!(a, b);
    }

    #[test]
    fn a_malformed_peer_key_is_refused() {
        let a = X25519.start().unwrap();
        assert!(a.complete(&[1, 2, 3]).is_err());
    }

    /// The same suites as ring's default, only reordered: nothing offered is added or lost.
    #[test]
    fn suites_are_rings_with_aes_128_first() {
        let ours: Vec<_> = cipher_suites().iter().map(|s| s.suite()).collect();
        let mut rings: Vec<_> = rustls::crypto::ring::default_provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        assert_eq!(ours[0], rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
        let mut sorted = ours.clone();
        sorted.sort_by_key(|s| u16::from(*s));
        rings.sort_by_key(|s| u16::from(*s));
        assert_eq!(sorted, rings);
    }

    #[test]
    fn x25519_is_offered_first_and_once() {
        let names: Vec<_> = groups().iter().map(|g| g.name()).collect();
        assert_eq!(names[0], NamedGroup::X25519);
        assert_eq!(
            names.iter().filter(|n| **n == NamedGroup::X25519).count(),
            1
        );
        assert!(names.contains(&NamedGroup::secp256r1));
    }
}
