"""
Drop-in fidelity with ndsampler 0.8.1 (issue 10): exact channel counts and
orders, dtypes, NaN positions, filled target keys and grid orders.

Where a value is 0.8.1's, the comment says how 0.8.1 computes it.
"""
import glob
import inspect
import os
import pickle

import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from ndsampler import coco_regions, sample_grids

requires_gdal = pytest.mark.gdal
WINDOW = {'cx': 100, 'cy': 120, 'width': 40, 'height': 30}
WINDOW_SLICE = (slice(105, 135), slice(80, 120))


def _asset_fpaths(dset, gid):
    img = dset.imgs[gid]
    assets = img.get('auxiliary', None) or img.get('assets', None) or []
    return [os.path.join(dset.bundle_dpath, a['file_name']) for a in assets]


def _imread(fpath):
    data = kwimage.imread(fpath)
    return data[:, :, None] if data.ndim == 2 else data


# -- item 8: module-level sample grids ---------------------------------------------

ORIGINAL_IMAGE_GRID_PARAMS = [
    ('dset', inspect.Parameter.empty), ('window_dims', inspect.Parameter.empty),
    ('window_overlap', 0.0), ('classes_of_interest', None), ('ignore_coverage_thresh', 0.6),
    ('negative_classes', {'ignore', 'background'}), ('use_annots', True), ('legacy', True),
    ('verbose', 1)]
ORIGINAL_VIDEO_GRID_PARAMS = [
    ('dset', inspect.Parameter.empty), ('window_dims', None), ('window_overlap', 0.0),
    ('space_dims', None), ('time_dim', None), ('classes_of_interest', None),
    ('ignore_coverage_thresh', 0.6), ('negative_classes', {'ignore', 'background'}),
    ('use_annots', True), ('legacy', True), ('verbose', 1)]


@pytest.mark.parametrize('name, expected', [
    ('new_image_sample_grid', ORIGINAL_IMAGE_GRID_PARAMS),
    ('new_video_sample_grid', ORIGINAL_VIDEO_GRID_PARAMS)])
def test_module_level_grid_functions_have_the_original_signatures(name, expected):
    func = getattr(coco_regions, name)
    assert func is getattr(sample_grids, name)   # one implementation
    params = list(inspect.signature(func).parameters.values())
    positional = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert [(p.name, p.default) for p in positional] == expected
    # anything else is keyword only and optional
    assert all(p.kind == p.KEYWORD_ONLY and p.default is None
               for p in params[len(positional):])


def _brute_force_aids(dset, gid, ltrb):
    """Sorted ids of the annotations of ``gid`` whose boxes meet ``ltrb``
    (touching edges count, as pyqtree's query in 0.8.1)."""
    wl, wt, wr, wb = ltrb
    aids = []
    for aid in dset.index.gid_to_aids[gid]:
        x, y, w, h = dset.anns[aid]['bbox']
        if x <= wr and x + w >= wl and y <= wb and y + h >= wt:
            aids.append(aid)
    return sorted(aids)


def test_image_sample_grid_matches_the_original_on_shapes8():
    dset = kwcoco.CocoDataset.demo('shapes8')
    grid = coco_regions.new_image_sample_grid(dset, (256, 256), verbose=0)
    assert sorted(grid) == ['negatives', 'negatives_indexes', 'positives',
                            'positives_indexes', 'targets']
    targets = grid['targets']
    # 8 images of 600 x 600, windows at 0, 256 and 344 (keepbound) in y and x
    assert len(targets) == 72
    assert [t['slices'] for t in targets[0:3]] == [
        (slice(0, 256), slice(0, 256)), (slice(0, 256), slice(256, 512)),
        (slice(0, 256), slice(344, 600))]
    assert targets[0] == {'gid': 1, 'slices': (slice(0, 256), slice(0, 256)), 'aids': []}
    assert targets[3] == {'gid': 1, 'slices': (slice(256, 512), slice(0, 256)), 'aids': [1]}
    assert targets[9] == {'gid': 2, 'slices': (slice(0, 256), slice(0, 256)), 'aids': [8, 10, 11]}
    assert [t['gid'] for t in targets] == [gid for gid in dset.imgs for _ in range(9)]
    for t in targets:
        sl_y, sl_x = t['slices']
        assert t['aids'] == _brute_force_aids(dset, t['gid'], (sl_x.start, sl_y.start, sl_x.stop, sl_y.stop))
    # 1-based indexes; no category of shapes8 is a negative class
    assert grid['negatives_indexes'] == [1, 2, 3, 48, 49, 50, 51, 52, 53, 54]
    assert grid['positives_indexes'] == [i for i in range(1, 73) if i not in grid['negatives_indexes']]
    assert all(targets[i - 1] is t for i, t in zip(grid['positives_indexes'], grid['positives']))
    assert all(targets[i - 1] is t for i, t in zip(grid['negatives_indexes'], grid['negatives']))


