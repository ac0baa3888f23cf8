"""
Window arithmetic (``ndsampler.windows``) and padding, property-checked
through the public sampler on in-memory (``.npy``) sources.
"""
import itertools
import os

import kwcoco
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ndsampler
from ndsampler import windows

_unique = itertools.count()


def npy_sampler(dpath, array, backend=None):
    """A sampler over one ``.npy`` source holding ``array`` (a new file each
    time, so no decoded copy of an earlier array can answer)."""
    fpath = os.path.join(dpath, 'a{}.npy'.format(next(_unique)))
    np.save(fpath, array)
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=fpath, id=1, height=array.shape[0], width=array.shape[1])
    return ndsampler.CocoSampler(dset, workdir=os.path.join(dpath, 'work'), backend=backend)


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    return os.fspath(tmp_path_factory.mktemp('windows'))


def test_center_extent_matches_the_original_convention():
    assert windows.center_extent_to_slice((0, 0), (21, 11)) == (slice(-11, 10), slice(-6, 5))
    assert windows.center_extent_to_slice((361.5, 322.5), (109, 51)) == (
        slice(307, 416), slice(297, 348))
    assert windows.window_dims_from_target({'width': 64.000002, 'height': 64}) == (64, 65)


def test_region_bounds_follow_numpy_slicing():
    assert windows.region_to_bounds((slice(-20), slice(-10)), 600, 500) == (0, 580, 0, 490)
    assert windows.region_to_bounds((slice(10, 1000),), 100, 50) == (10, 100, 0, 50)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 12), w=st.integers(1, 12), y0=st.integers(-20, 20),
       x0=st.integers(-20, 20), wh=st.integers(1, 25), ww=st.integers(1, 25),
       fill=st.integers(0, 255))
def test_window_inside_part_equals_the_array_and_the_rest_is_fill(scratch, h, w, y0, x0, wh, ww, fill):
    array = np.arange(h * w * 2, dtype=np.int32).reshape(h, w, 2)
    sampler = npy_sampler(scratch, array)
    out = sampler.load_sample({'gid': 1, 'slices': (slice(y0, y0 + wh), slice(x0, x0 + ww)),
                               'padkw': {'mode': 'constant', 'constant_values': fill}},
                              with_annots=False)['im']
    assert out.shape == (wh, ww, 2) and out.dtype == np.int32
    for yy in range(wh):
        for xx in range(ww):
            sy, sx = y0 + yy, x0 + xx
            if 0 <= sy < h and 0 <= sx < w:
                assert (out[yy, xx] == array[sy, sx]).all()
            else:
                assert (out[yy, xx] == fill).all()


def test_non_constant_padkw_pads_from_the_data(scratch):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    sampler = npy_sampler(scratch, array)
    out = sampler.load_sample({'gid': 1, 'slices': (slice(-1, 2), slice(0, 3)),
                               'padkw': {'mode': 'edge'}})['im']
    assert out[..., 0].tolist() == [[0, 1, 2], [0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize('backend', [None, 'npy'])
def test_a_scaled_window_of_float16_data_keeps_float16(scratch, backend):
    sampler = npy_sampler(scratch, np.ones((8, 8, 1), np.float16), backend=backend)
    half = sampler.load_sample({'gid': 1, 'slices': (slice(0, 8), slice(0, 8)), 'scale': 0.5})['im']
    assert half.dtype == np.float16 and half.shape == (4, 4, 1) and (half == 1).all()


def test_a_plain_centred_target_resolves_as_the_general_path_does():
    """Plain centred targets take a shorter path; ``pad=0`` sends the same
    target down the general one, and the specs must be equal."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        cx, cy = rng.uniform(-100, 700, 2)
        kind = rng.integers(0, 3)
        cx, cy = [(int(cx), int(cy)), (float(cx), float(cy)), (np.float64(cx), np.float64(cy))][kind]
        target = {'cx': cx, 'cy': cy, 'width': int(rng.integers(1, 300)),
                  'height': int(rng.integers(1, 300))}
        if rng.integers(0, 2):  # window_dims wins over the target's own size
            target['window_dims'] = (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
            target['width'] = np.float64(rng.uniform(1, 40))
        fast = windows.resolve_sample(target, (600, 800), (3,), channels='r|g')
        assert windows._plain_centre_spec(target, (600, 800), (3,), 'r|g', None) == fast
        general = windows.resolve_sample(dict(target, pad=0), (600, 800), (3,), channels='r|g')
        assert fast == general and type(fast) is type(general)
        assert windows._plain_centre_spec(dict(target, pad=0), (600, 800), (3,), 'r|g', None) is None
        want_h = target['window_dims'][0] if 'window_dims' in target else target['height']
        assert fast.space_slice[0].stop - fast.space_slice[0].start == want_h
