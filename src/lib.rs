//! ecsdeploy: a declarative deployer for Amazon ECS.
//!
//! Data flows one way: spec → desired resources → observe live → diff → plan → execute → wait →
//! verify → report. This crate is the library behind the `ecsdeploy` binary and its tests.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod interrupt;
pub mod output;
pub mod plan;
pub mod resource;
pub mod spec;