def test_image_sample_grid_options_follow_the_original():
    dset = kwcoco.CocoDataset.demo('shapes8')
    # use_annots=False: aids None, every window a negative
    plain = coco_regions.new_image_sample_grid(dset, (256, 256), use_annots=False,
                                               legacy=False, verbose=0)
    assert sorted(plain) == ['negatives_indexes', 'positives_indexes', 'targets']
    assert all(t['aids'] is None for t in plain['targets'])
    assert plain['positives_indexes'] == [] and plain['negatives_indexes'] == list(range(1, 73))
    # 'full': one window per image
    full = coco_regions.new_image_sample_grid(dset, 'full', verbose=0)
    assert [t['slices'] for t in full['targets']] == [(slice(0, 600), slice(0, 600))] * 8
    # classes_of_interest: positive only if one of those is in the window
    names = {cid: cat['name'] for cid, cat in dset.cats.items()}
    coi = coco_regions.new_image_sample_grid(dset, (256, 256), classes_of_interest={'star'},
                                             verbose=0)
    expect = [i for i, t in enumerate(coi['targets'], start=1)
              if any(names[dset.anns[a]['category_id']] == 'star' for a in t['aids'])]
    assert coi['positives_indexes'] == expect and 0 < len(expect) < 62
    # negative classes do not make a window positive
    neg = coco_regions.new_image_sample_grid(dset, (256, 256), verbose=0,
                                             negative_classes={'star', 'eff', 'superstar'})
    assert neg['positives_indexes'] == []


def test_image_sample_grid_prints_the_original_counts(capsys):
    dset = kwcoco.CocoDataset.demo('shapes8')
    coco_regions.new_image_sample_grid(dset, (256, 256))
    assert capsys.readouterr().out == 'Found 72 targets\nFound 62 positives\nFound 10 negatives\n'
    coco_regions.new_image_sample_grid(dset, (256, 256), use_annots=False)
    assert capsys.readouterr().out == 'Found 72 targets\n'


