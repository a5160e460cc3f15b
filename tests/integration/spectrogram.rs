//! Integration tests for spectrogram.
