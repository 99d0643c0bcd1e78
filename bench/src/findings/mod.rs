//! The pieces of `findings-bench` (issue 6, BENCHMARKS.md): the generated register, the loader
//! that writes it into a database, and the bulk validation against a real server.

pub mod generator;
pub mod load;
pub mod review;
