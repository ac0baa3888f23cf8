"""
Bad input gets a typed error that names the offending value, on every
backend; a missing GDAL gets an error that says how to install it.
"""
import os
import subprocess
import sys
import textwrap

import _optional_deps
import pytest

import ndsampler
from ndsampler import errors

GOOD = {'gid': 1, 'cx': 10, 'cy': 10, 'width': 8, 'height': 8}

BAD_TARGETS = [
    ('unknown gid', {'gid': 999, 'cx': 1, 'cy': 1, 'width': 2, 'height': 2},
     errors.UnknownIdError, KeyError, '999'),
    ('unknown aid', {'aid': 12345}, errors.UnknownIdError, KeyError, '12345'),
    ('no id', {'cx': 1, 'cy': 1, 'width': 2, 'height': 2},
     errors.InvalidTargetError, ValueError, 'no source object id'),
    ('nan centre', dict(GOOD, cx=float('nan')), errors.InvalidTargetError, ValueError, 'nan'),
    ('inf centre', dict(GOOD, cy=float('inf')), errors.InvalidTargetError, ValueError, 'inf'),
    ('negative size', dict(GOOD, width=-3), errors.InvalidTargetError, ValueError, '-3'),
    ('zero size', dict(GOOD, height=0), errors.InvalidTargetError, ValueError, "'height'"),
    ('huge size', dict(GOOD, width=1e9, height=1e9), errors.InvalidTargetError, ValueError,
     '1000000000'),
    ('string size', dict(GOOD, width='big'), errors.InvalidTargetTypeError, TypeError, 'big'),
    ('missing size', {'gid': 1, 'cx': 1, 'cy': 1}, errors.InvalidTargetError, ValueError,
     'width'),
    ('bad pad', dict(GOOD, pad=-1), errors.InvalidTargetError, ValueError, '-1'),
    ('empty slices', {'gid': 1, 'slices': (slice(5, 5), slice(0, 3))},
     errors.InvalidTargetError, ValueError, 'slice(5, 5'),
    ('unknown channel', dict(GOOD, channels='nir'), errors.UnknownChannelError, KeyError,
     'nir'),
    ('target not a dict', 42, errors.InvalidTargetError, ValueError, '42'),
    ('unknown vidid', {'vidid': 99}, errors.UnknownIdError, KeyError, '99'),
    ('unknown gid in gids', {'gids': [1, 98]}, errors.UnknownIdError, KeyError, '98'),
    ('gid of the wrong type', dict(GOOD, gid=[1]), errors.InvalidTargetError, ValueError, '[1]'),
    ('slices of the wrong type', {'gid': 1, 'slices': 'rows 1-3'}, errors.InvalidTargetTypeError,
     TypeError, 'rows 1-3'),
    ('window_dims of the wrong type', dict(GOOD, window_dims=7), errors.InvalidTargetTypeError,
     TypeError, '7'),
    ('scale of zero', dict(GOOD, scale=0), errors.InvalidTargetError, ValueError, 'scale'),
    ('size without a centre', {'gid': 1, 'width': 10, 'height': 10}, errors.InvalidTargetError,
     ValueError, 'needs a centre'),
]


@pytest.mark.parametrize('case', BAD_TARGETS, ids=[c[0] for c in BAD_TARGETS])
def test_bad_target_raises_a_typed_error_naming_the_value(sampler, case):
    _, target, error_type, builtin_type, needle = case
    with pytest.raises(error_type) as info:
        sampler.load_sample(target)
    assert isinstance(info.value, builtin_type)
    assert needle in str(info.value)


def test_a_padkw_fill_the_dtype_cannot_hold_is_an_invalid_target_error(sampler):
    with pytest.raises(errors.InvalidTargetError, match='padkw') as info:
        sampler.load_sample({'gid': 1, 'slices': (slice(-5, 5), slice(0, 10)),
                             'padkw': {'mode': 'constant', 'constant_values': -1}})
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize('damage', ['missing', 'empty', 'random bytes', 'truncated png',
                                    'truncated jpg'])