def test_video_sample_grid_matches_the_original_on_vidshapes2():
    dset = kwcoco.CocoDataset.demo('vidshapes2')
    grid = coco_regions.new_video_sample_grid(dset, (2, 300, 300), verbose=0)
    quads = [(slice(0, 300), slice(0, 300)), (slice(0, 300), slice(300, 600)),
             (slice(300, 600), slice(0, 300)), (slice(300, 600), slice(300, 600))]
    aids = [[], [], [3, 4], [1, 2, 3, 4], [], [7], [5, 6], [5, 6, 7, 8]]
    expected = [{'vidid': vidid, 'time_slice': slice(0, 2), 'space_slice': quad,
                 'gids': gids, 'aids': aids[k]}
                for k, (vidid, gids, quad) in enumerate(
                    (v, g, q) for v, g in ((1, [1, 2]), (2, [3, 4])) for q in quads)]
    assert grid['targets'] == expected
    # positive when any frame has an annotation in the window; 1-based
    assert grid['positives_indexes'] == [3, 4, 6, 7, 8]
    assert grid['negatives_indexes'] == [1, 2, 5]
    assert grid['positives'] == [expected[i - 1] for i in [3, 4, 6, 7, 8]]
    # a window longer than the video keeps its time slice (0.8.1 slices the gids)
    long = coco_regions.new_video_sample_grid(dset, (5, 600, 600), verbose=0)
    assert long['targets'] == [
        {'vidid': 1, 'time_slice': slice(0, 5), 'space_slice': (slice(0, 600), slice(0, 600)),
         'gids': [1, 2], 'aids': [1, 2, 3, 4]},
        {'vidid': 2, 'time_slice': slice(0, 5), 'space_slice': (slice(0, 600), slice(0, 600)),
         'gids': [3, 4], 'aids': [5, 6, 7, 8]}]
    plain = coco_regions.new_video_sample_grid(dset, 'full', use_annots=False, verbose=0)
    assert [t['aids'] for t in plain['targets']] == [None, None]
    assert [t['time_slice'] for t in plain['targets']] == [slice(0, 2), slice(0, 2)]
    assert plain['negatives_indexes'] == [1, 2] and plain['positives_indexes'] == []
    with pytest.raises(NotImplementedError):
        coco_regions.new_video_sample_grid(dset, (2, 300, 300), classes_of_interest=['star'])


def test_video_sample_grid_warps_windows_into_each_frame_and_sorts_aids():
    dset = kwcoco.CocoDataset()
    dset.add_category('thing', id=1)
    dset.add_category('ignore', id=2)
    dset.add_video(name='v', id=7, width=200, height=100)
    # frame 2 is stored at half resolution: image = video / 2
    dset.add_image(id=1, file_name='a.png', video_id=7, frame_index=0, width=200, height=100)
    dset.add_image(id=2, file_name='b.png', video_id=7, frame_index=1, width=100, height=50,
                   warp_img_to_vid={'scale': 2})
    dset.add_annotation(image_id=1, category_id=1, bbox=[10, 10, 5, 5], id=9)
    dset.add_annotation(image_id=2, category_id=2, bbox=[60, 10, 5, 5], id=3)  # video x 120..130
    dset.add_annotation(image_id=2, category_id=1, bbox=[5, 5, 2, 2], id=4)    # video x 10..14
    grid = coco_regions.new_video_sample_grid(dset, (2, 100, 100), verbose=0)
    assert [(t['space_slice'], t['gids'], t['aids']) for t in grid['targets']] == [
        ((slice(0, 100), slice(0, 100)), [1, 2], [4, 9]),   # sorted over the frames
        ((slice(0, 100), slice(100, 200)), [1, 2], [3])]    # an 'ignore' box still counts
    assert grid['positives_indexes'] == [1, 2] and grid['negatives_indexes'] == []


def test_regions_new_sample_grid_is_the_module_function(dset):
    regions = ndsampler.CocoRegions(dset, verbose=0)
    for task, func, dims in [('image_detection', coco_regions.new_image_sample_grid, (64, 48)),
                             ('video_detection', coco_regions.new_video_sample_grid, (1, 64, 48))]:
        assert regions.new_sample_grid(task, dims, 0.25, verbose=0) == func(dset, dims, 0.25, verbose=0)
    with pytest.raises(NotImplementedError):
        regions.new_sample_grid('video_classification', (2, 64, 64))


# -- item 9: images without width / height ---------------------------------------------

def _drop_sizes(dset):
    for img in dset.imgs.values():
        img.pop('width', None)
        img.pop('height', None)
    return dset


