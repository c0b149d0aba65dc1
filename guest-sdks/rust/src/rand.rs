//! Deterministic random numbers for stages: Go's math/rand/v2 PCG (a
//! 128-bit LCG with the DXSM output function), so that a Rust module and
//! the same module written with the Go SDK draw the same numbers.

/// A deterministic random source, from [`Ctx::rand`](crate::Ctx::rand):
/// seeded from the batch's seed and the item's position, so that it replays
/// the same on every attempt of the batch. It produces the same sequence as
/// the Go SDK's `Ctx.Rand()` (math/rand/v2's PCG): `next_u64`, `below` and
/// `next_f64` match Go's `Uint64`, `IntN`/`Uint64N` and `Float64`.
#[derive(Clone, Debug)]
pub struct Rng {
    hi: u64,
    lo: u64,
}

impl Rng {
    /// A generator seeded like Go's `rand.NewPCG(seed1, seed2)`.
    pub fn new(seed1: u64, seed2: u64) -> Rng {
        Rng { hi: seed1, lo: seed2 }
    }

    fn next(&mut self) -> (u64, u64) {
        const MUL_HI: u64 = 2549297995355413924;
        const MUL_LO: u64 = 4865540595714422341;
        const INC_HI: u64 = 6364136223846793005;
        const INC_LO: u64 = 1442695040888963407;
        let state = (self.hi as u128) << 64 | self.lo as u128;
        let mul = (MUL_HI as u128) << 64 | MUL_LO as u128;
        let inc = (INC_HI as u128) << 64 | INC_LO as u128;
        let s = state.wrapping_mul(mul).wrapping_add(inc);
        self.hi = (s >> 64) as u64;
        self.lo = s as u64;
        (self.hi, self.lo)
    }

    /// A uniformly distributed u64.
    pub fn next_u64(&mut self) -> u64 {
        let (mut hi, lo) = self.next();
        const CHEAP_MUL: u64 = 0xda942042e4dd58b5;
        hi ^= hi >> 32;
        hi = hi.wrapping_mul(CHEAP_MUL);
        hi ^= hi >> (3 * 16);
        hi.wrapping_mul(lo | 1)
    }

    /// A uniformly distributed number in `[0, n)`.
    ///
    /// # Panics
    ///
    /// When `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "squall: Rng::below(0)");
        if n & (n - 1) == 0 {
            return self.next_u64() & (n - 1);
        }
        let mut m = (self.next_u64() as u128) * (n as u128);
        let mut lo = m as u64;
        if lo < n {
            let thresh = n.wrapping_neg() % n;
            while lo < thresh {
                m = (self.next_u64() as u128) * (n as u128);
                lo = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// A uniformly distributed float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() << 11 >> 11) as f64 / (1u64 << 53) as f64
    }
}
