//! A trained (or untrained) model wrapped for localisation: examples in (the task's `frames`
//! and `spec` fields, as [`crate::pipeline::InputReader`] makes them), one score map per
//! example out, values in [0, 1].
//!
//! - The model is any task model with localisation maps ([`TaskModel::localizer`]; the AVC and
//!   localisation tasks have them). By default a map is the cosine of each location's embedding
//!   with the audio embedding, mapped to [0, 1] as `(cos + 1)/2` so confidences are comparable
//!   across samples (SLAVC uses a fixed range the same way); the AVOL head's own `σ(logit)` map
//!   can be chosen instead ([`Localizer::with_head_map`]).
//! - The model and its tensors live on the thread that built the localizer.

use tch::{nn::VarStore, Device, Kind};

use crate::evaluation::{EvaluationError as Error, Result};
use crate::pipeline::{pack, Example, FieldSpec, InputSpec};
use crate::training::{TaskModel, TensorBatch, TrainingError};

/// A score map of one frame: `height × width` values in [0, 1], row-major.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoreMap {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Values.
    pub values: Vec<f32>,
}

/// A model ready to produce localisation maps.
pub struct Localizer {
    _vs: VarStore,
    model: Box<dyn TaskModel>,
    input: InputSpec,
    name: String,
    device: Device,
}

impl std::fmt::Debug for Localizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localizer").field("model", &self.name).finish_non_exhaustive()
    }
}

impl Localizer {
    /// Wraps a task model (whose variables live in `vs`) that sees `input`; `name` names it in
    /// messages. An error when the task has no localisation maps, or stacks several frames.
    pub fn new(
        vs: VarStore,
        model: Box<dyn TaskModel>,
        input: InputSpec,
        name: &str,
        device: Device,
    ) -> Result<Self> {
        if model.localizer().is_none() {
            return Err(Error::Config(format!(
                "{name}: this task's model draws no localisation maps (train the avc or \
                 localize task)"
            )));
        }
        if input.frames != 1 {
            return Err(Error::Config(format!(
                "localisation needs a single-frame model, {name} stacks {} frames",
                input.frames
            )));
        }
        Ok(Localizer { _vs: vs, model, input, name: name.to_string(), device })
    }

    /// Scores locations with the AVOL head's own σ map instead of the cosine (`false`: the
    /// cosine, the default).
    pub fn with_head_map(mut self, head: bool) -> Self {
        self.model.set_map_score(head);
        self
    }

    /// What the model sees.
    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// The fields a localisation example holds.
    fn fields(&self) -> Vec<FieldSpec> {
        let s = self.input.frame_size as usize;
        let (f, t) = self.input.spec_shape();
        vec![FieldSpec::f32("frames", &[3, s, s]), FieldSpec::f32("spec", &[1, f, t])]
    }

    /// One score map per example (each with a `frames` `[3, S, S]` and a `spec` `[1, F, T]`
    /// field; other fields are ignored).
    pub fn score_maps(&mut self, examples: &[&Example]) -> Result<Vec<ScoreMap>> {
        if examples.is_empty() {
            return Ok(Vec::new());
        }
        let specs = self.fields();
        let mut picked: Vec<Example> = examples
            .iter()
            .map(|e| {
                let fields = specs
                    .iter()
                    .map(|s| {
                        e.field(&s.name).cloned().ok_or_else(|| {
                            Error::Config(format!(
                                "example {} has no '{}' field",
                                e.meta.seq, s.name
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Example { meta: e.meta.clone(), fields })
            })
            .collect::<Result<_>>()?;
        let batch = pack(&mut picked, &specs)?;
        let _guard = tch::no_grad_guard();
        let tb = TensorBatch::from_batch(&batch, self.device)?;
        let loc =
            self.model.localizer().ok_or_else(|| Error::Config("no localisation maps".into()))?;
        let map = loc.maps(&tb)?.f_to_kind(Kind::Float)?;
        let map = if loc.map_is_probability() {
            map
        } else {
            map.f_add_scalar(1.0)?.f_mul_scalar(0.5)?
        };
        let map = map.f_to(Device::Cpu)?.f_contiguous()?;
        let size = map.size();
        let (h, w) = match size.as_slice() {
            [_, h, w] => (*h as usize, *w as usize),
            _ => return Err(TrainingError::Batch(format!("map of shape {size:?}")).into()),
        };
        let values = Vec::<f32>::try_from(&map.f_flatten(0, -1)?)?;
        Ok(values
            .chunks_exact(h * w)
            .map(|c| ScoreMap { height: h, width: w, values: c.to_vec() })
            .collect())
    }
}
