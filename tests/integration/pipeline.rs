//! Integration tests for pipeline.
