"""PyTorch re-implementation of pretext's VGG-tower AVC models (the `quick` and `l3` presets,
all three heads), loading a pretext `.safetensors` checkpoint unchanged.

  python docs/python_reference.py check RUN/checkpoints/best.safetensors [--pretext BIN]
      random input -> pretext embed --frames-npy/--specs-npy -> logits.npy; same input through
      this model; prints the max |difference| and exits 1 above 1e-4.
  python docs/python_reference.py bench [--steps N --batch B --threads T --device cpu|cuda]
                                      [--data DIR... --workers W]
      trains the quick model on in-memory batches, or with --data on batches made the
      benches/python/pairs_ref.py way in W DataLoader workers, and prints `samples_per_s X` and
      `data_wait_share Y` (the reference side of `pretext bench train --python`).
"""
import argparse, json, subprocess, sys, tempfile, time, os
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from safetensors.torch import load_file

class Tower(nn.Module):  # VarStore paths: block{i}.conv{j}, block{i}.bn{j}, proj
    def __init__(s, cin, chans, convs, emb, steps=0):
        super().__init__(); s.n = len(chans); s.convs = convs; s.steps = steps
        for i, c in enumerate(chans):
            b = nn.Module(); setattr(s, f"block{i}", b)
            for j in range(convs):
                setattr(b, f"conv{j}", nn.Conv2d(cin, c, 3, padding=1, bias=False)); setattr(b, f"bn{j}", nn.BatchNorm2d(c)); cin = c
        s.proj = nn.Linear(cin * max(steps, 1), emb)
    def fmap(s, x):
        for i in range(s.n):
            b = getattr(s, f"block{i}")
            for j in range(s.convs): x = F.relu(getattr(b, f"bn{j}")(getattr(b, f"conv{j}")(x)))
            if i < s.n - 1: x = F.max_pool2d(x, 2)
        return x
    def pool(s, m):  # global max, or time kept: max over frequency, adaptive max to `steps`
        return F.adaptive_max_pool2d(m.amax(2, keepdim=True), (1, s.steps)).flatten(1) if s.steps else m.amax((2, 3))
    def forward(s, x): return s.proj(s.pool(s.fmap(x)))

