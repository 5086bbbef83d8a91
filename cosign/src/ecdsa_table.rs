//! ECDSA P-256 verification for one key checked many times (`store verify`, `sync`'s gate):
//! the key's multiples are computed once, so that each verification is additions only.
//!
//! Why: ECDSA verification computes `u1·G + u2·Q`. A general verifier (AWS-LC, OpenSSL) has a
//! precomputed table for the generator `G` but must double its way through `u2·Q` for each
//! signature, since `Q` changes from call to call; that is about three quarters of its time.
//! When one policy key checks thousands of signatures, a table of `Q`'s multiples pays for
//! itself after a few hundred of them (it takes about 4 ms and 0.3 MB to build), and makes
//! each check about twice as fast as AWS-LC's (see `docs/benchmarks.md`).
//!
//! The table is a comb of 8-bit windows in signed digits: entry `(i, m)` is `m · 2^(8i) · P` for
//! `m` in 1..=128, so `k·P` is the sum of one entry, or its negation, per non-zero digit of `k`
//! (at most 33 additions). The
//! arithmetic is the `p256` crate's (complete addition formulas, so identity and doubling cases
//! need no special handling); only the bookkeeping is here. Everything it handles is public (a
//! public key, a signature, a digest), so variable time is fine.
//!
//! It accepts exactly what [`crate::ecdsa_fast`] accepts for a DER signature over a SHA-256
//! digest: canonical DER, `r` and `s` in `[1, n-1]`, high `s` accepted. The tests below compare
//! the two on valid, tampered and malformed inputs and on the arithmetic's edge cases (digests
//! of n and above, an `x(R)` of n and above, `R` at infinity); the `ecdsa_prepared` fuzz target
//! compares a prepared key with the same key unprepared.

use std::sync::OnceLock;

use p256::elliptic_curve::BatchNormalize;
use p256::elliptic_curve::ops::Double as _;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};

/// Bits per window; the windows of a 256-bit scalar in signed digits (one more, for the last
/// carry); and the magnitudes of a digit, which runs from -128 to 128.
const WINDOW_BITS: usize = 8;
const WINDOWS: usize = 256 / WINDOW_BITS + 1;
const MAGNITUDES: usize = 1 << (WINDOW_BITS - 1);

/// The multiples of one point: entry `i * MAGNITUDES + (m - 1)` is `m · 2^(8i) · P`, for `m` in
/// 1..=128. A negative digit adds the entry's negation, so the table is half the size unsigned
/// digits would need (0.3 MB), which keeps more of it in the cache.
struct Comb(Vec<AffinePoint>);

impl Comb {
    fn new(point: ProjectivePoint) -> Comb {
        let mut multiples = Vec::with_capacity(WINDOWS * MAGNITUDES);
        let mut base = point;
        for _ in 0..WINDOWS {
            let mut multiple = base;
            for _ in 0..MAGNITUDES {
                multiples.push(multiple);
                multiple += base;
            }
            // `multiple` is now 129 · base; the next window's base is 256 · base.
            base = multiples[multiples.len() - 1].double();
        }
        let affine: Vec<AffinePoint> =
            <ProjectivePoint as BatchNormalize<[ProjectivePoint]>>::batch_normalize(&multiples);
        Comb(affine)
    }

    /// Adds `k · P` to `acc`.
    fn add_multiple(&self, acc: &mut ProjectivePoint, k: &Scalar) {
        let bytes = k.to_bytes();
        // Big-endian: byte 31 is the window of 2^0. Each byte plus the carry becomes a digit
        // in -128..=127 (and a carry of 1 into the next window), the last carry a digit of
        // its own.
        let mut carry = 0i16;
        for window in 0..WINDOWS {
            let byte = if window < 32 { bytes[31 - window] } else { 0 };
            let value = i16::from(byte) + carry;
            let digit = if value >= 128 { value - 256 } else { value };
            carry = i16::from(value >= 128);
            if digit != 0 {
                let entry = &self.0[window * MAGNITUDES + usize::from(digit.unsigned_abs()) - 1];
                if digit > 0 {
                    *acc += entry;
                } else {
                    *acc += &-*entry;
                }
            }
        }
    }
}

