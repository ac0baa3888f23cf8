"""Video (space-time) and multispectral sampling, and annotations under ``scale``
(scaled pixels are checked in ``test_backend_conformance.py``)."""
import os

import cv2
import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from ndsampler import errors


@pytest.fixture(scope='module')
def vidshapes():
    return kwcoco.CocoDataset.demo('vidshapes8', num_frames=3)


def test_video_target_stacks_frames_in_time_order(vidshapes, backend, tmp_path):
    sampler = ndsampler.CocoSampler(vidshapes, workdir=tmp_path, backend=backend)
    target = {'vidid': 1, 'time_slice': slice(1, 3), 'cx': 300, 'cy': 200, 'width': 64, 'height': 32}
    sample = sampler.load_sample(target)
    gids = sample['target']['gids']
    assert sample['im'].shape == (2, 32, 64, 3)
    assert gids == ndsampler.space_time.video_gids(vidshapes, 1)[1:3]
    for t, gid in enumerate(gids):
        frame = sampler.load_sample({'gid': gid, 'slices': (slice(184, 216), slice(268, 332))})['im']
        np.testing.assert_array_equal(sample['im'][t], frame)
    assert sample['target']['space_slice'] == (slice(184, 216), slice(268, 332))
    assert sample['params']['tf_rel_to_abs'].tolist() == [[1, 0, 268], [0, 1, 184], [0, 0, 1]]
    for t, dets in enumerate(sample['annots']['frame_dets']):
        assert dets.meta['gid'] == gids[t] and dets.meta['rel_frame_index'] == t


def test_a_video_sample_target_loads_again_to_the_same_window(tmp_path):
    dset = kwcoco.CocoDataset.demo('vidshapes2', num_frames=2)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    first = sampler.load_sample({'vidid': 1, 'cx': 100, 'cy': 100, 'width': 32, 'height': 32})
    again = sampler.load_sample(first['target'])
    np.testing.assert_array_equal(again['im'], first['im'])
    only_slices = sampler.load_sample({'vidid': 1, 'slices': first['target']['slices']})
    np.testing.assert_array_equal(only_slices['im'], first['im'])


def test_gids_without_a_video_and_a_single_gid_fall_back_to_image_dims(dset, tmp_path):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    sample = sampler.load_sample({'gids': [1]})
    assert sample['im'].shape == (1, 300, 400, 3)
    assert sample['target']['space_dims'] == (300, 400)
    with pytest.raises(errors.UnknownIdError, match='77'):
        sampler.load_sample({'gids': [1, 77]})


def test_out_of_range_time_raises_a_clear_error(vidshapes, tmp_path):
    sampler = ndsampler.CocoSampler(vidshapes, workdir=tmp_path, backend=None)
    with pytest.raises(errors.InvalidTargetError, match='time_slice'):
        sampler.load_sample({'vidid': 1, 'time_slice': slice(2, 9)})
    with pytest.raises(errors.UnknownIdError, match='vidid=99'):
        sampler.load_sample({'vidid': 99})


def test_multispectral_channels_come_back_in_the_requested_order(tmp_path):
    dset = kwcoco.CocoDataset.demo('vidshapes8-multispectral', num_frames=2)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    target = {'vidid': 1, 'cx': 300, 'cy': 300, 'width': 40, 'height': 30}
    both = sampler.load_sample(dict(target, channels='B1|B10', as_xarray=True))['im']
    assert both.dims == ('t', 'y', 'x', 'c') and both.coords['c'].values.tolist() == ['B1', 'B10']
    swapped = sampler.load_sample(dict(target, channels='B10|B1'))['im']
    np.testing.assert_array_equal(swapped, both.values[..., ::-1])
    assert sampler.load_sample(dict(target, channels='B8'))['im'].shape == (2, 30, 40, 1)


def write_half_resolution_band_dataset(dpath):
    """Band 'full' at 64 x 80 and band 'half', the same signal stored at 32 x 40."""
    yy, xx = np.mgrid[0:64, 0:80]
    full = (100 + 60 * np.sin(xx / 9.0) + 40 * np.cos(yy / 7.0)).astype(np.float32)
    half = cv2.resize(full, (40, 32), interpolation=cv2.INTER_AREA)
    kwimage.imwrite(os.path.join(dpath, 'full.tif'), full)  # GDAL if installed, else tifffile
    kwimage.imwrite(os.path.join(dpath, 'half.tif'), half)
    dset = kwcoco.CocoDataset()
    dset.fpath = os.path.join(dpath, 'msi.kwcoco.json')
    vidid = dset.add_video(name='v', width=80, height=64)
    dset.add_image(id=1, name='frame0', video_id=vidid, frame_index=0, width=80, height=64, auxiliary=[
        {'file_name': 'full.tif', 'channels': 'full', 'width': 80, 'height': 64},
        {'file_name': 'half.tif', 'channels': 'half', 'width': 40, 'height': 32,
         'warp_aux_to_img': {'scale': 2.0}}])
    return dset, full