def test_negatives_work_on_images_without_width_and_height(dset, tmp_path):
    _drop_sizes(dset)
    calls = []

    def image_dims(gid):
        calls.append(gid)
        return kwimage.load_image_shape(dset.get_image_fpath(gid))[0:2]
    regions = ndsampler.CocoRegions(dset, workdir=tmp_path, verbose=0, image_dims=image_dims)
    assert regions.get_positive(1)['img_width'] == 400 and regions.get_positive(1)['img_height'] == 300
    assert np.asarray(regions.targets['img_width']).tolist() == [400, 400, 400, 130]
    # anchors relative to the frame sizes
    assert regions.neg_anchors.tolist() == [[0.025, 0.0333], [0.0385, 0.05], [0.05, 0.0333],
                                            [0.075, 0.1333]]
    n_pos, n_neg = regions.preselect(n_neg=5, window_dims=(16, 16), rng=0)
    assert (n_pos, n_neg) == (4, 5)
    size = {1: (300, 400), 2: (50, 70), 3: (100, 130)}
    for i in range(5):
        neg = regions.get_negative(i)
        h, w = size[neg['gid']]
        assert (neg['img_height'], neg['img_width']) == (h, w)
        assert 0 <= neg['cx'] - 8 and neg['cx'] + 8 <= w and 0 <= neg['cy'] - 8 and neg['cy'] + 8 <= h
    assert regions.get_negative(rng=0)['aid'] == -1
    grid = regions.new_sample_grid('image_detection', (64, 64), verbose=0)
    assert {t['gid'] for t in grid['targets']} == {1, 2, 3}
    assert sorted(calls) == [1, 2, 3]   # each size asked for once
    # a lambda does not stop the regions from pickling (sizes already found travel)
    clone = pickle.loads(pickle.dumps(ndsampler.CocoRegions(
        dset, verbose=0, image_dims=lambda gid: image_dims(gid))))
    assert clone.isect_index.qtrees[2].width == 70


def test_unknowable_image_sizes_get_no_negatives_and_grids_say_why(dset):
    _drop_sizes(dset)
    dset.imgs[2]['file_name'] = 'missing.png'
    regions = ndsampler.CocoRegions(dset, verbose=0)
    assert regions.isect_index.qtrees[2].width is None
    gids = {regions.get_negative(rng=seed)['gid'] for seed in range(20)}
    assert gids <= {1, 3}
    with pytest.raises(ValueError, match='size of image 2 is unknown'):
        regions.new_sample_grid('image_detection', (64, 64), verbose=0)


def test_photos_demo_negatives_take_sizes_from_the_frames(tmp_path):
    sampler = ndsampler.CocoSampler.demo('photos', workdir=tmp_path, backend=None)
    assert all(img.get('width', None) is None for img in sampler.dset.imgs.values())
    frame_dims = {gid: tuple(sampler.frames.open(gid).dims) for gid in sampler.dset.imgs}
    sampler.regions = ndsampler.CocoRegions(
        sampler.dset, workdir=tmp_path, verbose=0,
        image_dims=lambda gid: sampler.frames.open(gid).dims)
    sample = sampler.load_negative(rng=0)
    assert sample['target']['aid'] == -1
    assert sample['im'].shape[0:2] == sample['target']['window_dims']
    n_pos, n_neg = sampler.preselect(n_neg=5, window_dims=(64, 64), rng=0)
    assert n_neg == 5 and n_pos == sampler.n_positives
    for i in range(5):
        neg = sampler.regions.get_negative(i)
        assert (neg['img_height'], neg['img_width']) == frame_dims[neg['gid']]
        assert sampler.load_item(n_pos + i)['im'].shape == (64, 64, 3)
    pos = sampler.regions.get_positive(0)
    assert (pos['img_height'], pos['img_width']) == frame_dims[pos['gid']]


# -- 1, 2, 3: channels ----------------------------------------------------------------

@pytest.fixture(scope='module')
def aux_dset():
    return kwcoco.CocoDataset.demo('vidshapes2-aux')


@pytest.fixture(scope='module')
def msi_dset():
    return kwcoco.CocoDataset.demo('vidshapes5-multispectral')


