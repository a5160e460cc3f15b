#!/usr/bin/env python3
"""Reference numbers for `pretext eval localize --protocol` (issue #27), computed with the
published scripts' own lines on small hand-made maps.

    ~/.cache/pretext/torch-2.11.0/bin/python scripts/protocol_reference.py

Needs torch and numpy (the project's venv has both); opencv-python is optional (the LVS row is
skipped without it). Each function below copies the arithmetic of one test script, line for
line where it matters, and is named after it:

- EZ-VSL `test.py` (stoneMo/EZ-VSL): F.interpolate(..., mode='bilinear', align_corners=True),
  utils.normalize_img, thr = np.sort(pred.flatten())[int(H * W * 0.5)], Evaluator.cal_CIOU
  (`infer >= thres`);
- SLAVC `test.py` (stoneMo/SLAVC): F.interpolate(..., mode='bicubic', align_corners=True); with
  --relative_prediction (the README's test command) normalize_img and the median at
  int(n * pred_size), pred_size = 0.5; without it (the script's default) pred = scores against
  pred_thr = 0.5; EvaluatorFull.update (`pred >= pred_thr`). The scores there are
  min_max_norm(logits, -1/tau, 1/tau) = (cos + 1)/2, which is what pretext's cosine map already
  holds, so the hand-made maps play the role of `scores`;
- LVS `test.py` (hche11/Localizing-Visual-Sounds-the-Hard-Way): cv2.resize(INTER_LINEAR),
  normalize_img(-heatmap), pred = 1 - heatmap, pred[pred > threshold] = 1, pred[pred < 1] = 0,
  Evaluator.cal_CIOU(pred, gt, 0.5);
- pretext before #27: bilinear with align_corners=False, then as EZ-VSL.

The numbers printed are the ones `src/evaluation/localization/protocol.rs` tests against.
"""
import numpy as np
import torch
import torch.nn.functional as F

try:
    import cv2
except ImportError:  # the LVS rows need OpenCV
    cv2 = None

N = 224


def normalize_img(value, vmax=None, vmin=None):  # EZ-VSL/SLAVC/LVS utils.py, verbatim
    vmin = value.min() if vmin is None else vmin
    vmax = value.max() if vmax is None else vmax
    if not (vmax - vmin) == 0:
        value = (value - vmin) / (vmax - vmin)  # vmin..vmax
    return value


def cal_ciou(infer, gtmap, thres):  # Evaluator.cal_CIOU, verbatim
    infer_map = np.zeros((224, 224))
    infer_map[infer >= thres] = 1
    ciou = np.sum(infer_map * gtmap) / (np.sum(gtmap) + np.sum(infer_map * (gtmap == 0)))
    return ciou, int(infer_map.sum())


def interpolate(coarse, mode, align_corners):
    x = torch.from_numpy(coarse.astype(np.float32))[None, None]
    return F.interpolate(x, size=(N, N), mode=mode, align_corners=align_corners).numpy()[0, 0]


def ezvsl(coarse, gt):
    pred = normalize_img(interpolate(coarse, "bilinear", True))
    thr = np.sort(pred.flatten())[int(pred.shape[0] * pred.shape[1] * 0.5)]
    return cal_ciou(pred, gt, thr)


def slavc(coarse, gt, relative):
    scores = interpolate(coarse, "bicubic", True)
    n = scores.size
    if relative:
        pred = normalize_img(scores)
        thr = np.sort(pred.flatten())[int(n * 0.5)]
    else:
        pred, thr = scores, 0.5
    return cal_ciou(pred, gt, thr)  # EvaluatorFull.update: infer[pred >= pred_thr] = 1


def lvs(coarse, gt, ipp=True):
    cv2.ipp.setUseIPP(ipp)
    heatmap_now = cv2.resize(coarse.astype(np.float32), dsize=(224, 224),
                             interpolation=cv2.INTER_LINEAR)
    heatmap_now = normalize_img(-heatmap_now)
    pred = 1 - heatmap_now
    threshold = np.sort(pred.flatten())[int(pred.shape[0] * pred.shape[1] / 2)]
    pred[pred > threshold] = 1
    pred[pred < 1] = 0
    return cal_ciou(pred, gt, 0.5)


def pretext_v1(coarse, gt):
    pred = normalize_img(interpolate(coarse, "bilinear", False))
    thr = np.sort(pred.flatten())[N * N // 2]
    return cal_ciou(pred, gt, thr)


def box(x0, y0, x1, y1):
    g = np.zeros((N, N))
    g[y0:y1, x0:x1] = 1
    return g


CASES = {
    # A lone peak in the middle of a 3x3 map: with align_corners=False the outer ring of the
    # 224 grid is exactly 0 on more than half the pixels, so the median is 0 and `>=` takes them.
    "peak": (np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float32), box(40, 60, 150, 180)),
    # Distinct values, no plateau: align_corners moves the median contour.
    "ramp": (np.array([[0.1, 0.5, 0.2], [0.4, 0.9, 0.3], [0.0, 0.6, 0.7]], np.float32),
             box(100, 90, 224, 224)),
}

if __name__ == "__main__":
    for name, (coarse, gt) in CASES.items():
        rows = [("ezvsl", ezvsl(coarse, gt)), ("slavc", slavc(coarse, gt, True)),
                ("slavc-absolute", slavc(coarse, gt, False)), ("pretext-v1", pretext_v1(coarse, gt))]
        if cv2 is not None:
            rows.append(("lvs", lvs(coarse, gt, ipp=False)))
            rows.append(("lvs (OpenCV with IPP)", lvs(coarse, gt, ipp=True)))
        for proto, (ciou, fg) in rows:
            print(f"{name:5} {proto:22} cIoU {ciou!r:22} foreground {fg}")
    # Bit-level checks of the upsampling (sum and a few pixels), for upsample.rs.
    m = np.array([[0.1, 0.5, 0.2], [0.4, 0.9, 0.3], [0.0, 0.6, 0.7]], np.float32)
    for mode, ac in [("bilinear", False), ("bilinear", True), ("bicubic", True)]:
        u = interpolate(m, mode, ac)
        print(mode, ac, [float(u[i, j]).hex() for i, j in [(0, 0), (5, 17), (100, 37), (223, 200)]],
              repr(float(u.astype(np.float64).sum())))
    if cv2 is not None:
        cv2.ipp.setUseIPP(False)
        u = cv2.resize(m, dsize=(224, 224), interpolation=cv2.INTER_LINEAR)
        print("cv2", [float(u[i, j]).hex() for i, j in [(0, 0), (5, 17), (100, 37), (223, 200)]],
              repr(float(u.astype(np.float64).sum())))
