//! `dtmx._native`: the Python face of dtmx-bindings. Types and names are translated here;
//! the Python package `dtmx` adds the idioms (keyword options, asyncio, context managers,
//! framework and driver helpers) on top.

mod barrier;
mod client;
mod errors;
mod rm;
mod run;
mod trans;
mod xa_local;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    client::register(m)?;
    trans::register(m)?;
    run::register(m)?;
    rm::register(m)?;
    barrier::register(m)?;
    xa_local::register(m)?;
    Ok(())
}