class AvcNet(nn.Module):  # paths: vision.*, audio.*, head.*
    def __init__(s, m):
        super().__init__(); e, h, s.kind, s.cfg_head = m["head"]["embedding"], m["head"]["hidden"], m["head"]["kind"], m["head"]
        s.vision = Tower(3 * m["input"]["frames"], m["vision"]["channels"], m["vision"]["convs_per_block"], e)
        s.audio = Tower(1, m["audio"]["channels"], m["audio"]["convs_per_block"], e, m["audio"].get("time_steps", 0))
        s.head = nn.Module(); d = m["head"].get("sync", 0)
        if d:  # synchrony term: head.sync.{vis,aud}
            s.k, s.d = m["audio"]["time_steps"], d; s.head.sync = nn.Module()
            s.head.sync.vis, s.head.sync.aud = nn.Linear(m["vision"]["channels"][-1], s.k * d), nn.Linear(m["audio"]["channels"][-1], d)
        if s.kind == "l3": s.head.fc1, s.head.fc2 = nn.Linear(2 * e, h), nn.Linear(h, 2)
        elif s.kind == "ave": s.head.fc = nn.Linear(1, 2)
        else: s.head.calib_w, s.head.calib_b = nn.Parameter(torch.ones(1)), nn.Parameter(torch.zeros(1))
    def forward(s, frames, specs):
        vp, ap = s.vision.pool(s.vision.fmap(frames)), s.audio.pool(s.audio.fmap(specs))
        logits = s.fused(s.vision.proj(vp), s.audio.proj(ap), frames)
        if not hasattr(s.head, "sync"): return logits
        b = vp.shape[0]; c = lambda x: x - x.mean(1, keepdim=True)
        v = s.head.sync.vis(vp).reshape(b, s.k, s.d); a = s.head.sync.aud(ap.reshape(b, -1, s.k).permute(0, 2, 1))
        z = (c(v) * c(a)).sum((1, 2)) / (s.k * s.d) ** 0.5
        return logits + torch.stack([torch.zeros_like(z), z], 1)
    def fused(s, v, a, frames):
        if s.kind == "l3": return s.head.fc2(F.relu(s.head.fc1(torch.cat([v, a], 1))))
        if s.kind == "ave":
            v, a = F.normalize(v, dim=1, eps=1e-8), F.normalize(a, dim=1, eps=1e-8)
            return s.head.fc((v - a).pow(2).sum(1, keepdim=True).clamp_min(1e-12).sqrt())
        vmap = s.vision.proj(s.vision.fmap(frames).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        hd = s.cfg_head
        if hd.get("normalize", False):  # cosine per location
            sim = (F.normalize(vmap, dim=1, eps=1e-8) * F.normalize(a, dim=1, eps=1e-8)[:, :, None, None]).sum(1)
        else: sim = (vmap * a[:, :, None, None]).sum(1) / vmap.shape[1] ** 0.5
        z = (sim * s.head.calib_w + s.head.calib_b).flatten(1)
        z = (z.amax(1) if hd.get("pool", "max") == "max" else torch.logsumexp(z, 1) - np.log(z.shape[1]))[:, None]
        return torch.cat([torch.zeros_like(z), z], 1)

def pretext_name(k):
    """A checkpoint variable's name in this module: pretext keeps the towers under `trunk.` and
    the AVC head under `heads.avc.` (format 2; format 1 had `vision.`, `audio.`, `head.`)."""
    if k.startswith("trunk."): return k[len("trunk."):]
    if k.startswith("heads.avc."): return "head." + k[len("heads.avc."):]
    return k


def load(path):
    tensors = load_file(path)
    meta = json.loads(bytes(tensors.pop("meta.json").tolist()).decode())
    model = AvcNet(meta["run"]["model"]).eval()
    # Training state (optimizer moments, the live weights under weight averaging) is not the model.
    weights = {pretext_name(k): v for k, v in tensors.items() if not k.startswith(("optim.", "ema."))}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return model, meta


def spec_shape(meta):
    # The spectrogram size only matters for the check's random input; towers pool globally.
    return {"vggish": (64, 96), "l3": (257, 199)}.get(meta["run"]["model"]["input"]["spectrogram"], (64, 96))


def check(args):
    model, meta = load(args.checkpoint)
    task = meta["run"]["task"]
    task = task["name"] if isinstance(task, dict) else task
    assert task in ("avc", "localize", "avc-in-batch"), "the reference covers AVC checkpoints"
    m = meta["run"]["model"]
    assert m["vision"]["arch"] == "vgg" and m["audio"]["arch"] == "vgg", "the reference covers VGG towers"
    rng = np.random.default_rng(0)
    s, (f, t) = m["input"]["frame_size"], spec_shape(meta)
    frames = rng.standard_normal((4, 3 * m["input"]["frames"], s, s)).astype(np.float32)
    specs = rng.standard_normal((4, 1, f, t)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "frames.npy"), frames); np.save(os.path.join(d, "specs.npy"), specs)
        subprocess.run([args.pretext, "embed", "--checkpoint", args.checkpoint, "--device", "cpu",
                        "--frames-npy", os.path.join(d, "frames.npy"), "--specs-npy", os.path.join(d, "specs.npy"),
                        "--out", d], check=True, stdout=subprocess.DEVNULL)
        theirs = np.load(os.path.join(d, "logits.npy"))
    with torch.no_grad():
        ours = model(torch.from_numpy(frames), torch.from_numpy(specs)).numpy()
    diff = float(np.abs(ours - theirs).max())
    print(f"head {m['head']['kind']}, step {meta['step']}: max |logit difference| pretext vs PyTorch = {diff:.3g}")
    print("pytorch logits:", np.round(ours, 5).tolist())
    sys.exit(0 if diff <= 1e-4 else 1)


