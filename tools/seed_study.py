"""One run of `terminator_train`, optionally with part of the initialisation taken from another seed, and a row of
diagnostics appended to a CSV: what `nbs/20a_exp_mnist1d_seeds.ipynb` uses to find why a seed fails.

usage: python tools/seed_study.py --label NAME --details CSV [--from-seed S --part REGEX] -- TERMINATOR_TRAIN_ARGS

`--from-seed S --part REGEX`: after the model is built (with `--seed`), the parameters whose names match REGEX are
replaced by those of the same model built with seed S (`slow-nets` or `fast-nets`, optionally `:REGEX`, restrict it to
the slow nets' or the fast network's parameters, as `terminator_splitter` divides them); the random state is restored afterwards, so the data order, the
dropout masks and every other parameter are those of `--seed`. `--part .` takes the whole initialisation from S.

The row: label, seed, from_seed, part, the command's arguments, the final validation accuracy (on MNIST-1D's official
test split unless --valid-pct), the training accuracy of the final model (training set in order, eval mode), the
validation accuracy per epoch, and the share of each branch in block 0's bottleneck (norm of its weight columns; the
block's input has one channel, so one column per branch).
"""
import argparse, csv, random, re, sys, warnings
from pathlib import Path
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')
warnings.filterwarnings('ignore', message='load_learner` uses Python')
import numpy as np, torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from terminator_nb import cli
from fastai.basics import set_seed, load_learner
from terminator_nb.learner import terminator_splitter

BRANCHES = ['global', 'global_mixer', 'global_channel', 'si_glu', 'local_3', 'local_9', 'local_5', 'local_7', 'fast', 'hyper']
COLUMNS = ['label', 'seed', 'from_seed', 'part', 'args', 'valid_accuracy', 'train_accuracy', 'valid_by_epoch'] + [f'share_{b}' for b in BRANCHES]

def swap_init(build, from_seed:int, part:str):
    "`build` (cli.build_model), with the parameters matching `part` taken from the model built with `from_seed`."
    def patched(args, meta):
        model = build(args, meta)
        state = torch.get_rng_state(), random.getstate(), np.random.get_state()
        set_seed(from_seed, reproducible=True)
        other = build(args, meta)
        torch.set_rng_state(state[0]); random.setstate(state[1]); np.random.set_state(state[2])
        kind, _, pat = part.partition(':') if part.split(':')[0] in ('slow-nets', 'fast-nets') else ('', '', part)
        slow = {n for n, p in model.named_parameters() if any(p is q for q in terminator_splitter(model)[0])}
        names = [n for n, _ in model.named_parameters() if re.search(pat or '.', n) and
                 (kind == '' or (n in slow) == (kind == 'slow-nets'))]
        if not names: sys.exit(f"seed_study: --part {part!r} matches no parameter name")
        with torch.no_grad():
            theirs = dict(other.named_parameters())
            for n, p in model.named_parameters():
                if n in names: p.copy_(theirs[n])
        print(f"seed_study: {len(names)} parameter tensors from seed {from_seed} ({part!r})")
        return model
    return patched

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--label', required=True); p.add_argument('--details', required=True)
    p.add_argument('--from-seed', type=int, default=None); p.add_argument('--part', default=None)
    p.add_argument('train_args', nargs=argparse.REMAINDER)
    a = p.parse_args()
    if (a.from_seed is None) != (a.part is None): sys.exit("seed_study: give --from-seed and --part together")
    targs = [t for t in a.train_args if t != '--']
    args = cli.train_parser().parse_args(targs)
    if a.from_seed is not None: cli.build_model = swap_init(cli.build_model, a.from_seed, a.part)
    s = cli.train(args)
    learn = load_learner(s['learner'])
    dls = cli.get_dls(args.dataset, valid_pct=args.valid_pct, path=args.data, bs=256, seq=args.seq, permuted=args.permuted,
                      seed=args.seed, device='cpu')
    with learn.no_bar(): preds, ys = learn.get_preds(dl=dls.train.new(shuffle=False, drop_last=False))
    curve = [float(r['accuracy']) for r in csv.DictReader(open(s['metrics']))]
    w = learn.model.blocks[0].bottleneck.weight.detach().flatten(1)[:, :len(BRANCHES)]
    share = (w.norm(dim=0) / w.norm(dim=0).sum()).tolist()
    row = dict(label=a.label, seed=args.seed, from_seed='' if a.from_seed is None else a.from_seed, part=a.part or '',
               args=' '.join(targs), valid_accuracy=round(s['valid_accuracy'], 4),
               train_accuracy=round((preds.argmax(1) == ys).float().mean().item(), 4),
               valid_by_epoch=' '.join(f'{v:.4f}' for v in curve), **{f'share_{b}': round(v, 4) for b, v in zip(BRANCHES, share)})
    fn = Path(a.details); fn.parent.mkdir(parents=True, exist_ok=True)
    with open(fn, 'a', newline='') as f:
        import fcntl; fcntl.flock(f, fcntl.LOCK_EX)                     # two runs may finish at once
        wr = csv.DictWriter(f, COLUMNS)
        if not f.tell(): wr.writeheader()
        wr.writerow(row)
    print(f"seed_study: {a.label}: valid {row['valid_accuracy']:.4f}, train {row['train_accuracy']:.4f}, global share {share[0]:.3f}")

if __name__ == '__main__': main()