def test_2d_channels_on_an_image_with_a_main_file_and_assets(aux_dset, tmp_path):
    sampler = ndsampler.CocoSampler(aux_dset, workdir=tmp_path, backend=None)
    rgb = _imread(aux_dset.get_image_fpath(1))
    disparity, flow = (_imread(f) for f in _asset_fpaths(aux_dset, 1))
    assert [c for c in aux_dset.imgs[1]['channels'].split('|')] == ['r', 'g', 'b']
    plain = sampler.load_sample(dict(WINDOW, gid=1))['im']
    assert plain.shape == (30, 40, 3) and plain.dtype == np.uint8
    assert (plain == rgb[WINDOW_SLICE]).all()
    some = sampler.load_sample(dict(WINDOW, gid=1, channels='rgb|disparity'))['im']
    assert some.shape == (30, 40, 4) and some.dtype == np.uint8
    assert (some[..., 0:3] == rgb[WINDOW_SLICE]).all()
    assert (some[..., 3:4] == disparity[WINDOW_SLICE]).all()
    everything = sampler.load_sample(dict(WINDOW, gid=1, channels='<all>', as_xarray=True))['im']
    assert everything.coords['c'].values.tolist() == ['r', 'g', 'b', 'disparity', 'flowx', 'flowy']
    expected = np.concatenate([rgb, disparity, flow], axis=2)[WINDOW_SLICE]
    assert everything.shape == (30, 40, 6) and (everything.values == expected).all()


def test_2d_all_channels_of_an_image_without_a_main_file(msi_dset, tmp_path):
    sampler = ndsampler.CocoSampler(msi_dset, workdir=tmp_path, backend=None)
    assert msi_dset.imgs[1].get('file_name', None) is None
    assets = msi_dset.imgs[1]['auxiliary']
    names = [a['channels'] for a in assets]
    assert names == ['B1', 'B8', 'B8a', 'B10', 'B11']
    sample = sampler.load_sample(dict(WINDOW, gid=1, channels='<all>', as_xarray=True))
    im = sample['im']
    assert im.shape == (30, 40, 5) and im.dtype == np.uint16
    assert im.coords['c'].values.tolist() == names
    # the full-resolution assets, exactly
    fpaths = _asset_fpaths(msi_dset, 1)
    assert (im.values[..., 0:1] == _imread(fpaths[0])[WINDOW_SLICE]).all()
    assert (im.values[..., 3:4] == _imread(fpaths[3])[WINDOW_SLICE]).all()
    # B11 is stored at a third of the resolution: its window is warped up
    b11 = _imread(fpaths[4])[35:45, 26:40].astype(float)
    assert abs(im.values[..., 4].astype(float).mean() - b11.mean()) < 0.1 * b11.mean() + 1


@pytest.mark.parametrize('kind', ['FusedChannelSpec', 'ChannelSpec'])
def test_channels_may_be_channel_spec_objects(msi_dset, tmp_path, kind):
    sampler = ndsampler.CocoSampler(msi_dset, workdir=tmp_path, backend=None)
    spec = getattr(kwcoco, kind).coerce('B10|B1')
    image = dict(WINDOW, gid=1)
    video = dict(WINDOW, vidid=1, time_slice=slice(0, 2))
    for target in (image, video):
        with_obj = sampler.load_sample(dict(target, channels=spec))
        with_str = sampler.load_sample(dict(target, channels='B10|B1'))
        assert with_obj['im'].shape == with_str['im'].shape
        assert with_obj['im'].shape[-1] == 2
        assert with_obj['im'].dtype == with_str['im'].dtype
        assert (with_obj['im'] == with_str['im']).all()
    fpaths = _asset_fpaths(msi_dset, 1)
    im = sampler.load_sample(dict(image, channels=spec))['im']
    assert (im[..., 0:1] == _imread(fpaths[3])[WINDOW_SLICE]).all()
    assert (im[..., 1:2] == _imread(fpaths[0])[WINDOW_SLICE]).all()


# -- 4: nodata / NaN padding on video targets ------------------------------------------

