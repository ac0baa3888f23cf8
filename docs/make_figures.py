"""
Make every figure of the documentation into ``docs/_generated/`` (what
``make docs`` runs before Sphinx).  Each script in ``docs/figures/`` has a
``main(out_path)``; the getting-started picture is ``make demo``'s own mosaic.

Usage::

    .venv/bin/python docs/make_figures.py [out_dpath]
"""
import importlib.util
import os
import sys
import time

DOCS_DPATH = os.path.dirname(os.path.abspath(__file__))
FIGURES = {
    'target_windows.png': 'target_windows.py',
    'stitched_heatmap.png': 'stitched_heatmap.py',
    'performance.png': 'performance.py',
}


def run_script(script, out_path):
    spec = importlib.util.spec_from_file_location(
        'figure_' + script[:-3], os.path.join(DOCS_DPATH, 'figures', script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(out_path)


def main(out_dpath=os.path.join(DOCS_DPATH, '_generated')):
    from ndsampler import demo
    os.makedirs(out_dpath, exist_ok=True)
    start = time.perf_counter()
    demo_fpath = demo.main(['--out', os.path.join(out_dpath, 'demo')])
    os.replace(demo_fpath, os.path.join(out_dpath, 'demo_mosaic.png'))
    for name, script in FIGURES.items():
        run_script(script, os.path.join(out_dpath, name))
    print('made {} figures in {} ({:.1f}s)'.format(len(FIGURES) + 1, out_dpath,
                                                   time.perf_counter() - start))


if __name__ == '__main__':
    main(*sys.argv[1:2])
