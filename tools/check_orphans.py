"Fail if a module in terminator_nb/ has no notebook exporting it (nbdev-export never deletes one)."
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
exported = set()
for nb in (root/'nbs').glob('*.ipynb'):
    for cell in json.loads(nb.read_text())['cells']:
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(cell['source']), re.M)
        if m: exported.add(m.group(1).replace('.', '/') + '.py')
keep = {'__init__.py', '_modidx.py'}
mods = {str(p.relative_to(root/'terminator_nb')) for p in (root/'terminator_nb').rglob('*.py')}
orphans = sorted(mods - exported - keep)
if orphans:
    sys.exit(f"Orphan modules with no notebook exporting them (delete them): {orphans}")
