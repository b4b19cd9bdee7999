"Run every notebook in `nbs/` through nbdev's test runner, one pytest test per notebook."
import os
from pathlib import Path
import pytest
from nbdev.test import test_nb as _run_nb  # renamed so pytest does not collect it

NBS = sorted(p for p in (Path(__file__).parent.parent/'nbs').glob('*.ipynb') if not p.name.startswith('_'))

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    ok, secs = _run_nb(nb, skip_flags=['notest', 'slow'], do_print=False)
    assert ok, f'{nb.name} failed (run `nbdev-test {nb}` to see the cell)'
