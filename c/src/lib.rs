//! libdtmx: the C ABI of dtmx, over the `dtmx-bindings` facade (DESIGN.md §4). The
//! header `include/dtmx.h` is generated from this crate by cbindgen (`cbindgen.toml`
//! holds its preamble: the ownership, error and threading rules every export follows).

#![allow(unsafe_code, clippy::not_unsafe_ptr_arg_deref)]

pub mod barrier;
pub mod branch;
pub mod client;
mod drive;
pub mod error;
mod ffi;
pub mod guard;
#[cfg(test)]
mod header;
pub mod trans;
pub mod xa_local;
