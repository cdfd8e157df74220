//! The `garita` binary: the command line lives in [`garita::cli`].
#![forbid(unsafe_code)]

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    garita::cli::main()
}