@pytest.mark.parametrize('how', ['nodata', 'padkw'])
def test_float_nodata_pads_video_and_2d_targets_with_nan(tmp_path, how):
    dset = kwcoco.CocoDataset.demo('vidshapes2')
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    extra = ({'nodata': 'float'} if how == 'nodata' else
             {'padkw': {'mode': 'constant', 'constant_values': np.nan}})
    space_slice = (slice(-10, 30), slice(580, 620))   # 10 rows above, 20 columns right of 600
    outside = np.zeros((40, 40), bool)
    outside[0:10] = True
    outside[:, 20:] = True
    video = sampler.load_sample(dict(extra, vidid=1, time_slice=slice(0, 2), space_slice=space_slice))
    im = video['im']
    assert im.shape == (2, 40, 40, 3) and im.dtype == np.float32
    assert (np.isnan(im) == outside[None, :, :, None]).all()
    frame = _imread(dset.get_image_fpath(2))
    assert (im[1][~outside] == frame[0:30, 580:600].reshape(-1, 3)).all()
    image = sampler.load_sample(dict(extra, gid=1, space_slice=space_slice))['im']
    assert image.shape == (40, 40, 3) and image.dtype == np.float32
    assert (np.isnan(image) == outside[:, :, None]).all()
    # resampled: NaN exactly over the half-size padding, values not rounded
    half = sampler.load_sample(dict(extra, vidid=1, time_slice=slice(0, 2), space_slice=space_slice,
                                    scale=0.5))['im']
    outside_half = np.zeros((20, 20), bool)
    outside_half[0:5] = True
    outside_half[:, 10:] = True
    assert half.shape == (2, 20, 20, 3) and half.dtype == np.float32
    assert (np.isnan(half) == outside_half[None, :, :, None]).all()
    values = half[~np.isnan(half)]
    assert (values != np.round(values)).any()


# -- 5: jagged_meta ---------------------------------------------------------------------

@pytest.fixture(scope='module')
def native_case(tmp_path_factory):
    dset = kwcoco.CocoDataset.demo('vidshapes2-multispectral', num_frames=2)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path_factory.mktemp('native'), backend=None)
    target = {'vidid': 1, 'time_slice': slice(0, 2), 'channels': 'B1|B11',
              'space_slice': (slice(60, 120), slice(30, 90)), 'use_native_scale': True}
    return dset, sampler, target, sampler.load_sample(dict(target))


def test_jagged_meta_carries_chans_and_grid_to_part_warps_per_frame(native_case):
    dset, sampler, target, sample = native_case
    # B1 is at video resolution, B11 at a third of it (200 x 200 for 600 x 600)
    assert [[p.shape for p in frame] for frame in sample['im']] == [[(60, 60, 1), (20, 20, 1)]] * 2
    meta = sample['params']['jagged_meta']
    assert isinstance(meta, list) and len(meta) == 2
    for frame_meta in meta:
        assert {'align', 'chans', 'grid_to_part_warps'} <= set(frame_meta)
        # 0.8.1: ``part.channels`` of each part
        assert all(isinstance(c, kwcoco.FusedChannelSpec) for c in frame_meta['chans'])
        assert [c.spec for c in frame_meta['chans']] == ['B1', 'B11']
        # 0.8.1: the same ``warp_sample_from_grid`` (the window translation) for every part
        warps = frame_meta['grid_to_part_warps']
        assert all(isinstance(w, kwimage.Affine) for w in warps) and len(warps) == 2
        for w in warps:
            assert np.allclose(w.matrix, [[1, 0, -30], [0, 1, -60], [0, 0, 1]])
        assert all(isinstance(a, kwimage.Affine) for a in frame_meta['align'])
        assert len(frame_meta['align']) == 2


def _original_align(dset, gid, target):
    """``align`` as 0.8.1 computes it: the prepared, optimized lazy crop in
    video space, then ``undo_warps(remove=['scale'], squash_nans=True,
    return_warps=True)``."""
    from delayed_image.channel_spec import ChannelSpec
    frame = dset.coco_image(gid).imdelay(channels=ChannelSpec.coerce(target['channels']),
                                         space='video', interpolation='linear',
                                         nodata_method=None, antialias=True)
    crop = frame.crop(target['space_slice'], clip=False, wrap=False, pad=None, lazy=True)
    crop = crop.prepare().optimize()
    _, align = crop.undo_warps(remove=['scale'], squash_nans=True, return_warps=True)
    return align


