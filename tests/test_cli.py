"""
The ``ndsampler`` command line: each subcommand's exit code, and its output
checked against the library (``load_sample``, ``new_sample_grid``,
``cache_status``).  Most calls go through ``main([...])`` in this process;
two go through a real subprocess (``python -m ndsampler`` and the console
script).  DATA is the toy kwcoco file of ``conftest.py`` or a kwcoco demo key.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from conftest import HAVE_GDAL, requires_gdal
from ndsampler.cli import COMMANDS, main
from ndsampler.cli.grid import target_from_json

BACKEND = 'npy'  # needs no GDAL


@pytest.fixture
def data(dataset_dpath):
    """DATA as a kwcoco file: 3 images, 4 annotations, 2 categories."""
    return str(dataset_dpath / 'data.kwcoco.json')


@pytest.fixture
def workdir(tmp_path):
    return str(tmp_path / 'work')


def npy_caches(workdir):
    """The cache files of the npy backend in a work directory."""
    return sorted((pathlib.Path(workdir) / '_cache' / 'frames' / BACKEND).glob('*.npy'))


def run_cli(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``main(argv)`` in this process."""
    exit_code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return exit_code, out, err


def assert_bad_input(exit_code, err):
    """Exit code 2, one line on stderr, no traceback."""
    assert exit_code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert 'Traceback' not in err


def sampler_of(data, workdir, backend=BACKEND):
    """The library's sampler over the same dataset and work directory."""
    return ndsampler.CocoSampler(kwcoco.CocoDataset(data), workdir=workdir, backend=backend)


COMMAND_NAMES = [command.__name__.rpartition('.')[2] for command in COMMANDS]


@pytest.mark.parametrize('argv', [[]] + [[name] for name in COMMAND_NAMES],
                         ids=['ndsampler'] + COMMAND_NAMES)
def test_help_of_the_command_and_of_each_subcommand(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv + ['--help'])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith('usage: ndsampler ' + ' '.join(argv))


def test_prepare_builds_one_cache_per_image_then_validate_finds_none_missing(
        capsys, data, workdir):
    exit_code, out, _ = run_cli(capsys, 'prepare', data, '--workdir', workdir,
                                '--backend', BACKEND, '--workers', 2)
    assert exit_code == 0
    assert "3 images ready in the 'npy' cache" in out
    assert len(npy_caches(workdir)) == 3
    exit_code, out, _ = run_cli(capsys, 'validate', data, '--workdir', workdir,
                                '--backend', BACKEND)
    assert exit_code == 0
    assert out.strip().endswith('3 source files: 3 ok')


@requires_gdal
def test_prepare_and_validate_the_cog_cache(capsys, data, workdir):
    assert run_cli(capsys, 'prepare', data, '--workdir', workdir, '--backend', 'cog')[0] == 0
    assert run_cli(capsys, 'validate', data, '--workdir', workdir, '--backend', 'cog')[0] == 0


def test_sample_png_is_the_window_with_its_annotations_drawn(capsys, data, workdir, tmp_path):
    out_fpath = tmp_path / 'window.png'
    exit_code, out, _ = run_cli(capsys, 'sample', data, '--workdir', workdir, '--backend', BACKEND,
                                '--gid', 1, '--cx', 30, '--cy', 40, '--width', 70,
                                '--height', 50, '--out', out_fpath)
    assert exit_code == 0
    assert '50 x 70 (h x w) window of image 1, 1 annotations' in out
    drawn = kwimage.imread(out_fpath)
    assert drawn.shape == (50, 70, 3)
    target = {'gid': 1, 'cx': 30, 'cy': 40, 'width': 70, 'height': 50}
    raw = sampler_of(data, workdir).load_sample(target)['im']
    assert not np.array_equal(drawn, raw)  # the annotation's box is drawn on it


def test_sample_png_around_an_annotation_has_its_box_size(capsys, data, workdir, tmp_path):
    out_fpath = tmp_path / 'annot.jpg'
    exit_code, _, _ = run_cli(capsys, 'sample', data, '--workdir', workdir, '--backend', BACKEND,
                              '--aid', 1, '--out', out_fpath)
    assert exit_code == 0
    assert kwimage.imread(out_fpath).shape == (40, 30, 3)  # bbox [10, 20, 30, 40]


WINDOW_ARGS = ['--gid', 1, '--cx', 395, '--cy', 5, '--width', 32, '--height', 24]
WINDOW_TARGET = {'gid': 1, 'cx': 395, 'cy': 5, 'width': 32, 'height': 24}


