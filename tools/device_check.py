"""Correctness of the model on an accelerator: same weights, same input, CPU float64 vs DEVICE float32.

usage: python tools/device_check.py [cuda]      (needs only torch and this repository on the path)
"""
import sys, torch, torch.nn.functional as F
sys.path.insert(0, '.')
from terminator_nb.model import terminator_cifar, terminator_small, terminator_seq
from terminator_nb.slowloss import slow_neural_loss

dev = torch.device(sys.argv[1] if len(sys.argv) > 1 else 'cuda')
torch.backends.cuda.matmul.allow_tf32 = False; torch.backends.cudnn.allow_tf32 = False   # compare true fp32
print('device:', torch.cuda.get_device_name(dev) if dev.type == 'cuda' else dev, '| torch', torch.__version__)
ok = True
for name, make, shape in [('cifar', terminator_cifar, (8, 3, 32, 32)), ('small 28x28', terminator_small, (8, 1, 28, 28)),
                          ('mnist1d', lambda: terminator_seq(40), (8, 1, 40)), ('cifar per_sample+running_stats', lambda: terminator_cifar(per_sample=True, running_stats=True), (8, 3, 32, 32))]:
    torch.manual_seed(0)
    ref = make().double(); x = torch.randn(*shape, dtype=torch.float64); y = torch.randint(0, 10, (shape[0],))
    m = make().to(dev); m.load_state_dict(ref.state_dict())
    for mod in [*ref.modules(), *m.modules()]:
        if isinstance(mod, torch.nn.modules.dropout._DropoutNd): mod.p = 0.   # no random masks: compare the mathematics
    def run(model, x, y):
        model.zero_grad(); out = model(x)
        loss = F.cross_entropy(out, y, label_smoothing=0.1) + slow_neural_loss(model.slow_kernels); loss.backward()
        return out.detach().cpu().double(), {n: p.grad.detach().cpu().double() for n, p in model.named_parameters()}
    o_ref, g_ref = run(ref, x, y)
    o_dev, g_dev = run(m, x.float().to(dev), y.to(dev))
    d_out = (o_dev - o_ref).abs().max().item()
    errs = {n: ((g_dev[n] - g_ref[n]).norm() / g_ref[n].norm()).item() for n in g_ref if g_ref[n].norm() > 1e-6}
    worst = max(errs, key=errs.get); rel = errs[worst]
    flat = lambda g: torch.cat([v.flatten() for v in g.values()])
    fast_rel = ((flat(g_dev) - flat(g_ref)).norm() / flat(g_ref).norm()).item()   # all gradients as one vector
    m.eval(); xb = x.float().to(dev)
    with torch.no_grad(): dep = (m(xb)[:1] - m(xb[:1])).abs().max().item()
    good = d_out < 2e-3 and fast_rel < 2e-2   # fp32 vs fp64 on a CPU gives ~5e-3 here (ill-conditioned sines, ω0 = 2000)
    ok &= good
    print(f"{name:30s} logits max|{dev.type} fp32 - cpu fp64| {d_out:.1e} | grad rel. error: all parameters {fast_rel:.1e}, "
          f"worst single tensor {rel:.1e} ({worst}) | eval batch dependence {dep:.1e} | {'OK' if good else 'MISMATCH'}")
sys.exit(0 if ok else 1)
