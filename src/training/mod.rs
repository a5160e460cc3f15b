//! The task-generic training loop: batches stream in from the pipeline, one thread owns the
//! model and optimizer, checkpoints are atomic `.safetensors`, metrics go to `metrics.jsonl`.
