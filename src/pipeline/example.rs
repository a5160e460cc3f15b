//! Examples as named fields: each task declares what one example holds (`frames [K,3,H,W]`,
//! `spec [1,F,T]`, `label []`, `tiles [9,3,t,t]`, ...) with a dtype and a shape, its assembler
//! fills them, and the batcher stacks every declared field into `[B, ...]`, checking shapes. The
//! trainer, the shard writer and the tools read fields by name, so a new task adds fields
//! without touching any of them.

use serde::{Deserialize, Serialize};

use super::SampleMeta;

/// Element type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float (pixels, spectrograms, regression targets).
    F32,
    /// 64-bit integer (class labels, indices).
    I64,
}

/// A declared field of one example: name, dtype and per-example shape (`[]` for a scalar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    /// Name (`frames`, `spec`, `label`, ...).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Shape of one example's value.
    pub shape: Vec<usize>,
}

impl FieldSpec {
    /// An f32 field.
    pub fn f32(name: &str, shape: &[usize]) -> Self {
        FieldSpec { name: name.into(), dtype: DType::F32, shape: shape.to_vec() }
    }

    /// An i64 field.
    pub fn i64(name: &str, shape: &[usize]) -> Self {
        FieldSpec { name: name.into(), dtype: DType::I64, shape: shape.to_vec() }
    }

    /// Values per example.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The values of a field (one example's, or a whole batch's).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// f32 values.
    F32(Vec<f32>),
    /// i64 values.
    I64(Vec<i64>),
}

impl Values {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            Values::F32(_) => DType::F32,
            Values::I64(_) => DType::I64,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::I64(v) => v.len(),
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empty values of `dtype` with room for `n`.
    pub fn with_capacity(dtype: DType, n: usize) -> Self {
        match dtype {
            DType::F32 => Values::F32(Vec::with_capacity(n)),
            DType::I64 => Values::I64(Vec::with_capacity(n)),
        }
    }

    /// Appends `other` (same dtype; checked by the caller).
    fn extend(&mut self, other: &Values) -> bool {
        match (self, other) {
            (Values::F32(a), Values::F32(b)) => a.extend_from_slice(b),
            (Values::I64(a), Values::I64(b)) => a.extend_from_slice(b),
            _ => return false,
        }
        true
    }
}

/// One field of one example.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Its declared name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Values,
}

impl Field {
    /// An f32 field.
    pub fn f32(name: &str, shape: &[usize], values: Vec<f32>) -> Self {
        Field { name: name.into(), shape: shape.to_vec(), values: Values::F32(values) }
    }

    /// An i64 field.
    pub fn i64(name: &str, shape: &[usize], values: Vec<i64>) -> Self {
        Field { name: name.into(), shape: shape.to_vec(), values: Values::I64(values) }
    }

    /// A scalar class label.
    pub fn label(name: &str, class: i64) -> Self {
        Field::i64(name, &[], vec![class])
    }

    /// Whether this field matches `spec` (name, dtype, shape and value count).
    pub fn check(&self, spec: &FieldSpec) -> Result<(), String> {
        if self.name != spec.name {
            return Err(format!("field '{}' where '{}' was declared", self.name, spec.name));
        }
        if self.values.dtype() != spec.dtype {
            return Err(format!(
                "field '{}' holds {:?} values, declared {:?}",
                self.name,
                self.values.dtype(),
                spec.dtype
            ));
        }
        if self.shape != spec.shape {
            return Err(format!(
                "field '{}' has shape {:?}, declared {:?}",
                self.name, self.shape, spec.shape
            ));
        }
        if self.values.len() != spec.numel() {
            return Err(format!(
                "field '{}' of shape {:?} holds {} values",
                self.name,
                self.shape,
                self.values.len()
            ));
        }
        Ok(())
    }
}

/// A finished example: its reproduction record and its fields, in declared order.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Reproduction record.
    pub meta: SampleMeta,
    /// The fields.
    pub fields: Vec<Field>,
}

impl Example {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A field stacked over a batch: shape `[B, ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchField {
    /// Its name.
    pub name: String,
    /// `[B, ...declared shape]`.
    pub shape: Vec<usize>,
    /// The values, example after example.
    pub values: Values,
}

/// Stacks examples into batch fields, checking each against the declared `specs`.
pub fn stack(specs: &[FieldSpec], examples: &[Example]) -> Result<Vec<BatchField>, String> {
    let b = examples.len();
    let mut out: Vec<BatchField> = specs
        .iter()
        .map(|s| {
            let mut shape = vec![b];
            shape.extend_from_slice(&s.shape);
            BatchField {
                name: s.name.clone(),
                shape,
                values: Values::with_capacity(s.dtype, b * s.numel()),
            }
        })
        .collect();
    for e in examples {
        if e.fields.len() != specs.len() {
            return Err(format!(
                "example {} has {} fields, the task declares {} ({})",
                e.meta.seq,
                e.fields.len(),
                specs.len(),
                specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        for ((f, s), o) in e.fields.iter().zip(specs).zip(out.iter_mut()) {
            f.check(s).map_err(|m| format!("example {}: {m}", e.meta.seq))?;
            o.values.extend(&f.values);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(seq: u64, frames: Vec<f32>, label: i64) -> Example {
        Example {
            meta: SampleMeta { seq, ..Default::default() },
            fields: vec![Field::f32("frames", &[2, 2], frames), Field::label("label", label)],
        }
    }

    #[test]
    fn stacking_checks_every_declared_field() {
        let specs = vec![FieldSpec::f32("frames", &[2, 2]), FieldSpec::i64("label", &[])];
        let a = example(0, vec![1.0, 2.0, 3.0, 4.0], 1);
        let b = example(1, vec![5.0, 6.0, 7.0, 8.0], 0);
        let out = stack(&specs, &[a.clone(), b]).unwrap();
        assert_eq!(out[0].shape, vec![2, 2, 2]);
        assert_eq!(out[0].values, Values::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]));
        assert_eq!(
            (out[1].shape.clone(), out[1].values.clone()),
            (vec![2], Values::I64(vec![1, 0]))
        );
        // A wrong shape, a wrong dtype, a wrong count, a missing field: errors naming them.
        let mut bad = a.clone();
        bad.fields[0].shape = vec![4];
        assert!(stack(&specs, &[bad]).unwrap_err().contains("shape [4]"));
        let mut bad = a.clone();
        bad.fields[1] = Field::f32("label", &[], vec![1.0]);
        assert!(stack(&specs, &[bad]).unwrap_err().contains("F32"));
        let mut bad = a.clone();
        bad.fields[0].values = Values::F32(vec![1.0]);
        assert!(stack(&specs, &[bad]).unwrap_err().contains("holds 1 values"));
        let mut bad = a;
        bad.fields.pop();
        assert!(stack(&specs, &[bad]).unwrap_err().contains("declares 2"));
    }
}
