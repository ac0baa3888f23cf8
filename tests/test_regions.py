"""Positive and negative regions, pools, grids and the intersection index."""

import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from ndsampler import coco_regions
from ndsampler.isect_indexer import FrameIntersectionIndex


@pytest.fixture(scope='module')
def shapes():
    return kwcoco.CocoDataset.demo('shapes8')


def test_positives_are_every_annotation_with_a_bbox_in_dataset_order(sampler):
    targets = sampler.regions.targets
    assert np.asarray(targets['aid']).tolist() == [1, 2, 3, 4]
    assert sampler.regions.get_positive(1) == {
        'aid': 2, 'gid': 1, 'category_id': 2, 'cx': 110.0, 'cy': 85.0, 'width': 20.0,
        'height': 10.0, 'img_width': 400, 'img_height': 300}
    assert sampler.n_positives == 4 and len(sampler) == 4


def test_load_item_centres_positives_on_their_annotation(sampler):
    sample = sampler.load_item(1, target={'window_dims': (30, 40)})
    assert sample['target']['aid'] == 2
    assert sample['target']['space_slice'] == (slice(70, 100), slice(90, 130))
    assert sample['annots']['rel_boxes'].data.tolist() == [[10.0, 10.0, 20.0, 10.0]]


def test_negative_pools_follow_the_ratio_and_overlap_threshold(shapes):
    for seed in range(4):
        regions = ndsampler.CocoRegions(shapes, verbose=0)
        n_pos, n_neg = regions.preselect(neg_to_pos_ratio=0.5, window_dims=(48, 48), rng=seed)
        assert (n_pos, n_neg) == (len(regions.targets), int(0.5 * n_pos))
        index = regions.isect_index
        for i in range(n_neg):
            neg = regions.get_negative(i)
            assert (neg['aid'], neg['category_id'], neg['width'], neg['height']) == (-1, 0, 48, 48)
            box = [neg['cx'] - 24, neg['cy'] - 24, neg['cx'] + 24, neg['cy'] + 24]
            _, iooas = index.iooas(neg['gid'], box)
            assert (np.asarray(iooas) <= coco_regions.NEGATIVE_OVERLAP_THRESH).all()


def test_the_same_seed_gives_the_same_pools(shapes, tmp_path):
    def pool(seed, workdir=None):
        regions = ndsampler.CocoRegions(shapes, workdir=workdir, verbose=0)
        regions.preselect(n_pos=20, n_neg=10, rng=seed)
        return ([regions.get_positive(i)['aid'] for i in range(20)],
                [regions.get_negative(i) for i in range(10)])
    assert pool(3) == pool(3)
    assert pool(3) != pool(4)
    assert pool(3, tmp_path) == pool(3)
    assert len(list((tmp_path / '_cache' / 'regions').glob('negatives_*.json'))) == 1
    assert pool(3, tmp_path) == pool(3)  # served from the cache


@pytest.mark.parametrize('how', ['regions.get_negative', 'load_negative', 'load_item'])
def test_a_specific_negative_before_preselect_raises_missing_negative_pool(sampler, how):
    with pytest.raises(ndsampler.MissingNegativePool) as info:
        if how == 'regions.get_negative':
            sampler.regions.get_negative(0)
        elif how == 'load_negative':
            sampler.load_negative(0)
        else:
            sampler.load_item(sampler.n_positives)
    assert isinstance(info.value, AssertionError)


def test_a_negative_without_index_needs_no_pool(sampler):
    neg = sampler.regions.get_negative(rng=0)
    assert neg['aid'] == -1 and neg['gid'] in (1, 2, 3)
    assert sampler.load_negative(rng=1)['target']['aid'] == -1


def test_an_unfillable_pool_warns_and_is_shorter(shapes):
    regions = ndsampler.CocoRegions(shapes, verbose=0)
    with pytest.warns(UserWarning, match='found only'):
        n_pos, n_neg = regions.preselect(n_neg=5, window_dims=(700, 700), rng=0)
    assert n_neg == 0 and regions.n_negatives == 0


def test_preselect_rejects_both_n_neg_and_ratio(shapes):
    with pytest.raises(ValueError):
        ndsampler.CocoRegions(shapes).preselect(n_neg=3, neg_to_pos_ratio=1.0)


def test_sampler_length_counts_the_preselected_negatives(sampler):
    n_pos, n_neg = sampler.preselect(n_neg=3, window_dims=(8, 8), rng=0)
    assert len(sampler) == n_pos + n_neg == 7
    sample = sampler.load_item(n_pos + 2)
    assert sample['target']['aid'] == -1 and sample['im'].shape[0:2] == (8, 8)