def test_unreadable_source_raises_an_error_naming_the_file(dset, backend, tmp_path, damage):
    src = dset.get_image_fpath(1)
    broken = tmp_path / ('broken.jpg' if 'jpg' in damage else 'broken.png')
    if damage == 'empty':
        broken.write_bytes(b'')
    elif damage == 'random bytes':
        broken.write_bytes(os.urandom(5000))
    elif damage.startswith('truncated'):
        whole = open(src if 'png' in damage else dset.get_image_fpath(3), 'rb').read()
        broken.write_bytes(whole[:len(whole) // 2])
    dset.imgs[1]['file_name'] = os.fspath(broken)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'work', backend=backend)
    with pytest.raises(errors.SourceReadError) as info:
        sampler.load_sample(GOOD)
    assert isinstance(info.value, OSError)
    assert os.fspath(broken) in str(info.value)
    assert os.path.exists(src)


def test_unknown_backend_type_and_key_raise_value_errors(dset, tmp_path):
    with pytest.raises(ValueError, match='tiledb'):
        ndsampler.CocoSampler(dset, workdir=tmp_path, backend='tiledb')
    with pytest.raises(ValueError, match='colour'):
        ndsampler.CocoSampler(dset, workdir=tmp_path, backend={'type': 'cog', 'config': {'colour': 1}})
    with pytest.raises(ValueError, match='flavour'):
        ndsampler.CocoSampler(dset, workdir=tmp_path, backend={'type': 'npy', 'flavour': 1})
    with pytest.raises(ValueError, match='WAVELET'):
        ndsampler.CocoSampler(dset, workdir=tmp_path, backend={'type': 'cog', 'config': {'compress': 'WAVELET'}})


def test_cog_without_gdal_says_how_to_install_it(dset, tmp_path, monkeypatch):
    import sys
    from ndsampler.utils import util_gdal
    monkeypatch.setitem(sys.modules, 'osgeo', None)
    util_gdal.have_gdal.cache_clear()
    try:
        with pytest.raises(errors.BackendUnavailableError) as info:
            ndsampler.CocoSampler(dset, workdir=tmp_path, backend='cog')
        assert isinstance(info.value, ImportError)
        assert 'pip install' in str(info.value) and 'libgdal-dev' in str(info.value)
        sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='auto')
        assert sampler.frames._backend['type'] == 'npy'
        assert sampler.load_sample(GOOD)['im'].shape == (8, 8, 3)
    finally:
        util_gdal.have_gdal.cache_clear()


NO_GDAL_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {tests!r})
    import _optional_deps
    assert _optional_deps.apply() == ['osgeo'] and not _optional_deps.gdal_importable()
    import kwcoco, numpy as np, ndsampler
    from conftest import make_dataset
    dset = make_dataset({data!r})
    target = {{'gid': 1, 'slices': (slice(-5, 15), slice(390, 410))}}
    windows = {{}}
    for backend in [None, 'npy', 'auto']:
        sampler = ndsampler.CocoSampler(dset, workdir={work!r}, backend=backend)
        windows[backend] = sampler.load_sample(target)['im']
        if backend == 'auto':
            assert sampler.frames.cache_dpath.endswith(os.path.join('frames', 'npy')), sampler.frames.cache_dpath
    assert np.array_equal(windows[None], windows['npy']) and np.array_equal(windows['npy'], windows['auto'])
    for backend in ['cog', {{'type': 'cog', 'config': {{'compress': 'ZSTD'}}}}]:
        try:
            ndsampler.CocoSampler(dset, workdir={work!r}, backend=backend)
        except ndsampler.errors.BackendUnavailableError as ex:
            assert isinstance(ex, ImportError)
            assert 'pip install' in str(ex) and 'libgdal-dev' in str(ex), str(ex)
        else:
            raise AssertionError('cog without GDAL did not raise')
    assert 'osgeo' not in [m for m in sys.modules if sys.modules[m] is not None]
    print('no-gdal OK')
""")


def test_without_gdal_none_npy_and_auto_work_and_cog_says_how_to_install_it(tmp_path):
    """In a fresh interpreter where ``import osgeo`` fails (public API only)."""
    tests = os.path.dirname(os.path.abspath(__file__))
    script = NO_GDAL_SCRIPT.format(tests=tests, data=os.fspath(tmp_path / 'data'),
                                   work=os.fspath(tmp_path / 'work'))
    env = dict(os.environ, NDSAMPLER_TEST_BLOCK_GDAL='1')
    for var in set(_optional_deps.HIDEABLE) - {'NDSAMPLER_TEST_BLOCK_GDAL'}:
        env.pop(var, None)
    result = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith('no-gdal OK')
