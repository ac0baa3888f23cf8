"""
The shared suite: every test here runs on each backend (None, 'npy', 'cog').
"""
import pickle

import numpy as np
import pytest

from conftest import JPEG_SHAPE, RGB_SHAPE, direct_read


def test_windows_equal_a_direct_read_of_the_source(sampler):
    rng = np.random.default_rng(1)
    fpath = sampler.dset.get_image_fpath(1)
    for _ in range(40):
        h, w = rng.integers(1, 120, size=2)
        cy, cx = rng.integers(-60, RGB_SHAPE[0] + 60), rng.integers(-60, RGB_SHAPE[1] + 60)
        sample = sampler.load_sample({'gid': 1, 'cx': cx, 'cy': cy, 'width': w, 'height': h},
                                     with_annots=False)
        y0, x0 = int(np.floor(cy - h / 2)), int(np.floor(cx - w / 2))
        expected = direct_read(fpath, y0, y0 + h, x0, x0 + w)
        assert sample['im'].shape == (h, w, 3)
        np.testing.assert_array_equal(sample['im'], expected)


def test_single_band_image_comes_back_with_one_channel(sampler):
    sample = sampler.load_sample({'gid': 2, 'slices': (slice(-3, 10), slice(60, 75))})
    expected = direct_read(sampler.dset.get_image_fpath(2), -3, 10, 60, 75)
    assert sample['im'].shape == (13, 15, 1)
    np.testing.assert_array_equal(sample['im'], expected)


def test_jpeg_source_is_close_to_a_direct_read(sampler):
    sample = sampler.load_sample({'gid': 3, 'slices': (slice(0, JPEG_SHAPE[0]), slice(0, JPEG_SHAPE[1]))})
    expected = direct_read(sampler.dset.get_image_fpath(3), 0, JPEG_SHAPE[0], 0, JPEG_SHAPE[1])
    diff = np.abs(sample['im'].astype(int) - expected.astype(int))
    assert diff.mean() < 1.5, 'JPEG transcoding should be near lossless'


def test_out_of_bounds_slices_are_zero_padded_and_aligned(sampler):
    sample = sampler.load_sample({'gid': 1, 'slices': (slice(-5, 5), slice(395, 405))})
    im = sample['im']
    src = direct_read(sampler.dset.get_image_fpath(1), 0, 5, 395, 400)
    assert im.shape == (10, 10, 3)
    assert not im[0:5].any() and not im[:, 5:].any()
    np.testing.assert_array_equal(im[5:10, 0:5], src)
    assert sample['params']['offset'].tolist() == [-395, 5]
    assert sample['params']['st_dims'] == [(-5, 5), (395, 405)]
    assert sample['params']['sample_tlbr'].data.tolist() == [395, -5, 405, 5]


def test_window_entirely_outside_the_image_is_all_padding(sampler):
    sample = sampler.load_sample({'gid': 1, 'cx': -500, 'cy': 900, 'width': 16, 'height': 8})
    assert sample['im'].shape == (8, 16, 3)
    assert not sample['im'].any()


def test_pad_adds_context_and_padkw_sets_the_fill(sampler):
    target = {'gid': 1, 'cx': 2, 'cy': 2, 'width': 10, 'height': 20, 'pad': (2, 4),
              'padkw': {'mode': 'constant', 'constant_values': 7}}
    sample = sampler.load_sample(target)
    im = sample['im']
    # window x: floor(2 - 5) - 4 = -7 .. 11, y: floor(2 - 10) - 2 = -10 .. 14
    assert im.shape == (24, 18, 3)
    assert sample['params']['st_dims'] == [(-10, 14), (-7, 11)]
    assert sample['params']['pad'] == (2, 4)
    assert (im[0:10] == 7).all() and (im[:, 0:7] == 7).all()
    src = direct_read(sampler.dset.get_image_fpath(1), 0, 14, 0, 11)
    np.testing.assert_array_equal(im[10:, 7:], src)


def test_windows_are_writable_contiguous_copies(sampler):
    first = sampler.load_sample({'gid': 1, 'cx': 50, 'cy': 50, 'width': 20, 'height': 20})['im']
    assert first.flags['C_CONTIGUOUS'] and first.flags['WRITEABLE']
    expected = first.copy()
    first[...] = 0
    again = sampler.load_sample({'gid': 1, 'cx': 50, 'cy': 50, 'width': 20, 'height': 20})['im']
    np.testing.assert_array_equal(again, expected)


def test_annotations_come_back_in_window_coordinates(sampler):
    sample = sampler.load_sample({'gid': 1, 'cx': 25, 'cy': 40, 'width': 50, 'height': 50})
    # window: x 0..50, y 15..65; annotation 1 has bbox x=10, y=20, w=30, h=40
    annots = sample['annots']
    assert annots['aids'].tolist() == [1]
    assert annots['cids'].tolist() == [1]
    assert annots['rel_boxes'].to_xywh().data.tolist() == [[10.0, 5.0, 30.0, 40.0]]
    dets = annots['frame_dets'][0]
    assert dets.boxes.to_xywh().data.tolist() == [[10.0, 5.0, 30.0, 40.0]]
    assert dets.data['aids'].tolist() == [1]
    poly = dets.data['segmentations'].data[0].data[0]
    assert poly.data['exterior'].data.tolist() == [[10, 5], [40, 5], [40, 45], [10, 45]]
    kpts = dets.data['keypoints'].data[0]
    assert kpts.xy.tolist() == [[25.0, 25.0]]
    assert dets.meta['gid'] == 1


