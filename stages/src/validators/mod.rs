//! The validate stage types, one module each: they split records into valid rows and rejected lines.

pub mod validate;
