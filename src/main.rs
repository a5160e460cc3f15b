//! The `pretext` command line: a thin clap front end over the library.
//!
//! Each subcommand lives in `src/cli/<name>.rs`, turns its flags into the library's validated
//! config structs, and returns an exit code. Errors are printed with their whole cause chain;
//! a closed stdout (`pretext probe DIR | head`) is not an error.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    #[cfg(feature = "torch")]
    cli::omp_env::apply();
    cli::tune_allocator();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
