//! Integration tests for media.
