//! The tables of Upstream Agents as SeaORM entities.
//!
//! Entities only describe rows. Finders and rules live in the domain crate beside them, so
//! that these files stay plain data. Sealed columns hold text produced by the domain's
//! sealer (`key id`, nonce and ciphertext); they never hold a secret in the clear.

pub mod branch;
pub mod credential;
pub mod enums;
pub mod message;
pub mod repository;
pub mod run;
pub mod run_event;
pub mod sandbox;
pub mod session;
pub mod user;

pub use enums::*;
