"""Our CIFAR model side by side with the public release's own code on this CPU: training step, eval forward, peak memory.

usage: python tools/bench_release.py --release DIR [--pairs 3] [--allocators system tcmalloc] [--threads 2] [--bs 32]
                                     [--warmup 2] [--steps 10] [--out nbs/results/details/bench_vs_release.csv]

DIR is a checkout of the release's code (github.com/lalalune/Terminator at commit 67e773a, the code the release fixtures of
`07a_release` were made with: `git archive 67e773a | tar -x -C DIR`); it is imported, never modified or copied.

Each measurement is one fresh process (`--child`), one side and one allocator: the model is built (seed 0), trained for
`--warmup` + `--steps` steps on one random batch of `--bs` 3x32x32 images (forward, label-smoothing cross-entropy (0.1) +
the side's own slow neural loss, backward, an optimiser step), then `--warmup` + `--steps` eval forwards (inference mode).
Recorded: the median seconds of the timed training steps (`train_s`) and eval forwards (`eval_s`), the process's peak
resident memory after training (`peak_rss_mib`, `ru_maxrss`), and its resident memory after the imports and before the model
is built (`import_rss_mib`, the same torch on both sides). The sides alternate in fresh processes (ours, release, ours,
release, ...) `--pairs` times per allocator, so a machine that slows down or speeds up during the runs weighs on both;
the allocator is preloaded with LD_PRELOAD (`terminator_nb.benchmark.find_allocator`), the same one for both sides.

The sides:
- ours: `terminator_cifar()` with `impl='fast'` (the speed layer, the default) and the release's mathematics (batch-shared
  local kernels, batch statistics, the matmul global branch: the configuration's defaults), so both sides compute the same
  function (`07a_release` converts release checkpoints to it). `terminator_train` trains the batch-independent variant
  (`BATCH_INDEPENDENT`), which computes something else.
- release: its `models.Terminator_image` built from its cfg/config.yaml (10 classes), called as its Lightning wrapper calls
  it (`train_mode=True`, then `slow_neural_loss` reset to 0). Its forward moves a few scalars with `.cuda()`: in the child
  process only, `Tensor.cuda` is made the identity so that it runs on the CPU. Its `from omegaconf import OmegaConf` (type
  annotations only) is served by a stub when omegaconf is not installed, and the YAML is read with PyYAML.
The optimiser step is Kar3's update written here in plain torch, the same on both sides (our Kar3 is a fastai optimiser,
whose import alone would add fastai's memory to ours; the release's is a torch optimiser): the training frameworks of
either side (fastai, Lightning) are not imported, so the memory compared is the model's.

Rows of the CSV (appended; one per side, allocator, metric, run): side, allocator, metric, run, value, hardware, threads,
bs, warmup, steps, torch, date, command (the release directory written as RELEASE_DIR).
"""
import argparse, csv, json, os, platform, resource, statistics, subprocess, sys, time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ['side', 'allocator', 'metric', 'run', 'value', 'hardware', 'threads', 'bs', 'warmup', 'steps', 'torch', 'date', 'command']
METRICS = ['train_s', 'eval_s', 'peak_rss_mib', 'import_rss_mib']