@pytest.mark.parametrize('args, target', [
    (WINDOW_ARGS, WINDOW_TARGET),
    (WINDOW_ARGS + ['--channels', 'b|r'], dict(WINDOW_TARGET, channels='b|r')),
    (['--aid', 2, '--width', 64, '--height', 16], {'aid': 2, 'width': 64, 'height': 16}),
], ids=['padded window', 'channels', 'annotation'])
def test_sample_npy_equals_load_sample(capsys, data, workdir, tmp_path, args, target):
    out_fpath = tmp_path / 'window.npy'
    exit_code, _, _ = run_cli(capsys, 'sample', data, '--workdir', workdir, '--backend', BACKEND,
                              *args, '--out', out_fpath)
    assert exit_code == 0
    expected = sampler_of(data, workdir).load_sample(target)['im']
    saved = np.load(out_fpath)
    assert saved.dtype == expected.dtype
    np.testing.assert_array_equal(saved, expected)


def test_grid_count_and_json_match_new_sample_grid(capsys, data, workdir, tmp_path):
    out_fpath = tmp_path / 'grid.json'
    exit_code, out, _ = run_cli(capsys, 'grid', data, '--window', 64, 96, '--overlap', 0.25,
                                '--out', out_fpath)
    assert exit_code == 0
    sampler = sampler_of(data, workdir, backend=None)
    grid = sampler.new_sample_grid('image_detection', (64, 96), window_overlap=0.25)
    assert out.strip().splitlines()[-1] == '{} windows ({} positive, {} negative)'.format(
        len(grid['targets']), len(grid['positives_indexes']), len(grid['negatives_indexes']))
    written = json.loads(out_fpath.read_text())
    assert written['positives_indexes'] == grid['positives_indexes']
    targets = [target_from_json(target) for target in written['targets']]
    assert targets == grid['targets']
    assert sampler.load_sample(targets[-1])['im'].shape[0:2] == (64, 96)


def test_video_grid_count_matches_new_sample_grid(capsys):
    exit_code, out, _ = run_cli(capsys, 'grid', 'vidshapes1', '--window', 128, 128,
                                '--frames', 2)
    assert exit_code == 0
    sampler = ndsampler.CocoSampler.demo('vidshapes1', backend=None)
    grid = sampler.regions.new_sample_grid('video_detection', (2, 128, 128), verbose=0)
    assert out.strip().startswith('{} windows'.format(len(grid['targets'])))


def test_validate_reports_missing_caches(capsys, data, workdir):
    exit_code, out, _ = run_cli(capsys, 'validate', data, '--workdir', workdir,
                                '--backend', BACKEND)
    assert exit_code == 1
    assert out.count('missing ') == 3
    assert out.strip().endswith('3 source files: 3 missing')


