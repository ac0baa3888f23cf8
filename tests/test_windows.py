"""Pure window arithmetic, including property-based checks of padding."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ndsampler import windows
from ndsampler._backends.readers import ArrayReader, read_window


def test_center_extent_matches_the_original_convention():
    assert windows.center_extent_to_slice((0, 0), (21, 11)) == (slice(-11, 10), slice(-6, 5))
    assert windows.center_extent_to_slice((361.5, 322.5), (109, 51)) == (
        slice(307, 416), slice(297, 348))
    assert windows.window_dims_from_target({'width': 64.000002, 'height': 64}) == (64, 65)


def test_region_bounds_follow_numpy_slicing():
    assert windows.region_to_bounds((slice(-20), slice(-10)), 600, 500) == (0, 580, 0, 490)
    assert windows.region_to_bounds((slice(10, 1000),), 100, 50) == (10, 100, 0, 50)


@settings(max_examples=300, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), y0=st.integers(-20, 20),
       x0=st.integers(-20, 20), wh=st.integers(1, 25), ww=st.integers(1, 25),
       fill=st.integers(0, 255))
def test_window_inside_part_equals_the_array_and_the_rest_is_fill(h, w, y0, x0, wh, ww, fill):
    array = np.arange(h * w * 2, dtype=np.int32).reshape(h, w, 2)
    out = read_window(ArrayReader(array), y0, y0 + wh, x0, x0 + ww,
                      padkw={'mode': 'constant', 'constant_values': fill})
    assert out.shape == (wh, ww, 2)
    for yy in range(wh):
        for xx in range(ww):
            sy, sx = y0 + yy, x0 + xx
            if 0 <= sy < h and 0 <= sx < w:
                assert (out[yy, xx] == array[sy, sx]).all()
            else:
                assert (out[yy, xx] == fill).all()


def test_non_constant_padkw_pads_from_the_data():
    array = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    out = read_window(ArrayReader(array), -1, 2, 0, 3, padkw={'mode': 'edge'})
    assert out[..., 0].tolist() == [[0, 1, 2], [0, 1, 2], [3, 4, 5]]