def test_aid_target_infers_the_box_window_and_category(sampler):
    sample = sampler.load_sample({'aid': 2})
    target = sample['target']
    assert (target['gid'], target['category_id']) == (1, 2)
    assert (target['cx'], target['cy'], target['width'], target['height']) == (110, 85, 20, 10)
    assert target['space_slice'] == (slice(80, 90), slice(100, 120))
    assert target['annot_idx'] == 0
    assert sample['annots']['rel_boxes'].data.tolist() == [[0.0, 0.0, 20.0, 10.0]]
    assert sample['tr'] is target


def test_touching_boxes_count_and_visible_thresh_filters(sampler):
    # annotation 1 spans y 20..60; a window ending at row 20 touches it
    touching = sampler.load_sample({'gid': 1, 'slices': (slice(0, 20), slice(0, 50))})
    assert touching['annots']['aids'].tolist() == [1]
    sliver = {'gid': 1, 'slices': (slice(0, 25), slice(0, 50))}
    assert sampler.load_sample(sliver, visible_thresh=0.5)['annots']['aids'].tolist() == []
    assert sampler.load_sample(sliver, visible_thresh=0.1)['annots']['aids'].tolist() == [1]


def test_annot_ids_replace_the_spatial_lookup(sampler):
    sample = sampler.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4},
                                 annot_ids=[2, 4])
    assert sample['annots']['aids'].tolist() == [2]
    assert sample['annots']['rel_boxes'].data.tolist() == [[97.0, 77.0, 20.0, 10.0]]


def test_legacy_keys_can_be_turned_off(sampler):
    sample = sampler.load_sample({'aid': 1, 'legacy_target': False, 'legacy_annots': False})
    assert 'tr' not in sample
    assert sorted(sample['annots']) == ['frame_dets']
    assert 'annot_idx' not in sample['target']
    assert sorted(sample) == ['annots', 'classes', 'im', 'kp_classes', 'params', 'target']


def test_channels_select_and_order_bands(sampler):
    target = {'gid': 1, 'slices': (slice(10, 20), slice(30, 45))}
    full = sampler.load_sample(target)['im']
    picked = sampler.load_sample(dict(target, channels='b|r'))['im']
    np.testing.assert_array_equal(picked, full[:, :, [2, 0]])
    xr_sample = sampler.load_sample(dict(target, channels='g', as_xarray=True))
    assert xr_sample['im'].dims == ('y', 'x', 'c')
    assert xr_sample['im'].coords['c'].values.tolist() == ['g']


def test_sampler_survives_pickling(sampler):
    target = {'gid': 1, 'cx': 100, 'cy': 100, 'width': 32, 'height': 16}
    expected = sampler.load_sample(target)
    clone = pickle.loads(pickle.dumps(sampler))
    got = clone.load_sample(target)
    np.testing.assert_array_equal(got['im'], expected['im'])
    assert got['annots']['aids'].tolist() == expected['annots']['aids'].tolist()


def test_load_region_clips_with_negative_stops(sampler):
    region = sampler.frames.load_region(1, (slice(-20), slice(-10)))
    assert region.shape == (RGB_SHAPE[0] - 20, RGB_SHAPE[1] - 10, 3)
    np.testing.assert_array_equal(
        region, direct_read(sampler.dset.get_image_fpath(1), 0, RGB_SHAPE[0] - 20, 0, RGB_SHAPE[1] - 10))


def test_load_image_returns_the_whole_image(sampler):
    image = sampler.load_image(1)
    np.testing.assert_array_equal(
        np.asarray(image), direct_read(sampler.dset.get_image_fpath(1), 0, RGB_SHAPE[0], 0, RGB_SHAPE[1]))
    img, anns = sampler.load_image_with_annots(1)
    assert img['imdata'].shape == RGB_SHAPE + (3,)
    assert [ann['id'] for ann in anns] == [1, 2, 3]


def test_deprecated_keyword_arguments_warn_and_still_work(sampler):
    target = {'gid': 1, 'cx': 10, 'cy': 10, 'width': 4, 'height': 4}
    with pytest.warns(FutureWarning):
        sample = sampler.load_sample(target, pad=3)
    assert sample['im'].shape == (10, 10, 3)
    with pytest.warns(FutureWarning):
        sample = sampler.load_sample(None, tr=target)
    assert sample['im'].shape == (4, 4, 3)


def test_window_dims_square_and_explicit(sampler):
    square = sampler.load_sample({'gid': 1, 'cx': 50, 'cy': 50, 'width': 10, 'height': 20,
                                  'window_dims': 'square'})
    assert square['im'].shape == (20, 20, 3)
    explicit = sampler.load_sample({'gid': 1, 'cx': 50, 'cy': 50, 'width': 10, 'height': 20,
                                    'window_dims': (5, 7)})
    assert explicit['target']['space_slice'] == (slice(47, 52), slice(46, 53))