class PairStream(torch.utils.data.IterableDataset):
    """AVC batches the usual Python way (`benches/python/pairs_ref.py` per sample: PyAV seek +
    decode + reformat, PyAV resample, librosa VGGish log-mel; half the audio from another file)."""
    def __init__(s, files, size, seconds, batch, seed):
        super().__init__(); s.files, s.size, s.seconds, s.batch, s.seed = files, size, seconds, batch, seed
    def __iter__(s):
        import random; from pairs_ref import frame_at, audio_window, vggish_logmel, duration
        info = torch.utils.data.get_worker_info()
        rng = random.Random(s.seed + (info.id if info else 0)); durs = {f: duration(f) for f in s.files}
        while True:
            frames, specs, labels = [], [], []
            for _ in range(s.batch):
                f = rng.choice(s.files); half = s.seconds / 2; t = rng.uniform(half, durs[f] - half)
                frames.append(frame_at(f, t, s.size).astype(np.float32).transpose(2, 0, 1) / 255.0)
                if rng.random() < 0.5: af, at, y = f, t - half, 1
                else: af = rng.choice([g for g in s.files if g != f]); at, y = rng.uniform(0, durs[af] - s.seconds), 0
                specs.append(vggish_logmel(audio_window(af, at, s.seconds))[None]); labels.append(y)
            yield torch.from_numpy(np.stack(frames)), torch.from_numpy(np.stack(specs)), torch.tensor(labels)


def bench(args):
    if args.task != "avc" or args.model != "quick":
        sys.exit(f"the reference implements the avc task's quick preset, not {args.task}/{args.model}")
    torch.manual_seed(0); torch.set_num_threads(args.threads)
    m = {"input": {"frames": 1}, "head": {"kind": "l3", "embedding": 128, "hidden": 128},
         "vision": {"channels": [16, 32, 64, 128], "convs_per_block": 1},
         "audio": {"channels": [16, 32, 64, 128], "convs_per_block": 1}}
    dev = torch.device(args.device)
    model = AvcNet(m).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    if args.data:  # fed by the pairs_ref.py way, in DataLoader workers
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches", "python"))
        from pairs_ref import discover
        ds = PairStream(discover(args.data), args.frame_size, args.audio_seconds, args.batch, 0)
        it = iter(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=args.workers, prefetch_factor=2 if args.workers else None))
    else:
        batch = (torch.randn(args.batch, 3, args.frame_size, args.frame_size), torch.randn(args.batch, 1, 64, 96),
                 torch.randint(0, 2, (args.batch,)))
        it = iter(lambda: batch, None)
    wait = [0.0]
    def step():
        t = time.perf_counter(); frames, specs, labels = (x.to(dev) for x in next(it)); wait[0] += time.perf_counter() - t
        opt.zero_grad(); loss = F.cross_entropy(model(frames, specs), labels); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0); opt.step()
    for _ in range(5): step()
    if dev.type == "cuda": torch.cuda.synchronize()
    wait[0] = 0.0; t0 = time.perf_counter()
    for _ in range(args.steps): step()
    if dev.type == "cuda": torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    print(f"samples_per_s {args.steps * args.batch / wall:.2f}")
    print(f"data_wait_share {wait[0] / wall:.4f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check"); c.add_argument("checkpoint"); c.add_argument("--pretext", default="target/release/pretext")
    b = sub.add_parser("bench")
    for k, v in [("--steps", 50), ("--batch", 32), ("--threads", 2)]: b.add_argument(k, type=int, default=v)
    b.add_argument("--device", default="cpu")
    b.add_argument("--task", default="avc"); b.add_argument("--model", default="quick")
    b.add_argument("--data", nargs="*", help="video folders: batches made the pairs_ref.py way (default: in-memory batches)")
    b.add_argument("--workers", type=int, default=1, help="DataLoader worker processes with --data")
    b.add_argument("--frame-size", type=int, default=96); b.add_argument("--audio-seconds", type=float, default=0.96)
    a = p.parse_args()
    check(a) if a.cmd == "check" else bench(a)
