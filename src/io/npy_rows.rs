//! A `.npy` f32 matrix written one row block at a time, for arrays too big to hold whole (a
//! layer's features over a whole split). The header is written first with room for any row
//! count (padded to 128 bytes, which `numpy.load` accepts: the format only asks for a multiple
//! of 64) and rewritten with the real count on [`NpyRowWriter::finish`]; the file is written under
//! a temporary name and renamed then, so a killed run never leaves a short array under the
//! final name.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::IoError;

/// Bytes of the fixed-size header.
const HEADER: usize = 128;

fn header(rows: usize, cols: usize) -> Vec<u8> {
    let mut dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let pad = HEADER - 10 - 1 - dict.len();
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let mut out = Vec::with_capacity(HEADER);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// An `[N, cols]` f32 `.npy` being written row by row.
pub struct NpyRowWriter {
    target: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
    cols: usize,
    rows: usize,
}

impl std::fmt::Debug for NpyRowWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpyRowWriter")
            .field("target", &self.target)
            .field("cols", &self.cols)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl NpyRowWriter {
    /// Starts `target` (its folder must exist) for rows of `cols` values.
    pub fn create(target: &Path, cols: usize) -> Result<Self, IoError> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| IoError::os(target, e))?;
        let mut writer = BufWriter::new(file);
        writer.write_all(&header(0, cols)).map_err(|e| IoError::os(target, e))?;
        Ok(NpyRowWriter { target: target.to_path_buf(), tmp, writer: Some(writer), cols, rows: 0 })
    }

    /// Appends rows (`data.len()` must be a multiple of the row width).
    pub fn push(&mut self, data: &[f32]) -> Result<(), IoError> {
        if self.cols == 0 || data.len() % self.cols != 0 {
            return Err(IoError::Format {
                path: self.target.clone(),
                format: "npy",
                reason: format!("{} values are not whole rows of {}", data.len(), self.cols),
            });
        }
        let w = self.writer.as_mut().ok_or_else(|| IoError::Format {
            path: self.target.clone(),
            format: "npy",
            reason: "already finished".into(),
        })?;
        let mut bytes = Vec::with_capacity(data.len() * 4);
        for v in data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        w.write_all(&bytes).map_err(|e| IoError::os(&self.target, e))?;
        self.rows += data.len() / self.cols;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Writes the real row count into the header, syncs and renames onto the target.
    pub fn finish(mut self) -> Result<usize, IoError> {
        let w = self.writer.take().ok_or_else(|| IoError::Format {
            path: self.target.clone(),
            format: "npy",
            reason: "already finished".into(),
        })?;
        let mut file = w.into_inner().map_err(|e| IoError::os(&self.target, e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| IoError::os(&self.target, e))?;
        file.write_all(&header(self.rows, self.cols)).map_err(|e| IoError::os(&self.target, e))?;
        file.sync_all().map_err(|e| IoError::os(&self.target, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| IoError::os(&self.target, e))?;
        Ok(self.rows)
    }
}

impl Drop for NpyRowWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_in_blocks_read_back_as_one_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npy");
        let mut w = NpyRowWriter::create(&p, 3).unwrap();
        w.push(&[1.0, 2.0, 3.0]).unwrap();
        w.push(&[4.0, 5.0, 6.0, 7.0, 8.0, 9.0]).unwrap();
        assert!(w.push(&[1.0]).is_err());
        assert!(!p.exists(), "nothing under the final name before finish");
        assert_eq!(w.finish().unwrap(), 3);
        let a = super::super::read_npy_f32(&p).unwrap();
        assert_eq!(a.shape, vec![3, 3]);
        assert_eq!(a.data, (1..=9).map(|v| v as f32).collect::<Vec<_>>());
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len(), HEADER + 9 * 4);
        let dropped = NpyRowWriter::create(&dir.path().join("d.npy"), 2).unwrap();
        drop(dropped);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