def test_jagged_meta_align_matches_the_original(native_case):
    dset, sampler, target, sample = native_case
    for gid, frame_meta in zip([1, 2], sample['params']['jagged_meta']):
        expected = _original_align(dset, gid, target)
        sixtieth = [[1 / 60, 0, 0], [0, 1 / 60, 0], [0, 0, 1]]
        assert [np.allclose(m.matrix, sixtieth) for m in expected] == [True, True]
        assert all(np.allclose(a.matrix, e.matrix) for a, e in zip(frame_meta['align'], expected))


# -- 6: more than four bands on every backend ------------------------------------------

@requires_gdal
def test_six_band_images_work_on_every_backend(backend, tmp_path):
    from osgeo import gdal
    rng = np.random.default_rng(0)
    data = rng.integers(0, 60000, size=(70, 90, 6), dtype=np.uint16)
    fpath = str(tmp_path / 'six.tif')
    ds = gdal.GetDriverByName('GTiff').Create(fpath, 90, 70, 6, gdal.GDT_UInt16)  # striped
    for i in range(6):
        ds.GetRasterBand(i + 1).WriteArray(data[:, :, i])
    ds = None
    dset = kwcoco.CocoDataset()
    dset.fpath = str(tmp_path / 'data.kwcoco.json')
    dset.add_image(file_name='six.tif', id=1, width=90, height=70, channels='c1|c2|c3|c4|c5|c6')
    workdir = tmp_path / 'work'
    sampler = ndsampler.CocoSampler(dset, workdir=workdir, backend=backend)
    im = sampler.load_sample({'gid': 1, 'space_slice': (slice(-5, 40), slice(50, 100))})['im']
    expected = np.zeros((45, 50, 6), np.uint16)
    expected[5:, 0:40] = data[0:40, 50:90]
    assert im.shape == (45, 50, 6) and im.dtype == np.uint16 and (im == expected).all()
    pick = sampler.load_sample({'gid': 1, 'space_slice': (slice(10, 20), slice(10, 20)),
                                'channels': 'c5|c2'})['im']
    assert (pick == data[10:20, 10:20][:, :, [4, 1]]).all()
    full = sampler.load_image(1)
    assert full.shape == (70, 90, 6) and (np.asarray(full) == data).all()
    caches = [f for f in glob.glob(str(workdir / '_cache' / 'frames' / '**' / '*'), recursive=True)
              if f.endswith(('.npy', '.tif', '.zarr', '.h5'))]
    if backend is None:
        assert caches == []
    else:
        assert len(caches) == 1
        if backend == 'cog':
            assert gdal.Open(caches[0]).RasterCount == 6


# -- 7: _infer_target_attributes ----------------------------------------------------------

def test_infer_target_attributes_fills_2d_targets(sampler):
    target = {'gid': 1, 'cx': 60, 'cy': 40, 'width': 40, 'height': 30}
    inferred = sampler._infer_target_attributes(target)
    assert 'space_slice' not in target   # the input is not modified
    assert inferred['space_slice'] == (slice(25, 55), slice(40, 80))
    assert inferred['slices'] == (slice(25, 55), slice(40, 80))
    assert inferred['window_dims'] == (30, 40)
    assert inferred['space_dims'] == (300, 400) and inferred['data_dims'] == (300, 400)
    assert sampler.load_sample(inferred)['im'].shape == (30, 40, 3)


def test_an_inferred_space_slice_wins_over_a_later_width_and_height(sampler):
    inferred = sampler._infer_target_attributes({'aid': 2})   # bbox [100, 80, 20, 10]
    assert inferred['gid'] == 1 and inferred['category_id'] == 2
    assert inferred['space_slice'] == (slice(80, 90), slice(100, 120))
    inferred['width'] = inferred['height'] = 50
    sample = sampler.load_sample(inferred)
    assert sample['im'].shape == (10, 20, 3)
    assert sample['target']['space_slice'] == (slice(80, 90), slice(100, 120))
    assert sample['annots']['aids'].tolist() == [2]


