//! The extract stage types, one module each: they find the input files and stream their records.

pub mod csv_extract;
