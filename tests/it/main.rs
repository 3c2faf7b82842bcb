//! The one integration-test binary. Spec tests run the real binary and need no emulator; the
//! others run against the local AWS world (moto + the ECS control-plane simulator).

mod adopt;
mod bad_input;
mod capacity;
mod consistency;
mod day2;
mod faults;
mod messages;
mod network;
mod ownership;
mod signals;
mod spec_corpus;
mod stack_capacity;
mod stack_services;
mod support;
mod teardown;
mod world_behaviour;
