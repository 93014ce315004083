//! Fake remote services for tests and end-to-end runs. Each fake speaks the real service's
//! protocol (paths, headers, JSON shapes, error bodies) closely enough that our real
//! clients cannot tell the difference, and keeps its data in memory.

pub mod daytona;
pub mod git_http;
pub mod github;
