//! rreg: the client library behind the `rreg` binary — Docker-style image references, credentials
//! in Docker's `config.json`, a distribution API client with the token flow, a local OCI image
//! layout store, and the push, pull, history and archive operations the commands call.

pub mod archive;
pub mod build;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod explore;
pub mod history;
pub mod output;
pub mod progress;
pub mod registry;
pub mod runtime;
pub mod settings;
pub mod store;
