//! Errors of the task registry and of task options.

/// A task could not be found or built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// No task of this name is registered.
    #[error(
        "unknown task '{name}': the registered tasks are {known} (`pretext tasks` lists them)"
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: String,
    },
    /// The task's options are invalid; the reason names the key.
    #[error("task {task}: {reason} (`pretext tasks` lists the options)")]
    Options {
        /// The task.
        task: String,
        /// What is wrong.
        reason: String,
    },
}
