//! NumPy `.npy` (format 1.0) for little-endian f32 and i64 arrays in C order: what Python's
//! `numpy.load` reads unchanged, and what the golden tests compare against.

use std::path::Path;

use super::{write_atomic, IoError};

/// An f32 array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // magic(6) + version(2) + len(2) + dict + '\n' must be a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Encodes an f32 array as `.npy` bytes.
pub fn npy_f32_bytes(shape: &[usize], data: &[f32]) -> Vec<u8> {
    assert_eq!(shape.iter().product::<usize>(), data.len(), "npy shape does not match data");
    let mut out = header("<f4", shape);
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes an f32 array atomically. Panics if `shape` does not match `data.len()`.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), IoError> {
    write_atomic(path, &npy_f32_bytes(shape, data))
}

/// Encodes an i64 array as `.npy` bytes.
pub fn npy_i64_bytes(shape: &[usize], data: &[i64]) -> Vec<u8> {
    assert_eq!(shape.iter().product::<usize>(), data.len(), "npy shape does not match data");
    let mut out = header("<i8", shape);
    out.reserve(data.len() * 8);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes an i64 array atomically. Panics if `shape` does not match `data.len()`.
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), IoError> {
    write_atomic(path, &npy_i64_bytes(shape, data))
}

/// Reads a little-endian f32 or f64 C-order `.npy` file (f64 is converted to f32).
pub fn read_npy_f32(path: &Path) -> Result<NpyArray, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
    parse(&bytes).map_err(|reason| IoError::Format {
        path: path.to_path_buf(),
        format: "npy",
        reason,
    })
}

fn parse(bytes: &[u8]) -> Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(format!("unsupported format version {v}")),
    };
    let dict = bytes.get(start..start + hlen).ok_or("header is truncated")?;
    let dict = std::str::from_utf8(dict).map_err(|_| "header is not text")?;
    let field = |key: &str| -> Result<&str, String> {
        let at = dict.find(key).ok_or(format!("header has no {key}"))?;
        Ok(dict[at + key.len()..].trim_start_matches([':', ' ', '\'']))
    };
    let descr = field("'descr'")?;
    let width = if descr.starts_with("<f4") {
        4
    } else if descr.starts_with("<f8") {
        8
    } else {
        return Err(format!("unsupported dtype {}", &descr[..descr.len().min(6)]));
    };
    if field("'fortran_order'")?.starts_with("True") {
        return Err("Fortran order is not supported".into());
    }
    let shape_text = field("'shape'")?;
    let close = shape_text.find(')').ok_or("malformed shape")?;
    let shape = shape_text[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad dimension '{s}'")))
        .collect::<Result<Vec<_>, _>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[start + hlen..];
    if body.len() != count * width {
        return Err(format!("body has {} bytes, shape needs {}", body.len(), count * width));
    }
    let data = if width == 4 {
        body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    } else {
        body.chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect()
    };
    Ok(NpyArray { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        write_npy_f32(&path, &[2, 3, 4], &data).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let back = read_npy_f32(&path).unwrap();
        assert_eq!(back.shape, vec![2, 3, 4]);
        assert_eq!(back.data, data);
    }

    #[test]
    fn rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npy");
        std::fs::write(&path, b"hello").unwrap();
        assert!(matches!(read_npy_f32(&path), Err(IoError::Format { .. })));
    }
}
