"""
The figure of ``docs/performance.rst``: samples per second of the original
0.8.1, of this package and of the library limit, per backend and window size,
plotted from the harness's JSON (``docs/data/bench_windows_limits.json``, the
medians of one ``compare.sh --sections windows,limits`` run).

The limit is what the storage allows with no sampler at all, measured in the
same run: a copy out of an open ``np.memmap`` for ``'npy'``, a window read on
an open GDAL handle whose blocks are already decoded for ``'cog'``.
"""
import json
import os
import sys

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    'data', 'bench_windows_limits.json')
LIMITS = {'npy': 'limits/limit.npy_memmap.win{}',
          'cog': 'limits/limit.gdal_handle_blockcache_hot.win{}'}
WINDOWS = [64, 224, 512]


def bars(bench):
    """``{backend: [(label, orig, new, limit), ...]}`` from the harness medians."""
    table = {}
    for backend, limit_key in LIMITS.items():
        new, orig = bench['sps']['new/' + backend], bench['sps']['orig/' + backend]
        table[backend] = [
            ('{} px'.format(size),
             orig['windows/impl.win{}.annots0'.format(size)],
             new['windows/impl.win{}.annots0'.format(size)],
             new[limit_key.format(size)])
            for size in WINDOWS]
    return table


def main(out_path, data_path=DATA):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    with open(data_path) as file:
        bench = json.load(file)
    table = bars(bench)
    fig, axes = plt.subplots(1, len(table), figsize=(10, 3.8), sharey=True)
    width = 0.27
    for ax, (backend, rows) in zip(axes, table.items()):
        x = np.arange(len(rows))
        for offset, (name, column, color) in zip(
                (-width, 0, width),
                [('original 0.8.1', 1, '#999999'), ('this package', 2, '#1f77b4'),
                 ('limit (no sampler)', 3, '#ff7f0e')]):
            ax.bar(x + offset, [row[column] for row in rows], width, label=name, color=color)
        ax.set_xticks(x, [row[0] for row in rows])
        ax.set_yscale('log')
        ax.set_title("backend '{}': random windows, no annotations".format(backend), fontsize=10)
        ax.grid(axis='y', alpha=0.3)
    axes[0].set_ylabel('samples per second (log)')
    axes[0].legend(fontsize=8, loc='upper right')
    fig.suptitle('{} ({})'.format(bench['command'].split(' ', 1)[1], bench['date']), fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


if __name__ == '__main__':
    main(sys.argv[1])
