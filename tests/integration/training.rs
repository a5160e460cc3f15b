//! Integration tests for training.
