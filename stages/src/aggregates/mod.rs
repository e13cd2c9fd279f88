//! The aggregate stage types, one module each: each computes a derived table for days and keeps
//! the computed days fresh.

pub mod customer_daily_stats;
pub mod product_daily_stats;
