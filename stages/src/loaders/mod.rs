//! The load stage types, one module each: they write valid rows into the database.

pub mod postgres_load;