def rss_mib(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def hardware():
    "The CPU's model name (machines here are Intel Xeon or AMD EPYC, whose timings differ)."
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()

def release_model(rdir):
    "The release's `Terminator_image` for 3x32x32 CIFAR images and 10 classes, from its code and cfg/config.yaml at `rdir`."
    import types, torch, yaml
    rdir = Path(rdir).resolve()
    torch.Tensor.cuda = lambda self, *a, **k: self           # this process only: the release's forward calls .cuda()
    try: import omegaconf                                      # noqa: F401
    except ModuleNotFoundError:                                # the release imports OmegaConf for type annotations only
        sys.modules['omegaconf'] = types.SimpleNamespace(OmegaConf=object)
    sys.path.insert(0, str(rdir))
    from models import Terminator_image
    ns = lambda v: types.SimpleNamespace(**{k: ns(x) for k, x in v.items()}) if isinstance(v, dict) else v
    cfg = ns(yaml.safe_load((rdir/'cfg'/'config.yaml').read_text()))
    cfg.net.data_dim = 2
    return Terminator_image(in_channels=3, out_channels=10, net_cfg=cfg.net, kernel_cfg_g=cfg.kernel_g, kernel_cfg_l=cfg.kernel_l,
                            kernel_cfg_gc=cfg.kernel_gc, kernel_cfg_gc_hi=cfg.kernel_gc_hi, kernel_cfg_gs_hi=cfg.kernel_gs_hi)

def kar3_step(params, state, lr=1.215e-3, betas=(0.5, 0.95)):
    "Kar3: `p ← p - lr·(sign(g) + sign(m₁) + sign(m₂))`, then `mᵢ ← βᵢ·mᵢ + (1-βᵢ)·g` (the same update on both sides)."
    import torch
    with torch.no_grad():
        for p in params:
            if p.grad is None: continue
            m1, m2 = state.setdefault(p, (torch.zeros_like(p), torch.zeros_like(p)))
            p.sub_(lr * (p.grad.sign() + m1.sign() + m2.sign()))
            m1.mul_(betas[0]).add_(p.grad, alpha=1 - betas[0]); m2.mul_(betas[1]).add_(p.grad, alpha=1 - betas[1])

def child(side, release, threads, bs, warmup, steps):
    "Measure one side in this process; return the figures."
    import warnings; warnings.filterwarnings('ignore')
    import torch, torch.nn.functional as F
    torch.set_num_threads(threads)
    if side == 'ours':
        sys.path.insert(0, str(ROOT))
        from terminator_nb.model import terminator_cifar
        from terminator_nb.slowloss import slow_neural_loss
    imported = rss_mib()
    torch.manual_seed(0)
    if side == 'ours':
        net = terminator_cifar(impl='fast')
        def losses(x, y):
            logits, kernels = net(x, return_kernels=True)
            return F.cross_entropy(logits, y, label_smoothing=0.1) + slow_neural_loss(kernels)
        evaluate = lambda x: net(x)
    else:
        net = release_model(release)
        def losses(x, y):
            logits, slow = net(x, train_mode=True)
            net.slow_neural_loss = 0                          # as the release's Lightning training step resets it
            return F.cross_entropy(logits, y, label_smoothing=0.1) + slow
        evaluate = lambda x: net(x, train_mode=False)
    x, y = torch.randn(bs, 3, 32, 32), torch.randint(0, 10, (bs,))
    params, state = [p for p in net.parameters() if p.requires_grad], {}

    def train():
        net.train()
        for p in params: p.grad = None
        losses(x, y).backward()
        kar3_step(params, state)
    def infer():
        net.eval()
        with torch.inference_mode(): evaluate(x)
    def timed(step):
        for _ in range(warmup): step()
        ts = []
        for _ in range(steps): t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
        return statistics.median(ts)
    train_s = timed(train); peak = rss_mib()
    eval_s = timed(infer)
    return dict(train_s=train_s, eval_s=eval_s, peak_rss_mib=peak, import_rss_mib=imported, torch=torch.__version__,
                threads=torch.get_num_threads())

def run_child(side, allocator, a):
    "One fresh process measuring `side` under `allocator` (LD_PRELOAD, the same for both sides)."
    sys.path.insert(0, str(ROOT))
    from terminator_nb.benchmark import find_allocator
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))
    env.pop('LD_PRELOAD', None)
    lib = find_allocator(allocator)                            # not installed: a one-line error naming the Debian package
    if lib: env['LD_PRELOAD'] = lib
    args = dict(side=side, release=str(a.release), threads=a.threads, bs=a.bs, warmup=a.warmup, steps=a.steps)
    r = subprocess.run([sys.executable, __file__, '--child', json.dumps(args)], capture_output=True, text=True, env=env)
    if r.returncode != 0: sys.exit(f"bench_release: error: the {side} process failed: {(r.stderr.strip().splitlines() or ['(no output)'])[-1]}")
    return json.loads(r.stdout.strip().splitlines()[-1])

def main(argv=None):
    p = argparse.ArgumentParser(prog='bench_release', description=__doc__.split('\n')[0])
    p.add_argument('--release', type=Path, help="a checkout of the release's code (models/, cfg/config.yaml)")
    p.add_argument('--pairs', type=int, default=3, help='fresh (ours, release) process pairs per allocator')
    p.add_argument('--allocators', nargs='+', default=['system', 'tcmalloc'], choices=['system', 'tcmalloc', 'jemalloc'])
    p.add_argument('--threads', type=int, default=2); p.add_argument('--bs', type=int, default=32)
    p.add_argument('--warmup', type=int, default=2); p.add_argument('--steps', type=int, default=10)
    p.add_argument('--out', type=Path, default=ROOT/'nbs'/'results'/'details'/'bench_vs_release.csv', help='CSV the rows are appended to')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child is not None: print(json.dumps(child(**json.loads(a.child)))); return
    if a.release is None or not (a.release/'models').is_dir() or not (a.release/'cfg'/'config.yaml').is_file():
        sys.exit(f"bench_release: error: --release {a.release} is not a checkout of the release's code (no models/ and cfg/config.yaml): "
                 "git clone https://github.com/lalalune/Terminator DIR && git -C DIR checkout 67e773a")
    if min(a.pairs, a.threads, a.bs, a.steps) < 1 or a.warmup < 0: sys.exit("bench_release: error: --pairs, --threads, --bs and --steps must be positive")
    a.release = a.release.resolve()
    argv = sys.argv[1:] if argv is None else argv
    command = 'python tools/bench_release.py ' + ' '.join('RELEASE_DIR' if Path(v).resolve() == a.release else v for v in argv)
    date, hw = datetime.now(timezone.utc).strftime('%Y-%m-%d'), hardware()
    new = not a.out.exists()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, 'a', newline='') as f:
        w = csv.DictWriter(f, COLUMNS)
        if new: w.writeheader()
        for allocator in a.allocators:
            for run in range(a.pairs):
                for side in ('ours', 'release'):
                    r = run_child(side, allocator, a)
                    for m in METRICS:
                        w.writerow(dict(side=side, allocator=allocator, metric=m, run=run, value=round(r[m], 4), hardware=hw,
                                        threads=r['threads'], bs=a.bs, warmup=a.warmup, steps=a.steps, torch=r['torch'], date=date,
                                        command=command))
                    f.flush()
                    print(f"{allocator:8s} run {run} {side:7s} train {r['train_s']:.3f} s  eval {r['eval_s']:.3f} s  "
                          f"peak RSS {r['peak_rss_mib']:.0f} MiB (after imports {r['import_rss_mib']:.0f})", flush=True)

if __name__ == '__main__': main()
