//! Integration tests for synth.
