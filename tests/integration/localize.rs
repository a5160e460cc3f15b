//! Integration tests for localize.
