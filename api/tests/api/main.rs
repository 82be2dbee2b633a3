//! Integration tests of the REST API on an in-memory store, through poem's test client, with
//! a test pipeline on the real recognizer.

mod common;

mod attendance;
mod auth;
mod consent;
mod devices;
mod enroll;
mod errors;
mod lifecycle;
mod retention;
mod review_aids;
mod roles;
mod scoping;
mod students;
