"Write README.md from nbs/index.ipynb (nbdev-readme needs quarto, which is not available here)."
import json, re, base64
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root/'nbs'/'index.ipynb').read_text())
out, n_img = [], 0
for cell in nb['cells']:
    src = ''.join(cell['source'])
    if src.lstrip().startswith('#| hide') or '#| hide' in src.splitlines()[:3]: continue
    if cell['cell_type'] == 'markdown': out.append(src)
    elif cell['cell_type'] == 'code':
        code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
        echo = not any(l.replace(' ', '') == '#|echo:false' for l in src.splitlines())
        if echo and code.strip(): out.append(f'```python\n{code}\n```')
        for o in cell.get('outputs', []):
            data = o.get('data', {})
            if 'image/png' in data:
                n_img += 1
                img = root/'nbs'/'images'/f'readme_{n_img}.png'
                img.parent.mkdir(exist_ok=True)
                img.write_bytes(base64.b64decode(data['image/png']))
                out.append(f'![](nbs/images/{img.name})')
            elif 'text/markdown' in data: out.append(''.join(data['text/markdown']))
            elif 'text/plain' in data or o.get('output_type') == 'stream':
                txt = ''.join(data.get('text/plain', o.get('text', '')))
                if txt.strip(): out.append(f'```\n{txt.rstrip()}\n```')
text = '<!-- generated from nbs/index.ipynb by tools/make_readme.py: do not edit -->\n\n' + '\n\n'.join(out) + '\n'
(root/'README.md').write_text(re.sub(r'\n{3,}', '\n\n', text))