def test_validate_catches_a_truncated_cache_and_fix_repairs_it(capsys, data, workdir):
    argv = ['validate', data, '--workdir', workdir, '--backend', BACKEND]
    assert run_cli(capsys, 'prepare', data, '--workdir', workdir, '--backend', BACKEND)[0] == 0
    truncated = npy_caches(workdir)[0]
    os.truncate(truncated, truncated.stat().st_size // 2)
    sampler = sampler_of(data, workdir)
    statuses = [sampler.frames.backend.cache_status(part.fpath) for gid in sampler.image_ids
                for part in sampler.frames._lookup_parts(gid)]
    assert sorted(statuses) == ['corrupt', 'ok', 'ok']

    exit_code, out, _ = run_cli(capsys, *argv)
    assert exit_code == 1
    assert out.count('corrupt ') == 1
    assert out.strip().endswith('3 source files: 1 corrupt, 2 ok')

    exit_code, out, _ = run_cli(capsys, *argv, '--fix')
    assert exit_code == 0
    assert out.strip().endswith('3 source files: 3 ok')
    assert run_cli(capsys, *argv)[0] == 0


def test_validate_reports_a_missing_source_it_cannot_fix(capsys, data, workdir, tmp_path):
    dset = kwcoco.CocoDataset(data)
    dset.reroot(absolute=True)
    dset.add_image(file_name=str(tmp_path / 'gone.png'), id=9, width=10, height=10)
    dset.dump(tmp_path / 'gone.kwcoco.json')
    exit_code, out, _ = run_cli(capsys, 'validate', tmp_path / 'gone.kwcoco.json',
                                '--workdir', workdir, '--backend', BACKEND, '--fix')
    assert exit_code == 1
    assert 'no source  {}'.format(tmp_path / 'gone.png') in out
    assert out.strip().endswith('4 source files: 1 no source, 3 ok')


def test_info_lists_the_counts_and_the_caches(capsys, data, workdir):
    exit_code, out, _ = run_cli(capsys, 'info', data, '--workdir', workdir)
    assert exit_code == 0
    rows = [line.split() for line in out.splitlines()]
    for name, count in [('images', '3'), ('videos', '0'), ('annotations', '4'),
                        ('categories', '2')]:
        assert [name, count] in rows
    assert 'no caches in' in out
    run_cli(capsys, 'prepare', data, '--workdir', workdir, '--backend', BACKEND)
    rows = [line.split() for line in run_cli(capsys, 'info', data, '--workdir', workdir)[1]
            .splitlines()]
    assert ['backend', 'caches', 'size'] in rows
    assert [BACKEND, '3'] in [row[0:2] for row in rows]


@pytest.mark.parametrize('workers', [0, 1])
def test_bench_prints_a_positive_rate(capsys, data, workdir, workers):
    exit_code, out, _ = run_cli(capsys, 'bench', data, '--workdir', workdir, '--backend', BACKEND,
                                '--window', 32, 48, '--seconds', 0.3, '--workers', workers)
    assert exit_code == 0
    header, row = out.strip().splitlines()[-2:]
    values = dict(zip(header.split(), row.split()))
    assert values['backend'] == BACKEND and values['window'] == '32x48'
    assert int(values['workers']) == workers
    assert int(values['samples']) > 0 and float(values['samples/s']) > 0


BAD_INPUTS = [
    ('missing kwcoco file', ['info', '{tmp}/absent.kwcoco.json', '--workdir', '{tmp}'],
     'no such kwcoco file'),
    ('malformed kwcoco file', ['info', '{tmp}/malformed.kwcoco.json', '--workdir', '{tmp}'],
     'cannot read kwcoco file'),
    ('unknown demo key', ['info', 'not-a-demo-key', '--workdir', '{tmp}'], 'not-a-demo-key'),
    ('unknown gid', ['sample', '{data}', '--workdir', '{tmp}', '--backend', BACKEND,
                     '--gid', '999', '--out', '{tmp}/x.npy'], 'gid=999'),
    ('unknown aid', ['sample', '{data}', '--workdir', '{tmp}', '--backend', BACKEND,
                     '--aid', '999', '--out', '{tmp}/x.npy'], 'aid=999'),
    ('negative width', ['sample', '{data}', '--workdir', '{tmp}', '--backend', BACKEND,
                        '--gid', '1', '--cx', '5', '--cy', '5', '--width', '-4',
                        '--height', '4', '--out', '{tmp}/x.npy'], '-4'),
    ('partial window', ['sample', '{data}', '--workdir', '{tmp}', '--gid', '1',
                        '--width', '4', '--out', '{tmp}/x.npy'], '--cx'),
    ('unknown channel', ['sample', '{data}', '--workdir', '{tmp}', '--backend', BACKEND,
                         '--gid', '1', '--channels', 'nir', '--out', '{tmp}/x.npy'], 'nir'),
    ('bad output suffix', ['sample', '{data}', '--workdir', '{tmp}', '--gid', '1',
                           '--out', '{tmp}/x.bmp'], 'x.bmp'),
    ('unknown backend', ['prepare', '{data}', '--workdir', '{tmp}', '--backend', 'tiledb'],
     'tiledb'),
    ('overlap of 1', ['grid', '{data}', '--window', '8', '8', '--overlap', '1'], 'overlap'),
]


@pytest.mark.parametrize('argv, needle', [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_on_stderr(capsys, data, tmp_path, argv, needle):
    (tmp_path / 'malformed.kwcoco.json').write_text('[1, 2]')
    argv = [arg.format(data=data, tmp=tmp_path) for arg in argv]
    exit_code, out, err = run_cli(capsys, *argv)
    assert_bad_input(exit_code, err)
    assert err.startswith('ndsampler {}: error: '.format(argv[0]))
    assert needle in err
    assert not (tmp_path / 'x.npy').exists()


@pytest.mark.skipif(HAVE_GDAL, reason='GDAL is installed: the cog backend is available')
def test_cog_without_gdal_exits_2_and_says_how_to_install_it(capsys, data, workdir):
    exit_code, _, err = run_cli(capsys, 'prepare', data, '--workdir', workdir, '--backend', 'cog')
    assert_bad_input(exit_code, err)
    assert 'GDAL' in err


@pytest.mark.parametrize('argv', [
    ['grid', 'shapes8', '--window', '-64', '64'],
    ['bench', 'shapes8', '--workdir', '.', '--window', '8', '8', '--seconds', '0'],
    ['sample', 'shapes8', '--workdir', '.', '--gid', '1', '--aid', '1', '--out', 'x.npy'],
    ['frobnicate'],
], ids=['negative window', 'zero seconds', 'gid and aid', 'unknown command'])
def test_argument_errors_exit_2_through_argparse(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert 'error:' in err and 'Traceback' not in err


def test_python_dash_m_ndsampler_help_runs_in_a_subprocess():
    result = subprocess.run([sys.executable, '-m', 'ndsampler', '--help'],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in COMMAND_NAMES:
        assert name in result.stdout


def test_console_script_reports_bad_input_and_runs_a_command(data, tmp_path):
    script = shutil.which('ndsampler', path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip('the ndsampler console script is not installed next to this python')
    bad = subprocess.run([script, 'sample', data, '--workdir', str(tmp_path), '--backend',
                          BACKEND, '--gid', '999', '--out', str(tmp_path / 'x.npy')],
                         capture_output=True, text=True, timeout=120)
    assert_bad_input(bad.returncode, bad.stderr)
    good = subprocess.run([script, 'grid', data, '--window', '64', '64'],
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip().endswith('negative)')