def test_a_half_resolution_band_lines_up_with_the_full_band(tmp_path):
    dset, full = write_half_resolution_band_dataset(tmp_path)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend='npy')
    im = sampler.load_sample({'vidid': 1, 'space_slice': (slice(8, 56), slice(10, 70)),
                              'channels': 'full|half'})['im'][0]
    np.testing.assert_allclose(im[..., 0], full[8:56, 10:70], atol=1e-4)
    # the half band, upsampled back into place, differs only by smoothing
    assert np.abs(im[2:-2, 2:-2, 1] - im[2:-2, 2:-2, 0]).mean() < 2.0


def test_missing_channels_are_nan_with_nodata(tmp_path):
    dset = kwcoco.CocoDataset.demo('vidshapes1-multispectral', num_frames=1)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    im = sampler.load_sample({'vidid': 1, 'cx': 50, 'cy': 50, 'width': 8, 'height': 8,
                              'channels': 'B1|nope', 'nodata': 'float'})['im']
    assert im.dtype.kind == 'f' and np.isnan(im[..., 1]).all() and not np.isnan(im[..., 0]).any()


@pytest.mark.parametrize('scale, expected', [
    (1.0, [10.0, 20.0, 30.0, 40.0]), (2.0, [20.0, 40.0, 60.0, 80.0]), (0.5, [5.0, 10.0, 15.0, 20.0])])
def test_annotation_boxes_follow_the_scale(sampler, scale, expected):
    sample = sampler.load_sample({'gid': 1, 'slices': (slice(0, 80), slice(0, 80)), 'scale': scale})
    assert sample['im'].shape == (int(80 * scale), int(80 * scale), 3)
    assert sample['annots']['rel_boxes'].to_xywh().data.tolist() == [expected]
    poly = sample['annots']['rel_ssegs'].data[0].data[0].data['exterior'].data
    assert np.allclose(poly[0], [10 * scale, 20 * scale])
    assert np.allclose(sample['params']['tf_rel_to_abs'], [[1 / scale, 0, 0], [0, 1 / scale, 0], [0, 0, 1]])
    video = sampler.load_sample({'gids': [1], 'space_slice': (slice(0, 80), slice(0, 80)), 'scale': scale})
    assert video['annots']['frame_dets'][0].boxes.to_xywh().data.tolist() == [expected]


def test_video_sample_grid_covers_every_frame_and_pixel(vidshapes, tmp_path):
    sampler = ndsampler.CocoSampler(vidshapes, workdir=tmp_path, backend=None)
    grid = sampler.new_sample_grid('video_detection', window_dims=(2, 256, 256), window_overlap=0)
    target = grid['targets'][0]
    assert sorted(target) == ['aids', 'gids', 'space_slice', 'time_slice', 'vidid']
    for vidid, video in vidshapes.index.videos.items():
        cover = np.zeros((3, video['height'], video['width']), bool)
        for t in grid['targets']:
            if t['vidid'] == vidid:
                cover[(t['time_slice'],) + t['space_slice']] = True
        assert cover.all()
    sample = sampler.load_sample(grid['positives'][0])
    assert sample['im'].shape == (2, 256, 256, 3) and len(sample['annots']['aids']) > 0


def test_finalize_false_gives_lazy_frames_that_finalize_to_the_same_array(tmp_path):
    dset = kwcoco.CocoDataset.demo('vidshapes1-msi-multisensor')
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    target = {'vidid': 1, 'time_slice': slice(0, 2), 'cx': 100, 'cy': 100, 'width': 64, 'height': 64}
    eager = sampler.load_sample(target)['im']
    lazy = sampler.load_sample(dict(target, finalize=False))['im']
    assert len(lazy) == 2 and hasattr(lazy[0], 'finalize')
    np.testing.assert_allclose(np.stack([frame.finalize() for frame in lazy]), eager, equal_nan=True)


def test_native_scale_returns_each_asset_at_its_own_resolution(tmp_path):
    dset, full = write_half_resolution_band_dataset(tmp_path)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=None)
    target = {'vidid': 1, 'space_slice': (slice(8, 56), slice(10, 70)), 'channels': 'full|half'}
    sample = sampler.load_sample(dict(target, use_native_scale=True))
    (frame,) = sample['im']
    assert [part.shape for part in frame] == [(48, 60, 1), (24, 30, 1)]
    meta = sample['params']['jagged_meta'][0]
    assert meta['channels'] == ['full', 'half']
    assert np.allclose(meta['warps'][1].matrix[0:2, 0:2], np.eye(2) * 0.5)  # window -> native
    np.testing.assert_allclose(frame[0][..., 0], full[8:56, 10:70], atol=1e-4)
    realigned = sampler.load_sample(dict(target, use_native_scale=True, realign_native='largest'))
    assert realigned['im'][0].shape == (48, 60, 2)
