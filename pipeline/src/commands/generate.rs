//! `pipeline generate`: writes an Olist-shaped dataset (see the `generator` crate).

use std::time::Instant;

use anyhow::Result;

/// Writes the dataset `options` describe and says what it holds.
pub fn run(options: &generator::GenerateOptions) -> Result<()> {
    let started = Instant::now();
    let summary = generator::generate(options)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "generated");
    println!(
        "wrote {}: {} customers, {} orders, {} order items, {} products, {} defects",
        options.out.display(),
        summary.customers,
        summary.orders,
        summary.order_items,
        summary.products,
        summary.defects
    );
    Ok(())
}