def test_infer_target_attributes_fills_video_targets(tmp_path):
    dset = kwcoco.CocoDataset.demo('vidshapes2', num_frames=3)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    window = {'cx': 60, 'cy': 40, 'width': 40, 'height': 30}
    whole = sampler._infer_target_attributes(dict(window, vidid=2))
    assert whole['gids'] == [4, 5, 6] and whole['time_slice'] == slice(0, 3)
    assert whole['space_slice'] == (slice(25, 55), slice(40, 80))
    assert whole['slices'] == (slice(0, 3), slice(25, 55), slice(40, 80))
    part = sampler._infer_target_attributes(dict(window, vidid=2, time_slice=slice(1, 3)))
    assert part['gids'] == [5, 6]
    assert part['slices'] == (slice(1, 3), slice(25, 55), slice(40, 80))
    assert part['space_dims'] == (600, 600) and part['data_dims'] == (3, 600, 600)


# -- 13: tiled GeoTIFF / COG sources are read in place -----------------------------------

@requires_gdal
def test_cog_backend_reads_tiled_sources_in_place(tmp_path):
    import cv2
    from osgeo import gdal
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:300, 0:400]
    data = np.stack([xx % 200, yy % 200, (xx + yy) % 200], axis=2)
    data = (data + rng.integers(0, 50, data.shape)).astype(np.uint8)
    mem = gdal.GetDriverByName('MEM').Create('', 400, 300, 3, gdal.GDT_Byte)
    for i in range(3):
        mem.GetRasterBand(i + 1).WriteArray(data[:, :, i])
    gdal.Translate(str(tmp_path / 'a.cog.tif'), mem, format='COG',
                   creationOptions=['COMPRESS=DEFLATE', 'BLOCKSIZE=256', 'RESAMPLING=AVERAGE'])
    gdal.Translate(str(tmp_path / 'b.tiled.tif'), mem, format='GTiff',
                   creationOptions=['TILED=YES', 'COMPRESS=LZW', 'BLOCKXSIZE=128', 'BLOCKYSIZE=128'])
    mem = None
    assert gdal.Open(str(tmp_path / 'a.cog.tif')).GetRasterBand(1).GetOverviewCount() == 1
    assert gdal.Open(str(tmp_path / 'b.tiled.tif')).GetRasterBand(1).GetOverviewCount() == 0
    dset = kwcoco.CocoDataset()
    dset.fpath = str(tmp_path / 'data.kwcoco.json')
    dset.add_image(file_name='a.cog.tif', id=1, width=400, height=300)
    dset.add_image(file_name='b.tiled.tif', id=2, width=400, height=300)
    workdir = tmp_path / 'work'
    sampler = ndsampler.CocoSampler(dset, workdir=workdir, backend='cog')

    def written():
        return sorted(p for p in glob.glob(str(workdir / '_cache' / 'frames' / '**'), recursive=True)
                      if os.path.isfile(p))
    sampler.frames.prepare()
    assert written() == []
    expected = np.zeros((103, 60, 3), np.uint8)
    expected[3:, 0:50] = data[0:100, 350:400]
    reference = cv2.resize(data[0:200, 0:200], (100, 100), interpolation=cv2.INTER_AREA)
    for gid in (1, 2):
        im = sampler.load_sample({'gid': gid, 'space_slice': (slice(-3, 100), slice(350, 410))})['im']
        assert im.dtype == np.uint8 and (im == expected).all()
        half = sampler.load_sample({'gids': [gid], 'space_slice': (slice(0, 200), slice(0, 200)),
                                    'scale': 0.5})['im']
        assert half.shape == (1, 100, 100, 3)
        assert np.abs(half[0].astype(float) - reference).max() <= 1
    assert written() == []
