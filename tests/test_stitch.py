"""
Tests of ndsampler.stitch: heatmap stitching (identity round trips, strides,
weights, fill, on-disk accumulators, COG output), video stitching, and
detection merging across overlapping windows.
"""
import os
import warnings

import kwimage
import numpy as np
import pytest

from ndsampler.stitch import (Stitcher, StitchError, StitchShapeError, VideoStitcher,
                              add_predictions, stitch_detections, window_weights)

WEIGHTINGS = ['uniform', 'gaussian', 'hann']


def grid_slices(H, W, win, overlap, overhang=0):
    """Windows of side ``win`` with ``overlap``, covering the image, starting at ``-overhang``."""
    stride = max(1, int(round(win * (1 - overlap))))
    ys = list(range(-overhang, H - win + overhang + 1, stride))
    xs = list(range(-overhang, W - win + overhang + 1, stride))
    if ys[-1] + win < H + overhang:
        ys.append(H - win + overhang)
    if xs[-1] + win < W + overhang:
        xs.append(W - win + overhang)
    return [(slice(y, y + win), slice(x, x + win)) for y in ys for x in xs]


def crop(image, sl, fill=0.0):
    """What a sampler returns: the window, padded outside the image."""
    (y0, y1), (x0, x1) = (sl[0].start, sl[0].stop), (sl[1].start, sl[1].stop)
    out = np.full((y1 - y0, x1 - x0) + image.shape[2:], fill, dtype=np.float32)
    ya, yb, xa, xb = max(y0, 0), min(y1, image.shape[0]), max(x0, 0), min(x1, image.shape[1])
    out[ya - y0:yb - y0, xa - x0:xb - x0] = image[ya:yb, xa:xb]
    return out


@pytest.fixture(scope='module')
def image():
    # 0..255-valued like a real image: exactness must not depend on the range
    return (np.random.RandomState(0).rand(203, 317) * 255).astype(np.float32)


@pytest.mark.parametrize('weighting', WEIGHTINGS)
@pytest.mark.parametrize('overlap', [0.0, 0.25, 0.5])
@pytest.mark.parametrize('overhang', [0, 13])
def test_identity_round_trip(image, weighting, overlap, overhang):
    H, W = image.shape  # not a multiple of the window
    st = Stitcher((H, W), weighting=weighting)
    for sl in grid_slices(H, W, 64, overlap, overhang):
        assert st.add(sl, crop(image, sl))
    out = st.finalize()
    assert out.dtype == np.float32 and out.shape == (H, W)
    assert np.abs(out - image).max() < 1e-5


@pytest.mark.parametrize('weighting', WEIGHTINGS)
def test_identity_multichannel_and_float32_accumulators(weighting):
    img = np.random.RandomState(1).rand(90, 70, 3).astype(np.float32)
    for accum in ['float64', 'float32']:
        st = Stitcher(img.shape, weighting=weighting, accum_dtype=accum)
        for sl in grid_slices(90, 70, 32, 0.5, 5):
            st.add(sl, crop(img, sl))
        assert np.abs(st.finalize() - img).max() < 1e-5


def test_windows_positive_and_centred():
    for weighting in ['gaussian', 'hann']:
        for dims in [(1, 1), (2, 3), (64, 64), (1024, 7)]:
            w = window_weights(dims, weighting)
            assert w.shape == dims and w.min() > 0 and np.isfinite(w).all()
        w = window_weights((65, 65), weighting)
        assert w[32, 32] == w.max() and w[0, 0] == w.min()
        # a pixel seen only by the corner of one window still gets its value
        st = Stitcher((10, 10), weighting=weighting)
        st.add((slice(-63, 1), slice(-63, 1)), np.full((64, 64), 7.0, np.float32))
        out = st.finalize()
        assert out[0, 0] == pytest.approx(7.0, abs=1e-6)
        assert np.isnan(out[1:, :]).all() and np.isnan(out[:, 1:]).all()


