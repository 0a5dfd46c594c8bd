//! rreg-server: a self-hosted private Docker Hub speaking the OCI Distribution API.
//!
//! Calls go one way: `routes` (HTTP) → `services` (rules) → `db` (SQL) / `storage` (blobs).

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod pause;
pub mod routes;
pub mod services;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tls;
