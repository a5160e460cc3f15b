//! tch networks: vision and audio towers ending in 128-D embeddings, and the heads that fuse
//! them (L3 concatenation, AVE-Net distance, AVOL-Net per-location similarity).
