//! End-to-end tests for CAVS live in `tests/`.