def test_strided_predictions():
    # a smooth image predicted at half resolution, resized back to each slice
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    image = (np.sin(yy / 15.0) + np.cos(xx / 20.0)).astype(np.float32)
    st = Stitcher(image.shape, weighting='hann')
    for sl in grid_slices(120, 160, 64, 0.5):
        win = crop(image, sl)
        half = win.reshape(32, 2, 32, 2).mean(axis=(1, 3))   # stride-2 model output
        st.add(sl, half)
    out = st.finalize()
    assert out.shape == image.shape and np.isfinite(out).all()
    # linear interpolation of a smooth field: small error (largest at the image border,
    # where the half-resolution pixel centres leave half a pixel to extrapolate)
    err = np.abs(out - image)
    assert err.max() < 0.1 and err.mean() < 0.01 and err[2:-2, 2:-2].max() < 0.02
    # a constant stays exact through the resize
    st = Stitcher((50, 50), fill=0)
    st.add((slice(0, 40), slice(0, 40)), np.full((10, 10), 3.0))     # enlarge (linear)
    st.add((slice(10, 50), slice(10, 50)), np.full((80, 80), 3.0))   # shrink (area)
    expect = np.zeros((50, 50))
    expect[:40, :40] = expect[10:, 10:] = 3.0
    assert np.abs(st.finalize() - expect).max() < 1e-6


def test_weighted_mean_exact():
    rng = np.random.RandomState(2)
    a, b = rng.rand(20, 30), rng.rand(20, 30)
    wa, wb = rng.rand(20, 30) + 0.1, 2.5
    st = Stitcher((20, 30), dtype='float64')
    st.add((slice(0, 20), slice(0, 30)), a, weight=wa)
    st.add((slice(0, 20), slice(0, 30)), b, weight=wb)
    expect = (a * wa + b * wb) / (wa + wb)
    assert np.abs(st.finalize() - expect).max() < 1e-12
    # explicit weights compose with the window
    st = Stitcher((20, 30), weighting='hann', dtype='float64')
    st.add((slice(0, 20), slice(0, 30)), a, weight=wa)
    st.add((slice(0, 20), slice(0, 30)), b, weight=wb)
    h = window_weights((20, 30), 'hann')
    expect = (a * wa * h + b * wb * h) / (wa * h + wb * h)
    assert np.abs(st.finalize() - expect).max() < 1e-12


def test_fill_for_uncovered_and_zero_weight():
    st = Stitcher((10, 12), fill=-9)
    st.add((slice(0, 5), slice(0, 6)), np.ones((5, 6)))
    st.add((slice(5, 10), slice(0, 6)), np.ones((5, 6)), weight=0)
    wmap = np.ones((5, 6))
    wmap[0, 0] = 0
    st.add((slice(0, 5), slice(6, 12)), np.full((5, 6), 2.0), weight=wmap)
    out = st.finalize()
    assert (out[0:5, 0:6] == 1).all()
    assert (out[5:, :] == -9).all()
    assert out[0, 6] == -9 and (out[0:5, 7:] == 2).all()
    assert np.isnan(Stitcher((3, 3)).finalize()).all()  # default fill is nan


def test_outside_slices_are_ignored_and_bad_input_errors():
    st = Stitcher((10, 10), fill=0)
    assert st.add((slice(10, 20), slice(0, 5)), np.ones((10, 5))) is False
    assert st.add((slice(-5, 0), slice(-5, 0)), np.ones((5, 5))) is False
    assert (st.finalize() == 0).all()
    with pytest.raises(StitchShapeError, match='channels'):
        st.add((slice(0, 4), slice(0, 4)), np.ones((4, 4, 3)))
    with pytest.raises(StitchShapeError, match='channels'):
        Stitcher((10, 10, 2)).add((slice(0, 4), slice(0, 4)), np.ones((4, 4, 3)))
    # the channel check is not skipped for windows that miss the image
    with pytest.raises(StitchShapeError):
        st.add((slice(50, 54), slice(0, 4)), np.ones((4, 4, 3)))
    with pytest.raises(StitchError, match='unknown weighting'):
        Stitcher((10, 10), weighting='triangle')
    with pytest.raises(StitchError, match='unknown weighting'):
        VideoStitcher((2, 10, 10), weighting='cosine')
    with pytest.raises(StitchError):
        st.add((slice(0, 4, 2), slice(0, 4)), np.ones((2, 4)))
    with pytest.raises(StitchError):
        st.add((slice(0, 4), slice(0, 4)), np.ones((4, 4)), weight=-1)
    with pytest.raises(StitchShapeError):
        st.add((slice(0, 4), slice(0, 4)), np.ones((4, 4)), weight=np.ones((3, 3)))
    assert isinstance(StitchError('x'), ValueError)


