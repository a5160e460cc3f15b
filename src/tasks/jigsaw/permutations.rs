//! The jigsaw task's classes: a set of permutations of the 9 tiles chosen by the greedy
//! maximum-Hamming algorithm of the reference code (bbrattoli/JigsawPuzzlePytorch
//! `select_permutations.py`, selection `max`, as Noroozi & Favaro describe it).
//!
//! The reference lists all 9! permutations in lexicographic order, takes a random one first,
//! then repeatedly appends the candidate whose Hamming distance to the rows chosen so far is
//! largest *on average* (`cdist(P, P_hat, 'hamming').mean(axis=0).argmax()`: the first of equal
//! values wins) and removes it from the candidates. Recomputing the whole distance matrix each
//! round, as the reference does, is O(N²·9!); here each candidate keeps its running sum of
//! distances (the same additions of k/9 in the same order, so the same doubles and the same
//! choices), which is O(N·9!) time and two 9!-long arrays of memory (6 MB) whatever N is: 2000
//! permutations take about two seconds. Permutations are packed one nibble per position, so a
//! distance is an xor and a popcount.
//!
//! The only random choice is the first permutation: here it is drawn from `seed`, so a set is
//! determined by `(size, seed)`. Sets are cached on disk (`$PRETEXT_CACHE_DIR/jigsaw`, else
//! `$XDG_CACHE_HOME/pretext/jigsaw`, else `~/.cache/pretext/jigsaw`), written atomically, and
//! checked when read (size, seed, every row a permutation, rows distinct, the first row the
//! seed's, a SHA-256 of the rows): a file that fails any check is regenerated with a note on
//! stderr, and a cache that cannot be written only costs the time to generate again.
//! `tests/golden/jigsaw_permutations.py` runs the reference loop for the numbers the tests
//! compare against.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// 9!: the number of orders of 9 tiles.
pub const ALL: usize = 362_880;

/// The smallest and largest set sizes accepted.
pub const SIZES: std::ops::RangeInclusive<usize> = 2..=10_000;

/// The sets this process has built, by (size, seed).
type Memo = HashMap<(usize, u64), Arc<PermutationSet>>;

/// One order of the 9 tiles: position `t` of the puzzle holds tile (cell) `p[t]`.
pub type Permutation = [u8; 9];

/// A set of permutations: the jigsaw task's classes, in the order they were chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermutationSet {
    seed: u64,
    rows: Vec<Permutation>,
}

impl PermutationSet {
    /// The set of `size` permutations for `seed`: from this process's memory, the disk cache
    /// (checked), or generated (and cached). Notes on a bad or unwritable cache go to stderr.
    pub fn get(size: usize, seed: u64) -> Result<Arc<Self>, String> {
        check_size(size)?;
        static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
        let memo = MEMO.get_or_init(Default::default);
        if let Some(set) = memo.lock().ok().and_then(|m| m.get(&(size, seed)).cloned()) {
            return Ok(set);
        }
        let (set, notes) = Self::load_or_generate(size, seed, cache_dir().as_deref())?;
        for note in notes {
            eprintln!("note: {note}");
        }
        let set = Arc::new(set);
        if let Ok(mut m) = memo.lock() {
            m.insert((size, seed), set.clone());
        }
        Ok(set)
    }

