"Run every notebook in `nbs/` through nbdev's test runner, one pytest test per notebook, each in a fresh Python process (as `nbdev-test` runs them)."
import os, subprocess, sys
from pathlib import Path
import pytest

NBS = sorted(p for p in (Path(__file__).parent.parent/'nbs').glob('*.ipynb') if not p.name.startswith('_'))
RUN = "import sys; from nbdev.test import test_nb; ok, _ = test_nb(sys.argv[1], skip_flags=['notest', 'slow']); sys.exit(0 if ok else 1)"

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    # a fresh process per notebook: what one notebook registers or patches (fastai's type dispatch, say) cannot leak into the next
    r = subprocess.run([sys.executable, '-c', RUN, str(nb)], capture_output=True, text=True, env={'OMP_NUM_THREADS': '1', **os.environ})
    assert r.returncode == 0, f'{nb.name} failed (run `nbdev-test {nb}` to see the cell):\n' + (r.stderr + r.stdout)[-3000:]
