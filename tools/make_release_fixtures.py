"""Make the release fixtures (`nbs/fixtures/release_tiny5_16px.pt`, and `release_full.pt` with `--full`) by
running the public Terminator release's own code on the CPU.

    git clone https://github.com/lalalune/Terminator release && git -C release checkout 67e773a
    python tools/make_release_fixtures.py release --out FOLDER           # the tiny fixture, FOLDER/release_tiny5_16px.pt
    python tools/make_release_fixtures.py release --full --out FOLDER    # the full CIFAR one, FOLDER/release_full.pt
    python tools/make_release_fixtures.py release --check nbs/fixtures/release_tiny5_16px.pt

A fixture made here has the same keys, shapes, configuration and parameter names as the committed
one, with weights and input of its own (`--seed`); `--out nbs/fixtures` replaces the committed one.

RELEASE is the release's code folder (commit 67e773a has `models/terminator.py`). Only its `models`
package is imported (not Lightning or hydra); `omegaconf`, used there for type annotations only, is
replaced by a stand-in if it is not installed, and the configuration is the release's
`cfg/config.yaml` read as plain attributes. The release's forward calls `.cuda()` on a few constant
tensors; in this process `Tensor.cuda` returns the tensor unchanged, so the network runs on the CPU.

What a fixture holds (see nbs/07a_release.ipynb): the release network's state_dict as a Lightning
checkpoint names it (`network.` + module path) after the release's lazy first-forward scaling of the
slow nets' output layers, every float parameter then perturbed with noise (so that a swapped mapping
cannot hide behind equal initial values); the configuration the release ends up with; a float64
input `x`; the release's logits for `x` in float64 and float32 and its slow neural loss in float64,
in eval mode (which still uses batch statistics); for the tiny network, each block's output.

`--check FIXTURE` recomputes every output from FIXTURE's own checkpoint and input and reports the
largest difference relative to the stored values' magnitude: float64 outputs agree to rounding
(~1e-15), the float32 logits to ~1e-6."""
import argparse, copy, sys, types
from pathlib import Path
import torch

TINY = dict(net=dict(final_no_hidden=12, block=dict(bottleneck_factors=[4, 1, 1, 1, 1], in_channel=[3, 12, 12, 12, 12])),
            kernel_g=dict(num_layers_list=[2, 2, 2, 2, 2], no_hidden=16, size=16), kernel_l=dict(no_hidden=8),
            kernel_gc=dict(no_hidden=8), kernel_gc_hi=dict(no_hidden=8), kernel_gs_hi=dict(size=16))
KERNELS = ('kernel_g', 'kernel_l', 'kernel_gc', 'kernel_gc_hi', 'kernel_gs_hi')

def merge(a:dict, b:dict)->dict:
    "`a` with the entries of `b` put in, nested dicts merged."
    out = copy.deepcopy(a)
    for k, v in b.items(): out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out

def to_ns(d):
    "Nested dicts as attribute objects (what the release's code reads from OmegaConf)."
    return types.SimpleNamespace(**{k: to_ns(v) for k, v in d.items()}) if isinstance(d, dict) else d

def to_dict(ns):
    "The inverse of `to_ns`."
    return {k: to_dict(v) for k, v in vars(ns).items()} if isinstance(ns, types.SimpleNamespace) else ns

def import_release(release:Path):
    "The release's `models` package, importable on a CPU-only machine without omegaconf."
    if not (release/'models'/'terminator.py').exists():
        sys.exit(f"{release} is not the release's code folder (no models/terminator.py): check out commit 67e773a of the release")
    try: import omegaconf                                   # noqa: F401
    except ImportError: sys.modules['omegaconf'] = types.SimpleNamespace(OmegaConf=object)   # annotations only
    torch.Tensor.cuda = lambda self, *args, **kwargs: self   # this process only: the release's forward moves constants to CUDA
    sys.path.insert(0, str(release))
    import models
    return models

def build(models, cfg:dict, in_channels=3, n_classes=10):
    "The release's network for `cfg` (a dict); the configuration after construction (the release edits it while building)."
    ns = to_ns(cfg)
    ns.net.data_dim = 2                                      # what `construct_model` sets for images
    net = models.Terminator_image(in_channels=in_channels, out_channels=n_classes, net_cfg=ns.net, kernel_cfg_g=ns.kernel_g,
                                  kernel_cfg_l=ns.kernel_l, kernel_cfg_gc=ns.kernel_gc, kernel_cfg_gc_hi=ns.kernel_gc_hi,
                                  kernel_cfg_gs_hi=ns.kernel_gs_hi)
    return net, to_dict(ns)