def test_targets_from_sample_grid_and_scale(tmp_path):
    import ndsampler
    sampler = ndsampler.CocoSampler.demo('shapes2', workdir=tmp_path, backend=None)
    grid = sampler.new_sample_grid('image_detection', window_dims=(256, 256), window_overlap=0.25)
    gid = grid['targets'][0]['gid']
    full = sampler.load_sample({'gid': gid})['im'][..., 0:1].astype(np.float32)
    H, W = full.shape[:2]
    st = Stitcher((H, W, 1))
    for tr in grid['targets']:
        if tr['gid'] != gid:
            continue
        sample = sampler.load_sample(dict(tr, scale=0.5))  # the model sees half resolution
        im = sample['im'][..., 0:1].astype(np.float32)
        assert im.shape[:2] == (128, 128)
        st.add(tr, im)  # resized back to the 256 x 256 slice
    out = st.finalize()
    assert np.isfinite(out).all()
    # a blurred copy of the image (the shapes demo is noisy, so compare smoothed)
    import cv2
    blur = cv2.GaussianBlur(full[..., 0], (0, 0), 3)
    assert np.corrcoef(cv2.GaussianBlur(out[..., 0], (0, 0), 3).ravel(), blur.ravel())[0, 1] > 0.9


def test_backing_equals_ram(tmp_path, image):
    kw = dict(weighting='gaussian', fill=-1)
    ram = Stitcher(image.shape, **kw)
    disk = Stitcher(image.shape, backing=tmp_path / 'acc', **kw)
    for sl in grid_slices(*image.shape, 48, 0.25, 7):
        ram.add(sl, crop(image, sl))
        disk.add(sl, crop(image, sl))
    assert os.path.exists(tmp_path / 'acc' / 'stitch_sum.float64')
    np.testing.assert_array_equal(ram.finalize(), disk.finalize())
    disk.close()
    assert not os.path.exists(tmp_path / 'acc' / 'stitch_sum.float64')


