"""
Targets and the sample dictionary: annotations in window coordinates,
``aid`` targets, ``visible_thresh``, ``annot_ids``, legacy keys, deprecated
keyword arguments and ``window_dims``.  Each test runs on every backend.
(The pixels themselves are checked in ``test_backend_conformance.py``.)
"""
import pytest


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


@pytest.mark.parametrize('case', ['padded', 'scaled', 'video', 'warped-video'])
def test_load_target_annots_returns_the_annotations_load_sample_returns(case):
    import kwcoco
    import ndsampler
    dset = kwcoco.CocoDataset.demo('vidshapes2', num_frames=3, rng=0)
    gid = list(dset.index.vidid_to_gids[1])[1]
    aid = sorted(dset.index.gid_to_aids[gid])[0]
    x, y, w, h = dset.anns[aid]['bbox']
    centre = {'cx': x + w / 2, 'cy': y + h / 2, 'width': 64, 'height': 64}
    if case == 'warped-video':
        # frame 1 is stored at half the video's resolution
        dset.imgs[gid]['warp_img_to_vid'] = {'type': 'affine', 'matrix': [[2, 0, 0], [0, 2, 0], [0, 0, 1]]}
        ann_box = dset.anns[aid]['bbox']
        centre = {'cx': (ann_box[0] + ann_box[2] / 2) * 2, 'cy': (ann_box[1] + ann_box[3] / 2) * 2,
                  'width': 64, 'height': 64}
    targets = {
        'padded': dict(centre, gid=gid, pad=40),
        'scaled': dict(centre, gid=gid, scale=0.5),
        'video': dict(centre, vidid=1, time_slice=slice(0, 3)),
        'warped-video': dict(centre, vidid=1, time_slice=slice(1, 2)),
    }
    sampler = ndsampler.CocoSampler(dset, backend=None)
    target = targets[case]
    expected = sampler.load_sample(target)['annots']['aids'].tolist()
    assert aid in expected
    assert sampler.load_target_annots(target) == expected


@pytest.mark.parametrize('video', [False, True])
@pytest.mark.parametrize('slices', [(slice(-3, 6), slice(500, 520)), (slice(505, 520), slice(-4, 3)),
                                    (slice(-2, 515), slice(-1, 514)), (slice(600, 610), slice(0, 5))])
@pytest.mark.parametrize('extra', [{}, {'padkw': {'constant_values': 7}}, {'scale': 0.37}])
@pytest.mark.parametrize('channels_first', [False, True])
def test_reading_an_overhanging_window_into_a_used_buffer_pads_it_as_read_does(
        video, slices, extra, channels_first):
    """A buffer given to ``Frames.read(out=)`` (a recycled batch row, maybe
    channels first) gets the padding around the data written, whatever it
    held before, also around the rounded placement of a scaled window."""
    import numpy as np
    import ndsampler
    from ndsampler.windows import resolve_sample
    frames = ndsampler.SimpleFrames.demo(backend='npy')
    handle = frames.open(1, None, video)
    spec = resolve_sample(dict(extra, slices=slices), handle.dims, (1, 2) if video else (1,),
                          video=video)
    want = frames.read(spec)
    if channels_first:
        axes = (1, 2, 3, 0) if video else (1, 2, 0)
        used = np.full((want.shape[-1],) + want.shape[:-1], 99, want.dtype).transpose(axes)
    else:
        used = np.full(want.shape, 99, want.dtype)
    assert frames.read(spec, out=used) is used
    np.testing.assert_array_equal(used, want)
    if slices[0].start < 0:
        assert (want[..., 0, :, :] == extra.get('padkw', {}).get('constant_values', 0)).all()


def test_a_pad_value_the_given_buffer_cannot_hold_is_a_target_error():
    import numpy as np
    import ndsampler
    from ndsampler.errors import InvalidTargetError
    from ndsampler.windows import resolve_sample
    frames = ndsampler.SimpleFrames.demo(backend='npy')
    handle = frames.open(1)
    spec = resolve_sample({'slices': (slice(-3, 6), slice(0, 5)), 'nodata': 'float'}, handle.dims, (1,))
    with pytest.raises(InvalidTargetError, match='nan.*uint8'):
        frames.read(spec, [handle], out=np.zeros((9, 5, 3), np.uint8))


@pytest.mark.parametrize('video', [False, True])
def test_reading_into_a_buffer_of_another_dtype_gives_the_values_read_returns(video):
    """``Frames.read(out=)`` takes any dtype: a scaled window still holds the
    values ``read`` gives (resampled, and rounded, in the data's dtype)."""
    import numpy as np
    import ndsampler
    from ndsampler.windows import resolve_sample
    frames = ndsampler.SimpleFrames.demo(backend='npy')
    handle = frames.open(1, None, video)
    spec = resolve_sample({'slices': (slice(3, 12), slice(40, 49)), 'scale': 0.37}, handle.dims,
                          (1, 2) if video else (1,), video=video)
    want = frames.read(spec)
    assert want.dtype == np.uint8
    got = np.full((3,) + want.shape[:-1], -1.0, np.float32)
    axes = (1, 2, 3, 0) if video else (1, 2, 0)
    assert frames.read(spec, out=got.transpose(axes)).dtype == np.float32
    np.testing.assert_array_equal(got.transpose(axes), want.astype(np.float32))