/// The generator's table, built on first use and shared by every key table.
fn generator() -> &'static Comb {
    static TABLE: OnceLock<Comb> = OnceLock::new();
    TABLE.get_or_init(|| Comb::new(ProjectivePoint::GENERATOR))
}

/// A P-256 public key prepared for many verifications.
pub(crate) struct KeyTable {
    key: Comb,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyTable")
    }
}

impl KeyTable {
    /// The table of `key`.
    pub(crate) fn new(key: &p256::ecdsa::VerifyingKey) -> KeyTable {
        // The generator's table too (once per process), beside this one on another thread, so
        // that the first verification is not the slow one.
        std::thread::scope(|scope| {
            // Without a thread to spare, the first verification builds it instead.
            let _ = std::thread::Builder::new().spawn_scoped(scope, generator);
            KeyTable {
                key: Comb::new(ProjectivePoint::from(*key.as_affine())),
            }
        })
    }

    /// Whether the DER signature `der` over the SHA-256 digest `prehash` verifies.
    pub(crate) fn verify_digest_der(&self, prehash: &[u8; 32], der: &[u8]) -> bool {
        let Ok(signature) = p256::ecdsa::Signature::from_der(der) else {
            return false;
        };
        // Strict DER, as AWS-LC: the one encoding of (r, s), nothing before or after.
        if signature.to_der().as_bytes() != der {
            return false;
        }
        // `from_der` has checked that r and s are in [1, n-1].
        let (r, s) = signature.split_scalars();
        // The digest as an integer mod n: for a 256-bit curve and a 256-bit hash, bits2int is
        // the whole digest, reduced once.
        let e = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*prehash));
        let Some(w) = Option::<Scalar>::from(s.invert_vartime()) else {
            return false;
        };
        let u1 = e * w;
        let u2 = *r * w;
        let mut point = ProjectivePoint::IDENTITY;
        generator().add_multiple(&mut point, &u1);
        self.key.add_multiple(&mut point, &u2);
        if point == ProjectivePoint::IDENTITY {
            return false;
        }
        // x(R) < p < 2n, so one reduction gives x(R) mod n.
        let x = <Scalar as Reduce<FieldBytes>>::reduce(&point.to_affine().x());
        x == *r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdsa_fast::tests::noise;
    use crate::ecdsa_fast::{Curve, verify_digest_der};
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::elliptic_curve::point::DecompressPoint as _;
    use p256::elliptic_curve::subtle::Choice;
    use sha2::Digest as _;

    fn key(seed: u64) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&sha2::Sha256::digest(noise(32, seed))).expect("key")
    }

    /// The table's answer, AWS-LC's answer, and both must be `expected`.
    fn judge(
        table: &KeyTable,
        public: &p256::ecdsa::VerifyingKey,
        digest: &[u8; 32],
        der: &[u8],
    ) -> bool {
        let point = public.to_sec1_point(false);
        let reference = verify_digest_der(Curve::P256, point.as_bytes(), digest, der);
        let ours = table.verify_digest_der(digest, der);
        assert_eq!(
            Some(ours),
            reference,
            "table and AWS-LC disagree on {der:02x?}"
        );
        ours
    }

    #[test]
    fn agrees_with_aws_lc_on_valid_tampered_and_other_key_signatures() {
        for seed in 0..60u64 {
            let signer = key(seed);
            let public = *signer.verifying_key();
            let table = KeyTable::new(&public);
            let digest: [u8; 32] = sha2::Sha256::digest(noise(64, seed)).into();
            let sig: p256::ecdsa::Signature = signer.sign_prehash(&digest).expect("sign");
            let der = sig.to_der().as_bytes().to_vec();
            assert!(judge(&table, &public, &digest, &der), "seed {seed}: valid");

            // The other valid signature of the digest: (r, n - s).
            let (r, s) = sig.split_scalars();
            let high = p256::ecdsa::Signature::from_scalars(r, -*s).expect("high s");
            assert!(
                judge(&table, &public, &digest, high.to_der().as_bytes()),
                "seed {seed}: high s"
            );

            // Any flipped bit of the digest or of the signature's value bytes.
            for bit in [0usize, 7, 100, 255] {
                let mut other = digest;
                other[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    !judge(&table, &public, &other, &der),
                    "seed {seed}: digest bit {bit}"
                );
            }
            for i in 0..der.len() {
                let mut bad = der.clone();
                bad[i] ^= 1 << (seed % 8);
                assert!(
                    !judge(&table, &public, &digest, &bad),
                    "seed {seed}: byte {i}"
                );
            }
            // Another key's signature of the same digest.
            let other: p256::ecdsa::Signature =
                key(seed + 1000).sign_prehash(&digest).expect("sign");
            assert!(
                !judge(&table, &public, &digest, other.to_der().as_bytes()),
                "seed {seed}: other key"
            );
            // Swapped r and s.
            let swapped = p256::ecdsa::Signature::from_scalars(s, r).expect("swap");
            assert!(
                !judge(&table, &public, &digest, swapped.to_der().as_bytes()),
                "seed {seed}: swapped"
            );
        }
    }

    /// DER-level oddities: padding, trailing bytes, zero, n and over-long integers. Both
    /// verifiers refuse each (and agree, which `judge` asserts).
    #[test]
    fn refuses_what_is_not_canonical_der_or_out_of_range() {
        let signer = key(1);
        let public = *signer.verifying_key();
        let table = KeyTable::new(&public);
        let digest: [u8; 32] = sha2::Sha256::digest(b"oddities").into();
        let sig: p256::ecdsa::Signature = signer.sign_prehash(&digest).expect("sign");
        let (r, s) = (sig.r().to_bytes(), sig.s().to_bytes());
        let integer = |bytes: &[u8]| {
            let mut out = vec![0x02, bytes.len() as u8];
            out.extend_from_slice(bytes);
            out
        };
        let sequence = |parts: &[Vec<u8>]| {
            let body: Vec<u8> = parts.concat();
            let mut out = vec![0x30, body.len() as u8];
            out.extend(body);
            out
        };
        let minimal = |bytes: &[u8]| {
            let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
            if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
                [vec![0], trimmed].concat()
            } else {
                trimmed
            }
        };
        let good = sequence(&[integer(&minimal(&r)), integer(&minimal(&s))]);
        assert!(judge(&table, &public, &digest, &good));
        let order = hex_literal(ORDER);
        let mut cases = vec![
            // An extra leading zero on r.
            sequence(&[
                integer(&[vec![0], minimal(&r)].concat()),
                integer(&minimal(&s)),
            ]),
            // A trailing byte after the sequence.
            [good.clone(), vec![0]].concat(),
            // r = 0, s = 0.
            sequence(&[integer(&[0]), integer(&minimal(&s))]),
            sequence(&[integer(&minimal(&r)), integer(&[0])]),
            // r = n.
            sequence(&[integer(&minimal(&order)), integer(&minimal(&s))]),
            // Empty, and the raw r || s form (not DER).
            vec![],
            [r.to_vec(), s.to_vec()].concat(),
        ];
        // A negative r (its top bit set, no zero pad), when r has it.
        if r[0] & 0x80 != 0 {
            cases.push(sequence(&[integer(&r), integer(&minimal(&s))]));
        }
        for case in cases {
            assert!(
                !judge(&table, &public, &digest, &case),
                "accepted {case:02x?}"
            );
        }
    }

    /// The order n of P-256's group, big-endian.
    const ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

    /// `a + k` (big-endian, wrapping past 2^256).
    fn plus(mut a: [u8; 32], k: u8) -> [u8; 32] {
        let mut carry = u16::from(k);
        for byte in a.iter_mut().rev() {
            let sum = u16::from(*byte) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        a
    }

    fn verifying_key(point: ProjectivePoint) -> p256::ecdsa::VerifyingKey {
        p256::ecdsa::VerifyingKey::from_affine(point.to_affine()).expect("a key")
    }

    /// Digests at n and around it, zero (u1 = 0) and all ones: each must be reduced mod n as
    /// AWS-LC reduces it, and a digest and the same digest plus n are one.
    #[test]
    fn digests_of_n_and_above_reduce_as_aws_lc_reduces_them() {
        let signer = key(7);
        let public = *signer.verifying_key();
        let table = KeyTable::new(&public);
        let n = hex_literal(ORDER);
        let mut n_minus_1 = n;
        n_minus_1[31] -= 1;
        for digest in [
            [0u8; 32],
            n_minus_1,
            n,
            plus(n, 1),
            plus(n, 200),
            [0xff; 32],
        ] {
            let sig: p256::ecdsa::Signature = signer.sign_prehash(&digest).expect("sign");
            let der = sig.to_der().as_bytes().to_vec();
            assert!(judge(&table, &public, &digest, &der), "{digest:02x?}");
            if digest >= n && digest != [0xff; 32] {
                // Its residue: n + k is k.
                let mut residue = [0u8; 32];
                residue[31] = digest[31].wrapping_sub(n[31]);
                assert!(
                    judge(&table, &public, &residue, &der),
                    "{digest:02x?} as {residue:02x?}"
                );
            }
        }
    }

    /// A signature whose point R has an x above n: r is x mod n, and is accepted; r = x itself
    /// is out of range, and refused.
    #[test]
    fn an_x_above_n_is_reduced_once() {
        let n = hex_literal(ORDER);
        let (x, point) = (1u8..=255)
            .find_map(|k| {
                let x = plus(n, k);
                Option::<AffinePoint>::from(AffinePoint::decompress(
                    &FieldBytes::from(x),
                    Choice::from(0),
                ))
                .map(|point| (x, point))
            })
            .expect("a point with x in (n, n + 255]");
        let r = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(x));
        let (s, e) = (Scalar::from(12_345u64), Scalar::from(67_890u64));
        // The key for which (r, s) over e makes exactly this R: Q = r⁻¹(s·R − e·G).
        let inverse = Option::<Scalar>::from(r.invert()).expect("r is not zero");
        let q = (ProjectivePoint::from(point) * s - ProjectivePoint::GENERATOR * e) * inverse;
        let public = verifying_key(q);
        let table = KeyTable::new(&public);
        let digest: [u8; 32] = e.to_bytes().into();
        let sig = p256::ecdsa::Signature::from_scalars(r.to_bytes(), s.to_bytes()).expect("sig");
        assert!(judge(&table, &public, &digest, sig.to_der().as_bytes()));
        // (x, s) in DER: r = x is n or more.
        let s_bytes = s.to_bytes();
        let s_minimal: Vec<u8> = s_bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut body = vec![0x02, 33, 0];
        body.extend_from_slice(&x);
        body.extend([0x02, s_minimal.len() as u8]);
        body.extend(&s_minimal);
        let der = [vec![0x30, body.len() as u8], body].concat();
        assert!(!judge(&table, &public, &digest, &der));
    }

    /// u1·G + u2·Q at infinity (e = −r·d): no x to compare, refused by both.
    #[test]
    fn r_at_infinity_is_refused() {
        let d = Scalar::from(424_242u64);
        let public = verifying_key(ProjectivePoint::GENERATOR * d);
        let table = KeyTable::new(&public);
        let (r, s) = (Scalar::from(777u64), Scalar::from(999u64));
        let digest: [u8; 32] = (-(r * d)).to_bytes().into();
        let sig = p256::ecdsa::Signature::from_scalars(r.to_bytes(), s.to_bytes()).expect("sig");
        assert!(!judge(&table, &public, &digest, sig.to_der().as_bytes()));
    }

    /// The comb's sum is the scalar multiple for scalars at the recoding's edges: zero, one,
    /// n − 1, 2^255, and bytes that carry (0x7f, 0x80, 0xff).
    #[test]
    fn the_comb_is_the_scalar_multiple_at_the_recodings_edges() {
        let point = ProjectivePoint::GENERATOR * Scalar::from(31_337u64);
        let comb = Comb::new(point);
        let mut top = [0u8; 32];
        top[0] = 0x80;
        let mut scalars = vec![Scalar::ZERO, Scalar::ONE, -Scalar::ONE];
        for bytes in [top, [0x7f; 32], [0x80; 32], [0xff; 32]] {
            scalars.push(<Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(
                bytes,
            )));
        }
        for k in scalars {
            let mut sum = ProjectivePoint::IDENTITY;
            comb.add_multiple(&mut sum, &k);
            assert_eq!(sum, point * k, "{:02x?}", k.to_bytes());
        }
    }

    fn hex_literal(hex: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
        }
        out
    }
}
