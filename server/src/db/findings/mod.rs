//! The queries of the automatic checks: what the rules read ([`context`]) and where their
//! findings and the reviewers' acknowledgements are kept ([`store`]).

pub mod context;
pub mod store;