def test_overlapping_aids_ious_and_iooas_match_hand_computed_values(dset):
    index = FrameIntersectionIndex.from_coco(dset)
    region = kwimage.Boxes([0, 0, 50, 50], 'ltrb')
    assert index.overlapping_aids(1, region) == [1]
    aids, ious = index.ious(1, region)
    # annotation 1 is ltrb [10, 20, 40, 60]: intersection 30 x 30, union 1200 + 2500 - 900
    assert aids == [1] and np.allclose(ious, [900 / 2800])
    assert np.allclose(index.iooas(1, region)[1], [900 / 1200])
    assert index.overlapping_aids(1, [100, 0, 400, 300]) == [2, 3]
    assert (index.qtrees[1].width, index.qtrees[1].height) == (400, 300)
    assert index.qtrees[1].aid_to_ltrb[2].tolist() == [100, 80, 120, 90]


def test_random_negatives_need_exactly_one_size_source(dset):
    index = FrameIntersectionIndex.from_coco(dset)
    with pytest.raises(ValueError):
        index.random_negatives(2, rng=0)
    with pytest.raises(Exception, match='found only'):
        index.random_negatives(2, window_size=(1000, 1000), rng=0, patience=3)


def test_select_positive_regions_keeps_non_overlapping_windows(shapes):
    targets = coco_regions.tabular_coco_targets(shapes)
    keep = ndsampler.select_positive_regions(targets, window_dims=(100, 100), rng=0)
    assert keep.tolist() == sorted(keep.tolist()) and 0 < len(keep) < len(targets)
    gids, cx, cy = (np.asarray(targets[k])[keep] for k in ('gid', 'cx', 'cy'))
    for gid in np.unique(gids):
        m = gids == gid
        boxes = kwimage.Boxes(np.stack([cx[m], cy[m], np.full(m.sum(), 100.0),
                                        np.full(m.sum(), 100.0)], axis=1), 'cxywh')
        ious = boxes.ious(boxes)
        assert (ious[~np.eye(len(ious), dtype=bool)] <= 0).all()


def test_sample_grid_covers_every_pixel_of_awkward_images(sampler):
    grid = sampler.new_sample_grid('image_detection', window_dims=(64, 48), window_overlap=0.25)
    coverage = {gid: np.zeros((img['height'], img['width']), bool)
                for gid, img in sampler.dset.imgs.items()}
    for target in grid['targets']:
        coverage[target['gid']][target['slices']] = True
    assert all(mask.all() for mask in coverage.values())
    assert all(grid['targets'][i - 1] is t for i, t in zip(grid['positives_indexes'], grid['positives']))
    positive_aids = sorted({a for t in grid['positives'] for a in t['aids']})
    assert positive_aids == [1, 2, 3, 4]
    assert all(t['aids'] == [] for t in grid['negatives'])
    # an image smaller than the window gets one window
    small = sampler.new_sample_grid('image_detection', window_dims=(512, 512))
    assert [t['slices'] for t in small['targets'] if t['gid'] == 2] == [(slice(0, 512), slice(0, 512))]


def test_regions_repr_and_class_lookups(sampler):
    assert 'nPos=None' in repr(sampler.regions)
    assert sampler.lookup_class_name(2) == 'dog' and sampler.lookup_class_id('cat') == 1
    assert sampler.BACKGROUND_CLASS_ID == 0


def test_demo_photos_drops_boxless_annotations_and_adds_background(monkeypatch):
    original = kwcoco.CocoDataset.demo

    def offline_photos(key, **kw):
        dset = original('shapes2')
        dset.add_annotation(image_id=1, category_id=1)
        return dset
    monkeypatch.setattr(kwcoco.CocoDataset, 'demo', staticmethod(offline_photos))
    sampler = ndsampler.CocoSampler.demo('photos', backend=None)
    assert all(ann.get('bbox') is not None for ann in sampler.dset.anns.values())
    assert sampler.dset.index.name_to_cat['background']['id'] == 0


def test_get_item_segmentations_and_target_annots(sampler):
    sampler.preselect(n_neg=2, window_dims=(8, 8), rng=0)
    assert sampler.regions.get_item(1)['aid'] == 2
    assert sampler.regions.get_item(4)['aid'] == -1
    (poly, none) = sampler.regions.get_segmentations([1, 2])
    assert none is None
    assert poly.data[0].data['exterior'].data.tolist() == [[10, 20], [40, 20], [40, 60], [10, 60]]
    target = {'gids': [1], 'space_slice': (slice(0, 50), slice(0, 50))}
    assert sampler.load_target_annots(target) == [1]


