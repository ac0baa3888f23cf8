"""
Bad input gets a typed error that names the offending value.
Runs on every backend.
"""
import os

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
]


def test_a_window_entirely_outside_is_a_zero_padded_window_of_the_requested_size(sampler):
    sample = sampler.load_sample({'gid': 1, 'cx': 5000, 'cy': -5000, 'width': 12, 'height': 7})
    assert sample['im'].shape == (7, 12, 3) and not sample['im'].any()


@pytest.mark.parametrize('case', BAD_TARGETS, ids=[c[0] for c in BAD_TARGETS])
def test_bad_target_raises_a_typed_error_naming_the_value(sampler, case):
    _, target, error_type, builtin_type, needle = case
    with pytest.raises(error_type) as info:
        sampler.load_sample(target)
    assert isinstance(info.value, builtin_type)
    assert needle in str(info.value)


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
    with pytest.raises(ValueError, match='hdf5'):
        ndsampler.CocoSampler(dset, workdir=tmp_path, backend='hdf5')
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
