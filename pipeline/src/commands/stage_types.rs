//! `pipeline stages`: the registered stage types.

/// Prints one registered stage type a line.
pub fn run() {
    crate::output::stage_types(&stages::registered_stage_types());
}
