"""Write README.md from nbs/index.ipynb (nbdev-readme needs quarto, which is not available here).

The results table (the cell that calls `results_table`) is rebuilt from the current `nbs/results/*.csv`
first, and its output in nbs/index.ipynb is updated with it, so that the README and the notebook
always show every results file."""
import json, re, base64, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root))                       # this checkout's terminator_nb
nb_path = root/'nbs'/'index.ipynb'
nb = json.loads(nb_path.read_text())

def results_output()->dict:
    "The results cell's output: the table of every results file, as Markdown."
    from terminator_nb.results import read_results, results_table, markdown_table
    md = markdown_table(results_table(read_results(root/'nbs'/'results')))
    return {'data': {'text/markdown': md.splitlines(True), 'text/plain': ['<IPython.core.display.Markdown object>']},
            'execution_count': None, 'metadata': {}, 'output_type': 'execute_result'}

out, n_img = [], 0
for cell in nb['cells']:
    src = ''.join(cell['source'])
    if cell['cell_type'] == 'code' and 'results_table(' in src:
        new = [results_output()]
        if cell.get('outputs') != new:
            cell['outputs'] = new
            nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
            print('make_readme: updated the results table in nbs/index.ipynb')
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