    /// The set of `size` permutations for `seed`, read from (or generated into) `dir` when
    /// given; also the notes on what was wrong with the cache.
    pub fn load_or_generate(
        size: usize,
        seed: u64,
        dir: Option<&Path>,
    ) -> Result<(Self, Vec<String>), String> {
        check_size(size)?;
        let mut notes = Vec::new();
        let Some(dir) = dir else {
            return Ok((Self::generate(size, seed), notes));
        };
        let path = dir.join(file_name(size, seed));
        match std::fs::read(&path) {
            Ok(bytes) => match CacheFile::verify(&bytes, size, seed) {
                Ok(set) => return Ok((set, notes)),
                Err(why) => notes.push(format!(
                    "{}: {why}; regenerating the jigsaw permutations",
                    path.display()
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => notes.push(format!("{}: {e}; regenerating", path.display())),
        }
        let set = Self::generate(size, seed);
        let written = std::fs::create_dir_all(dir)
            .map_err(|e| e.to_string())
            .and_then(|_| serde_json::to_vec(&CacheFile::of(&set)).map_err(|e| e.to_string()))
            .and_then(|b| crate::io::write_atomic(&path, &b).map_err(|e| e.to_string()));
        if let Err(e) = written {
            notes.push(format!("could not cache the jigsaw permutations: {e}"));
        }
        Ok((set, notes))
    }

    /// Generates the set of `size` permutations for `seed` (no cache).
    pub fn generate(size: usize, seed: u64) -> Self {
        PermutationSet { seed, rows: greedy_max_hamming(size, first_index(seed)) }
    }

    /// The permutations, in the order chosen (class `i` is row `i`).
    pub fn rows(&self) -> &[Permutation] {
        &self.rows
    }

    /// Number of permutations (classes).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the set is empty (never, for a built set).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The seed the first permutation was drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

fn check_size(size: usize) -> Result<(), String> {
    if SIZES.contains(&size) {
        Ok(())
    } else {
        Err(format!(
            "permutations {size} must lie in {}..={} (the published sets have 100, 1000 or 2000)",
            SIZES.start(),
            SIZES.end()
        ))
    }
}

/// Where sets are cached: `$PRETEXT_CACHE_DIR/jigsaw`, `$XDG_CACHE_HOME/pretext/jigsaw` or
/// `~/.cache/pretext/jigsaw`; `None` when none of these is set.
pub fn cache_dir() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = non_empty("PRETEXT_CACHE_DIR") {
        return Some(d.join("jigsaw"));
    }
    if let Some(d) = non_empty("XDG_CACHE_HOME") {
        return Some(d.join("pretext").join("jigsaw"));
    }
    non_empty("HOME").map(|h| h.join(".cache").join("pretext").join("jigsaw"))
}

fn file_name(size: usize, seed: u64) -> String {
    format!("hamming-max-{size}-seed{seed}.json")
}

/// The index (in lexicographic order of all 9!) of the first permutation for `seed`.
pub fn first_index(seed: u64) -> usize {
    ChaCha8Rng::seed_from_u64(seed).gen_range(0..ALL)
}

/// The permutation of rank `index` in lexicographic order (as `itertools.permutations` lists
/// them): the factorial number system.
pub fn nth_permutation(mut index: usize) -> Permutation {
    let mut left: Vec<u8> = (0..9).collect();
    let mut out = [0u8; 9];
    let mut f = ALL;
    for (i, slot) in out.iter_mut().enumerate() {
        f /= 9 - i;
        *slot = left.remove(index / f);
        index %= f;
    }
    out
}

/// The reference's greedy selection of `size` permutations starting from the permutation of
/// lexicographic rank `first`.
pub fn greedy_max_hamming(size: usize, first: usize) -> Vec<Permutation> {
    let packed = all_packed();
    let size = size.min(ALL);
    // k / 9 as cdist's Hamming distance gives it.
    let share: [f64; 10] = std::array::from_fn(|k| k as f64 / 9.0);
    let mut sums = vec![0.0f64; ALL];
    let mut chosen = Vec::with_capacity(size);
    let mut next = first.min(ALL - 1);
    loop {
        chosen.push(next);
        sums[next] = f64::NEG_INFINITY;
        if chosen.len() == size {
            break;
        }
        let last = packed[next];
        let mut max = f64::NEG_INFINITY;
        for (s, &p) in sums.iter_mut().zip(&packed) {
            *s += share[hamming(last, p) as usize];
            max = max.max(*s);
        }
        // The mean over the rows chosen so far, as numpy divides the sums: two sums may round to
        // the same mean, and then the first candidate wins. Only sums within a few ulps of the
        // largest can reach its mean, so the division is done for those alone.
        let n = chosen.len() as f64;
        let best = max / n;
        let near = max - max.abs() * 1e-12;
        next = sums.iter().position(|&s| s >= near && s / n == best).unwrap_or(0);
    }
    chosen.into_iter().map(|i| unpack(packed[i])).collect()
}

/// Positions at which two packed permutations differ.
fn hamming(a: u64, b: u64) -> u32 {
    let x = a ^ b;
    ((x | x >> 1 | x >> 2 | x >> 3) & 0x1_1111_1111).count_ones()
}

fn pack(p: &Permutation) -> u64 {
    p.iter().enumerate().fold(0u64, |acc, (i, &v)| acc | u64::from(v) << (4 * i))
}

fn unpack(x: u64) -> Permutation {
    std::array::from_fn(|i| ((x >> (4 * i)) & 0xf) as u8)
}

/// All 9! permutations, packed, in lexicographic order.
fn all_packed() -> Vec<u64> {
    let mut p: Permutation = std::array::from_fn(|i| i as u8);
    let mut out = Vec::with_capacity(ALL);
    loop {
        out.push(pack(&p));
        // Next permutation in lexicographic order.
        let Some(i) = (0..8).rev().find(|&i| p[i] < p[i + 1]) else { break };
        let j = (i + 1..9).rev().find(|&j| p[j] > p[i]).unwrap_or(i + 1);
        p.swap(i, j);
        p[i + 1..].reverse();
    }
    out
}

/// SHA-256 of the rows as int64 little-endian, row-major (what numpy's `P.astype('<i8')`
/// hashes to in the reference script).
pub fn rows_sha256(rows: &[Permutation]) -> String {
    let mut h = Sha256::new();
    for r in rows {
        for &v in r {
            h.update(i64::from(v).to_le_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache file.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    format: String,
    size: usize,
    seed: u64,
    first_index: usize,
    sha256: String,
    permutations: Vec<Vec<u8>>,
}

impl CacheFile {
    const FORMAT: &'static str = "pretext jigsaw permutations v1 (greedy max mean Hamming)";

    fn of(set: &PermutationSet) -> Self {
        CacheFile {
            format: Self::FORMAT.into(),
            size: set.len(),
            seed: set.seed,
            first_index: first_index(set.seed),
            sha256: rows_sha256(&set.rows),
            permutations: set.rows.iter().map(|r| r.to_vec()).collect(),
        }
    }

    /// The set a cache file holds, if it is the whole, right one.
    fn verify(bytes: &[u8], size: usize, seed: u64) -> Result<PermutationSet, String> {
        let f: CacheFile = serde_json::from_slice(bytes).map_err(|e| format!("unreadable: {e}"))?;
        if f.format != Self::FORMAT {
            return Err(format!("format '{}' is not '{}'", f.format, Self::FORMAT));
        }
        if (f.size, f.seed) != (size, seed) || f.permutations.len() != size {
            return Err(format!(
                "holds {} permutations of size {} and seed {}, not {size} of seed {seed}",
                f.permutations.len(),
                f.size,
                f.seed
            ));
        }
        let mut rows = Vec::with_capacity(size);
        for (i, r) in f.permutations.iter().enumerate() {
            let p: Permutation = r
                .as_slice()
                .try_into()
                .map_err(|_| format!("row {i} has {} entries, not 9", r.len()))?;
            let mut seen = [false; 9];
            for &v in &p {
                match seen.get_mut(usize::from(v)) {
                    Some(s) if !*s => *s = true,
                    _ => return Err(format!("row {i} {p:?} is not a permutation of 0..8")),
                }
            }
            rows.push(p);
        }
        let mut sorted: Vec<u64> = rows.iter().map(pack).collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err("a permutation is listed twice".into());
        }
        if rows.first() != Some(&nth_permutation(first_index(seed))) {
            return Err(format!("the first permutation is not seed {seed}'s"));
        }
        let sha = rows_sha256(&rows);
        if sha != f.sha256 {
            return Err(format!("rows hash to {sha}, the file says {}", f.sha256));
        }
        Ok(PermutationSet { seed, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimum and mean pairwise Hamming distance (positions that differ) of a set.
    fn distances(rows: &[Permutation]) -> (u32, f64) {
        let packed: Vec<u64> = rows.iter().map(pack).collect();
        let (mut min, mut sum, mut n) = (9, 0u64, 0u64);
        for (i, &a) in packed.iter().enumerate() {
            for &b in &packed[i + 1..] {
                let d = hamming(a, b);
                min = min.min(d);
                sum += u64::from(d);
                n += 1;
            }
        }
        (min, sum as f64 / n as f64)
    }

    fn golden() -> serde_json::Value {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/jigsaw_permutations.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn lexicographic_order_packing_and_distances() {
        let all = all_packed();
        assert_eq!(all.len(), ALL);
        assert_eq!(unpack(all[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(unpack(all[1]), [0, 1, 2, 3, 4, 5, 6, 8, 7]);
        assert_eq!(unpack(all[ALL - 1]), [8, 7, 6, 5, 4, 3, 2, 1, 0]);
        assert!(all.windows(2).all(|w| unpack(w[0]) < unpack(w[1])));
        for i in [0, 1, 5, 720, 40_319, 123_456, ALL - 1] {
            assert_eq!(nth_permutation(i), unpack(all[i]), "rank {i}");
        }
        let a = [0, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(hamming(pack(&a), pack(&a)), 0);
        assert_eq!(hamming(pack(&a), pack(&[1, 0, 2, 3, 4, 5, 6, 7, 8])), 2);
        assert_eq!(hamming(pack(&a), pack(&[8, 7, 6, 5, 4, 3, 2, 1, 0])), 8);
        assert_eq!(hamming(pack(&a), pack(&[1, 2, 3, 4, 5, 6, 7, 8, 0])), 9);
    }

    /// Started from the same first permutation as the reference run (numpy seed 0), the
    /// generator chooses exactly the reference's 100 rows, and for 1000 and 2000 rows the same
    /// set (by hash) with the same minimum and mean Hamming distances.
    #[test]
    fn the_greedy_set_is_the_reference_algorithms() {
        let g = golden();
        for size in [100, 1000, 2000] {
            let want = &g["sizes"][size.to_string()];
            let first = want["first_index"].as_u64().unwrap() as usize;
            let rows = greedy_max_hamming(size, first);
            assert_eq!(rows.len(), size);
            if size == 100 {
                let reference: Vec<Permutation> =
                    serde_json::from_value(want["rows"].clone()).unwrap();
                assert_eq!(rows, reference);
            }
            let (min, mean) = distances(&rows);
            assert_eq!(u64::from(min), want["min_hamming"].as_u64().unwrap(), "size {size}");
            assert!((mean - want["mean_hamming"].as_f64().unwrap()).abs() < 1e-9, "size {size}");
            assert_eq!(rows_sha256(&rows), want["sha256"].as_str().unwrap(), "size {size}");
        }
    }

    /// With the task's own seeds (a different first permutation), the sets have the minimum
    /// and mean distances the reference gives from its random first permutations.
    #[test]
    fn seeded_sets_have_the_reference_distances() {
        let g = golden();
        for size in [100, 1000] {
            let spread = &g["sizes"][size.to_string()]["seeds_0_9"];
            let (lo, hi) = (&spread["min_hamming"][0], &spread["min_hamming"][1]);
            let (mlo, mhi) = (
                spread["mean_hamming"][0].as_f64().unwrap(),
                spread["mean_hamming"][1].as_f64().unwrap(),
            );
            for seed in [0, 1] {
                let set = PermutationSet::generate(size, seed);
                let (min, mean) = distances(set.rows());
                assert!(
                    (lo.as_u64().unwrap()..=hi.as_u64().unwrap()).contains(&u64::from(min)),
                    "size {size} seed {seed}: min {min} outside {lo}..={hi}"
                );
                assert!(
                    mean >= mlo - 0.01 && mean <= mhi + 0.01,
                    "size {size} seed {seed}: mean {mean} outside [{mlo}, {mhi}]"
                );
                assert_eq!(set.rows()[0], nth_permutation(first_index(seed)));
            }
        }
    }

    #[test]
    fn sets_are_cached_checked_and_regenerated_when_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let (a, notes) = PermutationSet::load_or_generate(100, 7, Some(dir.path())).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let path = dir.path().join(file_name(100, 7));
        assert!(path.is_file());
        // Read back, not regenerated: a file with the right rows is trusted.
        let (b, notes) = PermutationSet::load_or_generate(100, 7, Some(dir.path())).unwrap();
        assert!(notes.is_empty() && a == b, "{notes:?}");
        assert_eq!(a, PermutationSet::generate(100, 7));
        // Another seed is another file and another set.
        let (c, _) = PermutationSet::load_or_generate(100, 8, Some(dir.path())).unwrap();
        assert_ne!(a, c);
        // Damaged files: cut short, a row edited (hash), a row not a permutation, rows swapped
        // (first row, hash), the wrong size; each is named and regenerated.
        let good = std::fs::read_to_string(&path).unwrap();
        let mut f: serde_json::Value = serde_json::from_str(&good).unwrap();
        let mut edited = f.clone();
        let absent = (0..ALL).map(nth_permutation).find(|p| !a.rows().contains(p)).unwrap();
        edited["permutations"][5] = serde_json::json!(absent);
        let mut repeated = f.clone();
        repeated["permutations"][5] = serde_json::json!([0, 0, 2, 3, 4, 5, 6, 8, 7]);
        let mut swapped = f.clone();
        let rows = swapped["permutations"].as_array_mut().unwrap();
        rows.swap(0, 1);
        f["size"] = serde_json::json!(99);
        for (bad, why) in [
            (good[..good.len() / 2].to_string(), "unreadable"),
            (edited.to_string(), "hash"),
            (repeated.to_string(), "not a permutation"),
            (swapped.to_string(), "first permutation"),
            (f.to_string(), "not 100"),
        ] {
            std::fs::write(&path, bad).unwrap();
            let (again, notes) =
                PermutationSet::load_or_generate(100, 7, Some(dir.path())).unwrap();
            assert_eq!(again, a);
            assert!(notes.len() == 1 && notes[0].contains(why), "{why}: {notes:?}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), good, "rewritten whole");
        }
        // An unwritable cache only costs a note.
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let (d, notes) = PermutationSet::load_or_generate(100, 7, Some(&file)).unwrap();
        assert_eq!(d, a);
        assert!(notes.iter().any(|n| n.contains("could not cache")), "{notes:?}");
        assert!(PermutationSet::load_or_generate(1, 7, None)
            .unwrap_err()
            .contains("permutations 1"));
    }
}