def test_demo_probs_follow_the_tree():
    pytest.importorskip('torch')
    tree = ndsampler.CategoryTree.demo('btree', r=2, h=2)
    probs = tree._demo_probs(num=3, rng=0)
    roots = [tree.node_to_idx[n] for n in ndsampler.category_tree.source_nodes(tree.graph)]
    assert probs.shape == (3, len(tree)) and np.allclose(probs[:, roots].sum(axis=1), 1)


def test_too_few_negatives_raise_a_typed_error(dset):
    from ndsampler.errors import NdsamplerError, NegativeSamplingError
    index = FrameIntersectionIndex.from_coco(dset)
    with pytest.raises(NegativeSamplingError) as info:
        index.random_negatives(2, window_size=(1000, 1000), rng=0, patience=3)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, NdsamplerError)
    assert str(info.value) == 'found only 0 of 2 negative windows in 6 draws'


def test_regions_share_one_annotation_index(dset):
    from ndsampler.annot_index import AnnotIndex
    index = AnnotIndex(dset)
    regions = ndsampler.CocoRegions(dset, verbose=0, annot_index=index)
    assert regions.annot_index is index and regions.isect_index.annot_index is index
    region = kwimage.Boxes([[100, 85, 30, 30]], 'xywh')   # covers half of annotation 2
    assert regions.overlapping_aids(1, region) == [2]
    assert regions.overlapping_aids(1, region, visible_thresh=0.5) == []
    assert regions.overlapping_aids(1, region, visible_thresh=0.49) == [2]


def test_image_grid_windows_mostly_covered_by_ignore_boxes_are_left_out(dset):
    # 0.8.1 drops such a window from the grid (``continue``), it is no target at all
    from ndsampler.sample_grids import new_image_sample_grid
    dset.add_category('ignore', id=3)
    # image 3 is 130 x 100: windows of 50 x 50 at x = 0, 50, 80 and y = 0, 50
    dset.add_annotation(image_id=3, category_id=3, bbox=[80, 0, 50, 40], id=5)
    grid = new_image_sample_grid(dset, (50, 50), verbose=0)
    status = {}
    for i, target in enumerate(grid['targets'], start=1):
        if target['gid'] == 3:
            sl_y, sl_x = target['slices']
            kind = ('pos' if i in grid['positives_indexes'] else
                    'neg' if i in grid['negatives_indexes'] else 'neither')
            status[(sl_y.start, sl_x.start)] = (kind, target['aids'])
    assert status == {
        (0, 0): ('pos', [4]),            # annotation 4 (a dog) at [0, 0, 5, 5]
        (0, 50): ('neg', [5]),           # ignore covers 20 x 40 of 50 x 50: 32%
        # (0, 80) is missing: ignore covers 50 x 40 of it, 80% > 60%
        (50, 0): ('neg', []), (50, 50): ('neg', []), (50, 80): ('neg', [])}
    n = len(grid['targets'])
    assert sorted(grid['positives_indexes'] + grid['negatives_indexes']) == list(range(1, n + 1))


def test_image_grid_ignore_coverage_counts_the_union_of_ignore_boxes(dset):
    from ndsampler.sample_grids import new_image_sample_grid, union_area
    dset.add_category('Ignore', id=3)   # names are compared in lower case
    # two ignore boxes over the 50 x 50 window at (0, 50) of image 3: each
    # covers 40% of it, their union 70% (> 60%), their overlap 10%
    dset.add_annotation(image_id=3, category_id=3, bbox=[50, 0, 50, 20], id=5)
    dset.add_annotation(image_id=3, category_id=3, bbox=[50, 15, 50, 20], id=6)
    assert union_area(np.array([[50, 0, 100, 20], [50, 15, 100, 35]], float)) == 1750.0
    grid = new_image_sample_grid(dset, (50, 50), verbose=0)
    starts = [(t['slices'][0].start, t['slices'][1].start) for t in grid['targets'] if t['gid'] == 3]
    assert starts == [(0, 0), (0, 80), (50, 0), (50, 50), (50, 80)]
    kept = new_image_sample_grid(dset, (50, 50), ignore_coverage_thresh=0.75, verbose=0)
    assert len(kept['targets']) == len(grid['targets']) + 1
    none = new_image_sample_grid(dset, (50, 50), ignore_coverage_thresh=0, verbose=0)
    assert len(none['targets']) == len(grid['targets']) + 1
