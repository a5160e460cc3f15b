//! Pretext tasks as plug-ins of the one pipeline: each task chooses what to read from a file
//! (a sampler) and how decoded pieces become labelled examples (an assembler).

pub mod localize;
