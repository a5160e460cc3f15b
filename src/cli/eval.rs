//! `pretext eval`: evaluation subcommands (each in its own file).

use std::process::ExitCode;

/// Evaluate a trained model.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The task's own metrics (AVC accuracy and ROC AUC, frame-order balanced accuracy,
    /// rotation accuracy, ...) on held-out files, next to the policy the examples were drawn by.
    Task(super::eval_task::Args),
    /// Sound-source localisation (cIoU, AUC, pointing game, AP) against the centre prior and an
    /// untrained model.
    ///
    /// Each coarse map is upsampled to 224×224 and cut into foreground exactly as the --protocol's
    /// test script does (default: EZ-VSL test.py, bilinear with align_corners=True, min-max
    /// normalised, foreground where P >= the median); cIoU = Σ(B·G)/(ΣG + Σ B·[G=0]). Reported:
    /// "cIoU@0.5" (share of visible samples with cIoU ≥ 0.5, the literature's headline number),
    /// mean cIoU, AUC of the success rate over thresholds 0..1 step 0.05, the pointing game
    /// (TorchRay's: the arg-max within 15 px of the ground truth, see --pointing-tolerance), and
    /// SLAVC's AP, max-F1 and precision over all samples, where clips whose sound is silent or
    /// off-screen are negatives and confidence is the mean of the top quarter of the map. The
    /// report names the protocol and its parameters.
    ///
    /// Layouts: synth: --data is the world's folder, --annotations its annotations.jsonl (the test
    /// split by default). flickr/vggss: --data holds frames/NAME.jpg and audio/NAME.wav.
    Localize(super::eval_localize::Args),
    /// Per-layer linear probes, weighted kNN and retrieval of a checkpoint's frozen features,
    /// both modalities, with a random-init (--untrained) or supervised (--supervised) baseline.
    Probe(super::eval_probe::Args),
    /// One table (Markdown + JSON) and one plot (probe accuracy against layer depth) of several
    /// `eval probe` reports.
    Compare(super::eval_compare::Args),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Task(a) => super::eval_task::run(a),
        Command::Localize(a) => super::eval_localize::run(a),
        Command::Probe(a) => super::eval_probe::run(a),
        Command::Compare(a) => super::eval_compare::run(a),
    }
}
