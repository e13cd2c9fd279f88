//! Ids and the random variates the shop is drawn from.

use rand::{Rng, RngCore};

pub(crate) type Id = [u8; 16];

pub(crate) fn new_id<R: RngCore>(rng: &mut R) -> Id {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    id
}

/// Standard normal variate (Box-Muller, one half).
pub(crate) fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(crate) fn lognormal<R: Rng>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Cumulative weights for weighted picks.
pub(crate) struct Weighted(Vec<u32>);

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut acc = 0;
        Weighted(
            weights
                .into_iter()
                .map(|w| {
                    acc += w;
                    acc
                })
                .collect(),
        )
    }

    pub(crate) fn pick<R: Rng>(&self, rng: &mut R) -> usize {
        let total = *self.0.last().expect("non-empty table");
        let x = rng.gen_range(0..total);
        self.0.partition_point(|&c| c <= x)
    }
}
