//! Starts the real `garita` binary against a recording backend, on loopback ports.
//!
//! A test describes only what it is about (its policies and routes, the client-IP setup,
//! list files); the builder writes the rest of a config into a temporary directory, with
//! every listener on port 0, starts `garita run` as a child process, reads the addresses it
//! bound from its `listening on ...` lines (which are also the sign that it is ready), and
//! kills it when the [`TestGateway`] is dropped. [`run`] runs any command with an optional
//! standard input and collects what it printed.
#![allow(dead_code, unused_imports)]

mod backends;
mod browser;
mod ca;
mod checks;
mod command;
mod console;
mod gateway;
mod redis;

pub use backends::*;
pub use browser::*;
pub use ca::*;
pub use checks::*;
pub use command::*;
pub use console::*;
pub use gateway::*;
pub use redis::*;

pub(crate) use garita::cli::demo::shop::{DemoShop, RecordedRequest};
pub(crate) use std::net::SocketAddr;
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::{Child, Command, Stdio};
pub(crate) use std::time::Duration;

pub use garita::cli::demo::client::{send_bytes, RawRequest, RawResponse};
