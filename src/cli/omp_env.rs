//! Passive OpenMP waiting by default for the subcommands that run libtorch.
//!
//! libtorch's CPU kernels run on libgomp. Between parallel regions libgomp's idle threads spin
//! (300,000 iterations, a few ms) before they sleep; when another process wants the same CPUs,
//! those spinning threads take the CPU from the thread the barrier waits for, and a 2-thread
//! training run on 2 busy cores spent 90 % of its time spinning (issue #26 §5).
//! `OMP_WAIT_POLICY=PASSIVE` makes them sleep at once.
//!
//! libgomp reads its environment once, in its own constructor, before `main` runs. Neither
//! libgomp nor libtorch (nor tch) has a call that changes the wait policy or spin count later
//! (`set_num_threads` only sizes the pool; libgomp's spin count is a hidden variable). Setting
//! the variable from a `.preinit_array` hook does not work either: the hook runs before libc's
//! own initialisation, which resets `environ` to the process's original block. So [`apply`]
//! restarts the binary once (`exec` of `/proc/self/exe`, same arguments and process id) with
//! `OMP_WAIT_POLICY=PASSIVE` and a marker variable; the restarted process sees the marker,
//! takes both variables out of its environment again (so the programs pretext starts run as
//! the user's environment says), and carries on. It costs one more start of the binary (under
//! a second, for minutes of training), so only `train`, `eval`, `embed`, `localize` and
//! `bench train` restart. A user's own `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` is left alone.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set in the restarted process's environment: the restart happened (never restart twice).
const MARKER: &str = "PRETEXT_OMP_RESTARTED";

/// Whether pretext set `OMP_WAIT_POLICY` for this process (the user had set neither variable).
static SET_HERE: AtomicBool = AtomicBool::new(false);

/// Whether the command line `args` (without the program name) runs libtorch.
pub fn runs_libtorch(args: &[OsString]) -> bool {
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).take(2).collect();
    matches!(
        words.as_slice(),
        ["train" | "eval" | "embed" | "localize", ..] | ["bench", "train", ..]
    )
}

/// Whether the environment (as `(name, value)` pairs) already chooses how OpenMP threads wait.
pub fn user_chose(vars: impl IntoIterator<Item = (OsString, OsString)>) -> bool {
    vars.into_iter().any(|(k, _)| k == "OMP_WAIT_POLICY" || k == "GOMP_SPINCOUNT")
}

/// Restarts a libtorch subcommand with passive OpenMP waiting (see the module docs), or, in
/// the restarted process, restores the user's environment. Call first thing in `main`, while
/// the process has one thread. Returns only when no restart happens (or it failed).
pub fn apply() {
    if std::env::var_os(MARKER).is_some() {
        std::env::remove_var(MARKER);
        if std::env::var_os("OMP_WAIT_POLICY").is_some_and(|v| v == "PASSIVE") {
            std::env::remove_var("OMP_WAIT_POLICY");
            SET_HERE.store(true, Ordering::Relaxed);
        }
        return;
    }
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "pretext".into());
    let rest: Vec<OsString> = args.collect();
    if user_chose(std::env::vars_os()) || !runs_libtorch(&rest) {
        return;
    }
    restart(argv0, &rest);
}

#[cfg(unix)]
fn restart(argv0: OsString, rest: &[OsString]) {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(rest)
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .env(MARKER, "1")
        .exec();
    // `exec` returns only on failure: carry on with libgomp's default (spinning) waits.
    eprintln!(
        "note: could not restart with OMP_WAIT_POLICY=PASSIVE ({err}); idle OpenMP threads will \
         spin, which slows training on a busy machine (set OMP_WAIT_POLICY yourself to choose)"
    );
}

#[cfg(not(unix))]
fn restart(_argv0: OsString, _rest: &[OsString]) {}

/// Whether OpenMP threads were set to wait passively by pretext (not by the user).
pub fn set_here() -> bool {
    SET_HERE.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_libtorch_subcommands_restart() {
        assert!(runs_libtorch(&args(&["train", "--data", "toy"])));
        assert!(runs_libtorch(&args(&["bench", "train"])));
        assert!(runs_libtorch(&args(&["eval", "avc"])));
        assert!(!runs_libtorch(&args(&["bench", "decode"])));
        assert!(!runs_libtorch(&args(&["pairs", "train"])));
        assert!(!runs_libtorch(&args(&["--version"])));
        assert!(!runs_libtorch(&[]));
    }

    #[test]
    fn a_users_choice_is_kept() {
        let v = |k: &str| (OsString::from(k), OsString::from("x"));
        assert!(user_chose([v("PATH"), v("GOMP_SPINCOUNT")]));
        assert!(user_chose([v("OMP_WAIT_POLICY")]));
        assert!(!user_chose([v("PATH"), v("OMP_NUM_THREADS")]));
    }
}
