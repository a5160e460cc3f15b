#!/usr/bin/env python3
"""Reference numbers for the jigsaw task's permutation sets (src/tasks/jigsaw/permutations.rs).

    ~/.cache/pretext/torch-2.11.0/bin/python tests/golden/jigsaw_permutations.py > \
        tests/golden/jigsaw_permutations.json

The reference is bbrattoli/JigsawPuzzlePytorch `select_permutations.py --selection max`: all 9!
permutations of 0..8 in `itertools.permutations` (lexicographic) order; the first is
`np.random.randint(9!)`; then, greedily, the candidate with the largest mean Hamming distance
(`scipy.spatial.distance.cdist(P, P_hat, 'hamming').mean(axis=0)`, i.e. the share of differing
positions averaged over the rows chosen so far) is appended, `argmax` taking the first of equal
values, and removed from the candidates. Its only random choice is the first permutation.

`reference()` runs that loop as written, with cdist's Hamming distance computed by numpy (scipy
is not installed here): `(p != P_hat).mean(axis=1)` is k/9 in double precision, as cdist's is.
`incremental()` keeps the column sums of the distance matrix instead of recomputing it (the same
additions in the same row order, so the same doubles; numpy reduces a non-contiguous axis row by
row): it is checked to choose the very same rows as `reference()` for size 100, and gives the
numbers for 1000 and 2000 in seconds rather than hours. The Rust generator implements the
incremental form.

Printed (JSON): for each size, the first index numpy's seed 0 draws and the set's minimum and
mean pairwise Hamming distance (positions that differ, 0..9) and its rows' SHA-256 (int64,
row-major); for size 100 also the rows themselves; and the spread of the minimum and mean over
first indices drawn by numpy seeds 0..9 ("the reference's distribution": its first permutation
is random).
"""
import hashlib
import itertools
import json
import sys

import numpy as np

N_FACT = 362880


def all_permutations():
    return np.array(list(itertools.permutations(list(range(9)), 9)))


def cdist_hamming(P, P_hat):
    return np.stack([(p != P_hat).mean(axis=1) for p in P])


def reference(classes, seed):
    """select_permutations.py (selection 'max') as written, numpy's seed `seed`."""
    np.random.seed(seed)
    P_hat = all_permutations()
    n = P_hat.shape[0]
    for i in range(classes):
        if i == 0:
            j = np.random.randint(n)
            P = np.array(P_hat[j]).reshape([1, -1])
        else:
            P = np.concatenate([P, P_hat[j].reshape([1, -1])], axis=0)
        P_hat = np.delete(P_hat, j, axis=0)
        D = cdist_hamming(P, P_hat).mean(axis=0).flatten()
        j = D.argmax()
    return P


def first_index(seed):
    np.random.seed(seed)
    return int(np.random.randint(N_FACT))


def incremental(classes, first):
    """The same selection with running column sums (removed candidates at -inf)."""
    P_hat = all_permutations()
    sums = np.zeros(P_hat.shape[0])
    chosen = [first]
    sums[first] = -np.inf
    while len(chosen) < classes:
        sums += (P_hat[chosen[-1]] != P_hat).mean(axis=1)
        j = int((sums / len(chosen)).argmax())
        chosen.append(j)
        sums[j] = -np.inf
    return P_hat[chosen]


def stats(P):
    d = (P[:, None, :] != P[None, :, :]).sum(axis=2)
    off = d[~np.eye(len(P), dtype=bool)]
    return {
        "min_hamming": int(off.min()),
        "mean_hamming": float(off.mean()),
        "sha256": hashlib.sha256(P.astype("<i8").tobytes()).hexdigest(),
    }


def main():
    out = {"sizes": {}}
    ref100 = reference(100, 0)
    inc100 = incremental(100, first_index(0))
    if not np.array_equal(ref100, inc100):
        sys.exit("the incremental form disagrees with the reference loop at size 100")
    for size in (100, 1000, 2000):
        P = ref100 if size == 100 else incremental(size, first_index(0))
        entry = {"numpy_seed": 0, "first_index": first_index(0), **stats(P)}
        if size == 100:
            entry["rows"] = P.tolist()
        spread = [stats(incremental(size, first_index(s))) for s in range(10)]
        mins = [s["min_hamming"] for s in spread]
        means = [s["mean_hamming"] for s in spread]
        entry["seeds_0_9"] = {
            "min_hamming": [min(mins), max(mins)],
            "mean_hamming": [min(means), max(means)],
        }
        out["sizes"][str(size)] = entry
        print(f"size {size}: {entry['min_hamming']} {entry['mean_hamming']:.4f} "
              f"{entry['seeds_0_9']}", file=sys.stderr)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