def outputs(net, x:torch.Tensor, blocks:bool)->dict:
    "The release's logits and slow loss for `x` in float64, its logits in float32, and (`blocks`) each block's output in float64."
    out, res = [], {}
    net.double().eval()
    hooks = [b.register_forward_hook(lambda m, i, o: out.append(o[0].detach().clone())) for b in net.blocks] if blocks else []
    with torch.no_grad(): logits, slow = net(x.double(), train_mode=True)
    for h in hooks: h.remove()
    res.update(logits_f64=logits, slow_loss_f64=torch.as_tensor(slow).detach().clone())
    net.float()
    with torch.no_grad(): res['logits_f32'] = net(x.float())[0]
    if blocks: res['block_outputs_f64'] = out
    return res

def load_checkpoint(net, sd:dict):
    "Load a release state_dict (`network.` keys) into `net`, whose lazy scaling has already run (so it is not applied twice)."
    net.load_state_dict({k[len('network.'):]: v for k, v in sd.items()}, strict=True)

def make(models, release:Path, full:bool, seed:int, noise:float, batch:int)->dict:
    "A fixture: release network with seeded initialisation + noise, its configuration, input and outputs."
    import yaml
    cfg = yaml.safe_load((release/'cfg'/'config.yaml').read_text())
    for k in KERNELS: cfg[k]['omega_0'] = 2000.0            # the release's default (MAGNet), written out
    if not full: cfg = merge(cfg, TINY)
    torch.manual_seed(seed)
    net, cfg = build(models, cfg)
    size = cfg['kernel_g']['size']
    with torch.no_grad():
        net(torch.randn(2, 3, size, size), train_mode=True)  # the release's lazy first forward scales every slow net's output layer
        for p in net.parameters():
            if p.is_floating_point(): p.add_(noise * (p.std() if p.numel() > 1 else p.abs()).clamp(min=1e-2) * torch.randn_like(p))
    sd = {f'network.{k}': v.detach().clone() for k, v in net.state_dict().items()}
    x = torch.randn(batch, 3, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    return dict(checkpoint=dict(state_dict=sd), release_config=cfg, x=x, **outputs(net, x, blocks=not full))

def rel(a, b)->float:
    "max |a − b| / max |b|."
    return ((a.double() - b.double()).abs().max() / b.double().abs().max()).item()

def check(models, fn:Path):
    "Recompute FIXTURE's outputs from its own checkpoint and input with the release's code; print the relative differences."
    fx = torch.load(fn, weights_only=False)
    net, _ = build(models, {k: v for k, v in fx['release_config'].items()})
    size = fx['x'].shape[-1]
    with torch.no_grad(): net(torch.zeros(2, 3, size, size), train_mode=True)   # lazy scaling first, then the checkpoint's weights
    load_checkpoint(net, fx['checkpoint']['state_dict'])
    new = outputs(net, fx['x'], blocks='block_outputs_f64' in fx)
    keys = [k for k in fx if k not in ('checkpoint', 'release_config', 'x')]
    if sorted(keys) != sorted(new): sys.exit(f"{fn} holds {sorted(keys)}, this script makes {sorted(new)}")
    for k in keys:
        a, b = new[k], fx[k]
        if k == 'block_outputs_f64':
            assert [t.shape for t in a] == [t.shape for t in b], k
            print(f"{k:18s} {len(a)} × {tuple(b[0].shape)}  relative difference {max(rel(s, t) for s, t in zip(a, b)):.1e}")
        else:
            assert a.shape == b.shape and a.dtype == b.dtype, f"{k}: {a.shape} {a.dtype} against {b.shape} {b.dtype}"
            print(f"{k:18s} {str(b.dtype):14s} {tuple(b.shape)}  relative difference {rel(a, b):.1e}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('release', type=Path, help="the release's code folder (commit 67e773a)")
    p.add_argument('--full', action='store_true', help="the release's CIFAR configuration (cfg/config.yaml, 10 classes) instead of the tiny one")
    p.add_argument('--out', type=Path, help='folder to write release_tiny5_16px.pt / release_full.pt to (needed unless --check)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--noise', type=float, default=0.1, help="noise added to every parameter, in units of that parameter's std")
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--check', type=Path, metavar='FIXTURE', help='recompute the outputs of FIXTURE from its checkpoint and input instead of making one')
    a = p.parse_args()
    torch.set_num_threads(1)
    models = import_release(a.release)
    if a.check: check(models, a.check); sys.exit()
    if a.out is None: p.error('--out FOLDER is needed to make a fixture')
    fx = make(models, a.release, a.full, a.seed, a.noise, a.batch)
    fn = a.out/('release_full.pt' if a.full else 'release_tiny5_16px.pt')
    fn.parent.mkdir(parents=True, exist_ok=True)
    torch.save(fx, fn)
    n = sum(v.numel() for k, v in fx['checkpoint']['state_dict'].items() if v.is_floating_point())
    print(f"wrote {fn}: {n:,} parameters, keys {list(fx)}")
