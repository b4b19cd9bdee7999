"`tools/gpu_check.py --device cpu --quick`: the GPU check's command end to end on the CPU with tiny sizes (under a minute, one thread)."
import csv, math, os, subprocess, sys, textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ['env', 'correctness', 'speed', 'release', 'smnist']

def fake_release(d:Path)->Path:
    "A stand-in for a checkout of the release: `models.Terminator_image(in_channels, out_channels, net_cfg, kernel_cfg_*...)` "
    "returning `(logits, slow_neural_loss)`, `cfg/config.yaml`, and a package `__init__` that wants a module not installed (as Lightning's)."
    (d/'models').mkdir(parents=True); (d/'cfg').mkdir()
    (d/'models'/'__init__.py').write_text('from .terminator import Terminator_image\nimport no_such_module_gpu_check\n')
    (d/'models'/'terminator.py').write_text(textwrap.dedent('''
        import torch
        class Terminator_image(torch.nn.Module):
            def __init__(self, in_channels, out_channels, net_cfg, kernel_cfg_g, kernel_cfg_l, kernel_cfg_gc, kernel_cfg_gc_hi, kernel_cfg_gs_hi):
                super().__init__()
                assert net_cfg.data_dim == 2 and kernel_cfg_g.size == kernel_cfg_gs_hi.size
                self.conv = torch.nn.Conv2d(in_channels, net_cfg.no_hidden, 3, padding=1)
                self.out_layer = torch.nn.Linear(net_cfg.no_hidden, out_channels)
                self.slow_neural_loss = 0
            def forward(self, x, train_mode=False):
                h = self.conv(x)
                if train_mode: self.slow_neural_loss += h.square().mean()
                return self.out_layer(h.mean((2, 3))), self.slow_neural_loss
        '''))
    (d/'cfg'/'config.yaml').write_text('net:\n  no_hidden: 4\nkernel_g:\n  size: 32\nkernel_l:\n  sizes: [3, 9, 5, 7]\n'
                                       'kernel_gc: {}\nkernel_gc_hi: {}\nkernel_gs_hi:\n  size: 32\n')
    return d

def rows(fn:Path, cols:list)->list:
    assert fn.exists(), f"{fn.name} was not written"
    with open(fn, newline='') as f: r = csv.DictReader(f); rs = list(r)
    assert r.fieldnames == cols, f"{fn.name} has the columns {r.fieldnames}, not {cols}"
    assert rs and all(row['device'] for row in rs), f"{fn.name}: no rows, or a row without its device"
    return rs

def test_gpu_check_quick_cpu(tmp_path):
    out = tmp_path/'out'
    cmd = [sys.executable, str(ROOT/'tools'/'gpu_check.py'), '--device', 'cpu', '--quick', '--out', str(out), '--release-dir', str(fake_release(tmp_path/'release'))]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr[-3000:]
    stages = rows(out/'stages.csv', ['device', 'stage', 'status', 'seconds', 'message'])
    assert [s['stage'] for s in stages] == STAGES
    assert all(s['status'] == 'ok' for s in stages), f"stages not ok: {[(s['stage'], s['status'], s['message']) for s in stages if s['status'] != 'ok']}\n{r.stdout[-3000:]}"
    assert all(float(s['seconds']) > 0 for s in stages)

    env = {e['key']: e['value'] for e in rows(out/'env.csv', ['device', 'key', 'value'])}
    assert {'device_name', 'driver', 'torch', 'cuda'} <= env.keys() and env['device_name'].startswith('CPU')

    cor = rows(out/'correctness.csv', ['device', 'model', 'variant', 'path', 'logits_max_abs_err', 'grad_rel_err', 'worst_tensor_rel_err',
                                       'worst_tensor', 'eval_batch_dependence', 'ok'])
    assert len(cor) == 3 * 2 * 2                                       # three models, release and batch-independent, eager and fast
    assert {c['path'] for c in cor} == {'eager', 'fast'} and {c['variant'] for c in cor} == {'release', 'batch-independent'}
    for c in cor:
        assert c['ok'] == 'True', c
        errs = [float(c[k]) for k in ('logits_max_abs_err', 'grad_rel_err', 'worst_tensor_rel_err', 'eval_batch_dependence')]
        assert all(math.isfinite(e) and e >= 0 for e in errs) and errs[0] < 2e-3 and errs[1] < 2e-2, c

    speed = rows(out/'speed.csv', ['device', 'torch', 'date', 'model', 'batch', 'path', 'mode', 'median_s', 'min_s', 'peak_mib', 'peak_kind', 'reps', 'note'])
    assert len(speed) == 3 * 3 * 2 + 2                                 # (model, batch) × fast/eager/bf16 × train/eval, and the release's two rows
    assert {s['path'] for s in speed} == {'fast', 'eager', 'bf16', 'release'} and {s['mode'] for s in speed} == {'train', 'eval'}
    assert 'compile' in r.stdout                                       # says that torch.compile was skipped
    for s in speed:
        assert 0 < float(s['min_s']) <= float(s['median_s']) < 60 and float(s['peak_mib']) > 0 and not s['note'], s
        assert s['torch'] and s['date'] and int(s['batch']) in (2, 4) and int(s['reps']) == 2

    sm = rows(out/'smnist.csv', ['device', 'torch', 'date', 'epoch', 'epochs', 'bs', 'train_loss', 'valid_loss', 'valid_accuracy', 'epoch_s', 'epochs_per_minute'])
    assert [int(s['epoch']) for s in sm] == list(range(1, int(sm[0]['epochs']) + 1))   # every planned epoch ran
    for s in sm:
        assert float(s['epoch_s']) > 0 and float(s['epochs_per_minute']) > 0 and 0 <= float(s['valid_accuracy']) <= 1, s
        assert math.isfinite(float(s['train_loss'])) and math.isfinite(float(s['valid_loss']))