def test_write_cog_round_trip(tmp_path, image):
    pytest.importorskip('osgeo.gdal_array')
    from osgeo import gdal
    for shape, backing in [(image.shape, None), (image.shape + (2,), tmp_path / 'acc')]:
        img = image if len(shape) == 2 else np.stack([image, -image], axis=2)
        st = Stitcher(shape, weighting='hann', backing=backing)
        for sl in grid_slices(*image.shape, 64, 0.5)[:-1]:  # the last window missing: nan
            st.add(sl, crop(img, sl))
        expect = st.finalize()
        fpath = st.write(tmp_path / 'heat{}.tif'.format(len(shape)), blocksize=64)
        ds = gdal.Open(os.fspath(fpath))
        got = ds.ReadAsArray()
        got = got if got.ndim == 2 else got.transpose(1, 2, 0)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expect)  # lossless, nan where uncovered
        assert np.isnan(got).any()
        band = ds.GetRasterBand(1)
        assert band.GetBlockSize() == [64, 64]
        assert band.GetOverviewCount() >= 2
        assert ds.GetMetadata('IMAGE_STRUCTURE').get('LAYOUT') == 'COG'
        assert ds.GetMetadata('IMAGE_STRUCTURE').get('COMPRESSION') in ('ZSTD', 'DEFLATE')
        assert np.isnan(band.GetNoDataValue())
        # the first overview is the nodata-aware 2 x 2 mean of the full resolution
        ovr = band.GetOverview(0).ReadAsArray()
        full = got if got.ndim == 2 else got[..., 0]
        h2, w2 = -(-full.shape[0] // 2), -(-full.shape[1] // 2)
        pad = np.full((h2 * 2, w2 * 2), np.nan)
        pad[:full.shape[0], :full.shape[1]] = full
        with warnings.catch_warnings():  # all-nan cells: 'mean of empty slice'
            warnings.simplefilter('ignore', RuntimeWarning)
            expect_ovr = np.nanmean(pad.reshape(h2, 2, w2, 2).transpose(0, 2, 1, 3)
                                    .reshape(h2, w2, 4), axis=2)
        assert ovr.shape == (h2, w2)
        np.testing.assert_allclose(ovr, expect_ovr, rtol=1e-6, atol=1e-4)
        ds = None
        assert [p for p in os.listdir(tmp_path) if p.startswith('.stitch-')] == []


def test_video_stitcher(tmp_path):
    rng = np.random.RandomState(3)
    video = rng.rand(4, 40, 50).astype(np.float32)
    vs = VideoStitcher(video.shape, weighting='hann', backing=tmp_path / 'v')
    for t0 in [0, 2]:
        for sl in grid_slices(40, 50, 24, 0.5, 3):
            data = np.stack([crop(video[t], sl) for t in range(t0, t0 + 2)])
            assert vs.add((slice(t0, t0 + 2),) + sl, data)
    assert np.abs(vs.finalize() - video).max() < 1e-5
    # video targets, as new_sample_grid('video_detection') makes them
    vs = VideoStitcher((3, 40, 50), frame_ids=[11, 12, 13], fill=0)
    vs.add({'gids': [12, 13], 'space_slice': (slice(0, 20), slice(0, 50))}, np.ones((2, 20, 50)))
    vs.add({'time_slice': slice(0, 1), 'space_slice': (slice(20, 40), slice(0, 50))},
           np.full((1, 20, 50), 2.0))
    out = vs.finalize()
    assert (out[0, :20] == 0).all() and (out[0, 20:] == 2).all()
    assert (out[1:, :20] == 1).all() and (out[1:, 20:] == 0).all()
    with pytest.raises(StitchShapeError):
        vs.add((slice(0, 2), slice(0, 4), slice(0, 4)), np.ones((3, 4, 4)))


def test_video_grid_targets(tmp_path):
    import ndsampler
    sampler = ndsampler.CocoSampler.demo('vidshapes1-frames3', workdir=tmp_path, backend=None)
    grid = sampler.new_sample_grid('video_detection', window_dims=(2, 64, 64))
    vidid = grid['targets'][0]['vidid']
    gids = sampler.dset.index.vidid_to_gids[vidid]
    img = sampler.dset.imgs[gids[0]]
    vs = VideoStitcher((len(gids), img['height'], img['width']), frame_ids=gids, fill=-1)
    for tr in grid['targets']:
        if tr['vidid'] == vidid:
            sl = tr['space_slice']
            vs.add(tr, np.ones((len(tr['gids']), sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)))
    assert (vs.finalize() == 1).all()  # the grid covers every frame entirely


# ---------------------------------------------------------------------------
# detections

def _iou(a, b):
    return kwimage.Boxes(a[None], 'ltrb').ious(kwimage.Boxes(b[None], 'ltrb'))[0, 0]


def _perfect_window_dets(truth, sl, classes=None, class_idxs=None, jitter=None):
    """What a perfect model outputs on window ``sl``: the truth clipped to it."""
    y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
    b = truth.translate((-x0, -y0)).clip(0, 0, x1 - x0, y1 - y0)
    keep = (b.width > 0.5).ravel() & (b.height > 0.5).ravel()
    n = int(keep.sum())
    scores = np.full(n, 0.9) if jitter is None else jitter.uniform(0.5, 1.0, n)
    data = dict(boxes=b.compress(keep), scores=scores)
    if class_idxs is not None:
        data.update(class_idxs=np.asarray(class_idxs)[keep], classes=classes)
    return kwimage.Detections(**data)


def _check_one_per_object(out, truth_ltrb):
    got = out.boxes.to_ltrb().data
    assert len(got) == len(truth_ltrb), (len(got), len(truth_ltrb))
    for t in truth_ltrb:
        ious = [_iou(t, g) for g in got]
        assert max(ious) >= 0.95
    for g in got:  # and every output matches exactly one object
        assert sum(_iou(t, g) >= 0.95 for t in truth_ltrb) == 1


def test_detection_merge_synthetic():
    rng = np.random.RandomState(4)
    H, W, win = 300, 420, 128
    boxes = []
    while len(boxes) < 40:  # boxes <= 60 px, windows overlap by 64: each seen whole somewhere
        w, h = rng.randint(8, 60, 2)
        x, y = rng.randint(0, W - w), rng.randint(0, H - h)
        cand = np.array([x, y, x + w, y + h], float)
        if all(_iou(cand, b) < 0.2 for b in boxes):
            boxes.append(cand)
    truth_ltrb = np.array(boxes)
    truth = kwimage.Boxes(truth_ltrb, 'ltrb')
    slices = grid_slices(H, W, win, 0.5)
    parts = [(sl, _perfect_window_dets(truth, sl, jitter=rng)) for sl in slices]
    n_in = sum(len(d) for _, d in parts)
    assert n_in > 2 * len(boxes)  # many duplicates and cut pieces to get rid of
    out = stitch_detections(parts, iou_thresh=0.5, image_dims=(H, W))
    _check_one_per_object(out, truth_ltrb)
    # without image_dims the border is the extent of the windows: same result
    _check_one_per_object(stitch_detections(iter(parts)), truth_ltrb)
    # plain NMS alone would keep the cut pieces
    import kwimage as kw
    merged = kw.Detections.concatenate([d.translate((sl[1].start, sl[0].start)) for sl, d in parts])
    assert len(merged.non_max_supress(thresh=0.5, impl='numpy')) > len(boxes)


def test_detection_merge_scaled_targets():
    truth_ltrb = np.array([[100., 50, 140, 90], [10, 10, 30, 20]])
    truth = kwimage.Boxes(truth_ltrb, 'ltrb')
    parts = []
    for sl in grid_slices(160, 200, 80, 0.5):
        d = _perfect_window_dets(truth, sl)
        target = {'gid': 1, 'slices': sl, 'scale': 0.5}  # the model saw the window at half size
        parts.append((target, d.scale(0.5)))
    out = stitch_detections(parts, image_dims=(160, 200))
    _check_one_per_object(out, truth_ltrb)


def test_detection_merge_on_sample_grid(tmp_path):
    """Ground truth of a kwcoco demo, sampled with new_sample_grid, as the predictions."""
    import ndsampler
    sampler = ndsampler.CocoSampler.demo('shapes8', workdir=tmp_path, backend=None)
    win = 400
    grid = sampler.new_sample_grid('image_detection', window_dims=(win, win), window_overlap=0.5)
    classes = list(sampler.classes)
    checked = 0
    for gid in sorted({t['gid'] for t in grid['targets']}):
        img = sampler.dset.imgs[gid]
        annots = sampler.dset.annots(gid=gid)
        truth = annots.boxes.to_ltrb()
        cidx = np.array([classes.index(sampler.dset.cats[c]['name']) for c in annots.cids])
        targets = [t for t in grid['targets'] if t['gid'] == gid]
        # objects seen whole by some window (a larger one is cut everywhere)
        seen_whole = np.zeros(len(truth), bool)
        for t in targets:
            (y0, y1), (x0, x1) = (t['slices'][0].start, t['slices'][0].stop), \
                                 (t['slices'][1].start, t['slices'][1].stop)
            d = truth.data
            seen_whole |= (d[:, 0] >= x0) & (d[:, 2] <= x1) & (d[:, 1] >= y0) & (d[:, 3] <= y1)
        if not seen_whole.all():
            continue
        truth_ltrb = truth.data
        ious = truth.ious(truth)
        np.fill_diagonal(ious, 0)
        if ious.max() >= 0.5:  # overlapping shapes of one class would merge
            continue
        parts = []
        for t in targets:
            sample = sampler.load_sample(t, with_annots=['boxes'])
            fd = sample['annots']['frame_dets']
            fd = fd[0] if isinstance(fd, list) else fd
            h, w = sample['im'].shape[:2]
            b = fd.boxes.to_ltrb().clip(0, 0, w, h)
            keep = (b.width > 0.5).ravel() & (b.height > 0.5).ravel()
            ci = np.array([classes.index(sampler.dset.cats[c]['name'])
                           for c in sample['annots']['cids']], dtype=int).reshape(-1)
            dets = kwimage.Detections(boxes=b.compress(keep), scores=np.ones(int(keep.sum())),
                                      class_idxs=ci[keep], classes=classes)
            parts.append((t, dets))
        out = stitch_detections(parts, iou_thresh=0.5, image_dims=(img['height'], img['width']))
        _check_one_per_object(out, truth_ltrb)
        # classes survive
        for t, c in zip(truth_ltrb, cidx):
            j = int(np.argmax([_iou(t, g) for g in out.boxes.to_ltrb().data]))
            assert out.class_idxs[j] == c
        checked += 1
    assert checked >= 3


def test_add_predictions():
    import kwcoco
    dset = kwcoco.CocoDataset.demo('shapes2')
    gid = 1
    dets = kwimage.Detections(
        boxes=kwimage.Boxes(np.array([[1., 2, 11, 22], [5, 5, 9, 9]]), 'ltrb'),
        scores=np.array([0.8, 0.3]), class_idxs=np.array([0, 1]), classes=['star', 'newcat'])
    before = dset.n_annots
    aids = add_predictions(dset, gid, dets, extra={'source': 'test'})
    assert dset.n_annots == before + 2
    anns = [dset.anns[a] for a in aids]
    assert [a['score'] for a in anns] == [0.8, 0.3]
    assert anns[0]['bbox'] == [1.0, 2.0, 10.0, 20.0]
    assert dset.cats[anns[0]['category_id']]['name'] == 'star'
    assert dset.cats[anns[1]['category_id']]['name'] == 'newcat'
    assert anns[0]['source'] == 'test'
    aids = add_predictions(dset, gid, dets, category_ids=[1, 1])
    assert {dset.anns[a]['category_id'] for a in aids} == {1}


def test_empty_detections():
    parts = [((slice(0, 10), slice(0, 10)), kwimage.Detections.random(0))]
    out = stitch_detections(parts)
    assert len(out) == 0
