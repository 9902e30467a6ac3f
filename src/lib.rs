//! Brooklet: a streaming SQL engine that speaks ksqlDB's language, in one binary.
//!
//! See `docs/ARCHITECTURE.md` for how the modules fit together.

pub mod catalog;
pub mod cli;
pub mod connect;
pub mod engine;
pub mod error;
pub mod exec;
pub mod format;
pub mod functions;
pub mod fuzz;
pub mod log;
pub mod plan;
pub mod qtt;
pub mod registry;
pub mod server;
pub mod sql;
pub mod state;

pub use engine::{Engine, EngineConfig, Output, Session};
pub use error::{Error, ErrorKind, Result};
