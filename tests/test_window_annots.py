"""The shared annotation index: window queries, and annotations in window coordinates."""
import pickle

import kwcoco
import kwimage
import numpy as np
import pytest

from ndsampler import windows
from ndsampler.annot_index import AnnotIndex
from ndsampler.isect_indexer import FrameIntersectionIndex
from ndsampler.window_annots import frame_detections, parse_with_annots, sample_annots, window_aids


def Window(gids, ltrb, scale=None, warps=None):
    """A resolved sample spec: the padded window ``(x0, y0, x1, y1)`` in space
    pixels, an optional ``(sx, sy)`` scale and image-to-space warps per frame."""
    x0, y0, x1, y1 = ltrb
    target = {'slices': (slice(y0, y1), slice(x0, x1)), 'scale': scale}
    return windows.resolve_sample(target, (100000, 100000), tuple(gids),
                                  frame_warps=warps or ())


@pytest.fixture
def index(dset):
    return AnnotIndex(dset, dset.keypoint_categories())


def brute_force_rows(ltrb, window, visible_thresh=0.0):
    """The reference query: every box of the image tested."""
    wl, wt, wr, wb = window
    hit = (ltrb[:, 0] <= wr) & (ltrb[:, 2] >= wl) & (ltrb[:, 1] <= wb) & (ltrb[:, 3] >= wt)
    if visible_thresh > 0:
        iw = np.clip(np.minimum(ltrb[:, 2], wr) - np.maximum(ltrb[:, 0], wl), 0, None)
        ih = np.clip(np.minimum(ltrb[:, 3], wb) - np.maximum(ltrb[:, 1], wt), 0, None)
        area = (ltrb[:, 2] - ltrb[:, 0]) * (ltrb[:, 3] - ltrb[:, 1])
        with np.errstate(divide='ignore', invalid='ignore'):
            hit = np.where(area > 0, iw * ih / area, 0.0) > visible_thresh
    return np.flatnonzero(hit)


def test_annotations_are_shifted_into_the_window(dset, index):
    # annotation 1: bbox [10, 20, 30, 40], square polygon, keypoint (25, 40)
    annots = sample_annots(index, Window([1], (5, 10, 45, 50)), True, 'classes')
    assert annots['aids'].tolist() == [1] and annots['cids'].tolist() == [1]
    assert annots['rel_boxes'].format == 'xywh'
    assert annots['rel_boxes'].data.tolist() == [[5.0, 10.0, 30.0, 40.0]]
    exterior = annots['rel_ssegs'].data[0].data[0].data['exterior'].data
    assert exterior.tolist() == [[5, 10], [35, 10], [35, 50], [5, 50]]
    points = annots['rel_kpts'].data[0]
    assert points.xy.tolist() == [[20.0, 30.0]] and points.data['class_idxs'].tolist() == [0]
    assert annots['rel_kpts'].meta['classes'] is index.kp_classes
    dets = annots['frame_dets'][0]
    assert (dets.meta['gid'], dets.meta['rel_frame_index'], dets.meta['classes']) == (1, 0, 'classes')
    assert annots['rel_frame_index'].tolist() == [0]


def test_a_scaled_window_scales_boxes_polygons_and_keypoints(index):
    annots = sample_annots(index, Window([1], (0, 0, 50, 70), scale=(0.5, 0.25)), True, None)
    assert annots['rel_boxes'].data.tolist() == [[5.0, 5.0, 15.0, 10.0]]
    exterior = annots['rel_ssegs'].data[0].data[0].data['exterior'].data
    assert exterior.tolist() == [[5, 5], [20, 5], [20, 15], [5, 15]]
    assert annots['rel_kpts'].data[0].xy.tolist() == [[12.5, 10.0]]


def test_a_rotated_frame_gets_the_bounding_box_of_its_warped_corners(index):
    # image to space: rotate 90 degrees (x, y) -> (-y, x), then shift by (100, 0)
    warp = np.array([[0, -1, 100], [1, 0, 0], [0, 0, 1.0]])
    annots = sample_annots(index, Window([1], (30, 0, 90, 50), warps=[warp]), True, None)
    # bbox ltrb [10, 20, 40, 60] -> space x in [40, 80], y in [10, 40]; window starts at (30, 0)
    assert annots['aids'].tolist() == [1]
    assert annots['rel_boxes'].data.tolist() == [[10.0, 10.0, 40.0, 30.0]]
    exterior = annots['rel_ssegs'].data[0].data[0].data['exterior'].data
    assert exterior.tolist() == [[50, 10], [50, 40], [10, 40], [10, 10]]


def test_frame_detections_take_rows_as_a_list_or_an_array(index):
    # image 1's annotation 1: bbox [10, 20, 30, 40], a square polygon, keypoint (25, 40)
    half = np.diag([0.5, 0.5, 1.0])
    for rows in ([0], np.array([0]), (0,)):
        dets = frame_detections(index, 1, rows, half, {'boxes', 'segmentation', 'keypoints'}, None)
        assert dets.data['aids'].tolist() == [1]
        assert dets.boxes.data.tolist() == [[5.0, 10.0, 15.0, 20.0]]
        exterior = dets.data['segmentations'].data[0].data[0].data['exterior'].data
        assert exterior.tolist() == [[5, 10], [20, 10], [20, 30], [5, 30]]
        assert dets.data['keypoints'].data[0].xy.tolist() == [[12.5, 20.0]]
    empty = frame_detections(index, 1, [], half, {'boxes', 'segmentation', 'keypoints'}, None)
    assert len(empty) == 0 and empty.boxes.data.shape == (0, 4)


def test_boxes_touching_the_window_edge_count_but_are_not_visible(index):
    # annotation 2 is ltrb [100, 80, 120, 90]: the window's right edge is its left edge
    touching = Window([1], (60, 60, 100, 100))
    assert window_aids(index, touching) == [2]
    assert window_aids(index, touching, visible_thresh=0.01) == []
    half = Window([1], (110, 0, 200, 200))
    assert window_aids(index, half, visible_thresh=0.49) == [2]
    assert window_aids(index, half, visible_thresh=0.5) == []
    annots = sample_annots(index, half, 'boxes', None, visible_thresh=0.5)
    assert annots['aids'].tolist() == [] and annots['rel_boxes'].data.shape == (0, 4)


def test_annot_ids_replace_the_lookup_within_each_frame_image(index):
    far = Window([1, 3], (1000, 1000, 1010, 1010))
    annots = sample_annots(index, far, True, None, annot_ids=[4, 2, 99])
    assert annots['aids'].tolist() == [2, 4]
    assert annots['rel_frame_index'].tolist() == [0, 1]
    assert annots['rel_boxes'].data.tolist() == [[-900.0, -920.0, 20.0, 10.0],
                                                [-1000.0, -1000.0, 5.0, 5.0]]
    assert [len(d) for d in annots['frame_dets']] == [1, 1]


def test_window_aids_match_the_sample_annotations(index):
    for ltrb in [(0, 0, 400, 300), (0, 0, 50, 50), (380, -5, 420, 5), (200, 200, 210, 210)]:
        window = Window([1, 3], ltrb)
        assert window_aids(index, window) == sample_annots(index, window, True, None)['aids'].tolist()
    assert window_aids(index, Window([1, 3], (0, 0, 400, 300))) == [1, 2, 3, 4]


def test_parts_not_asked_for_are_left_empty_and_legacy_keys_are_optional(index):
    annots = sample_annots(index, Window([1], (0, 0, 50, 70)), 'boxes', None, legacy=False)
    assert list(annots) == ['frame_dets']
    dets = annots['frame_dets'][0]
    assert dets.data['segmentations'].data == [None] and dets.data['keypoints'].data == [None]
    assert sorted(parse_with_annots('boxes+segmentations')) == ['boxes', 'segmentation']


def test_annotations_without_a_bbox_are_left_out(dset):
    dset.add_annotation(image_id=1, category_id=1, id=50, segmentation=[[0, 0, 9, 0, 9, 9]])
    index = AnnotIndex(dset)
    assert index.for_image(1).aids.tolist() == [1, 2, 3]
    assert window_aids(index, Window([1], (0, 0, 400, 300))) == [1, 2, 3]


def test_flat_keypoints_and_mask_segmentations_are_parsed_like_kwimage(dset):
    mask = np.zeros((300, 400), dtype=np.uint8)
    mask[20:60, 10:40] = 1
    dset.anns[1]['segmentation'] = kwimage.Mask(mask, 'c_mask').to_coco()
    dset.anns[1]['keypoints'] = [12, 22, 2, 30, 50, 1]
    index = AnnotIndex(dset)
    annots = sample_annots(index, Window([1], (10, 20, 60, 80)), True, None)
    expect = kwimage.Segmentation.coerce(dset.anns[1]['segmentation'], dims=(300, 400))
    expect = expect.to_multi_polygon().translate((-10, -20))
    got = annots['rel_ssegs'].data[0]
    assert np.allclose(got.data[0].data['exterior'].data, expect.data[0].data['exterior'].data)
    points = annots['rel_kpts'].data[0]
    assert points.xy.tolist() == [[2.0, 2.0], [20.0, 30.0]]
    assert points.data['visible'].tolist() == [2, 1]


def test_the_grid_query_equals_a_brute_force_scan_on_dense_random_boxes():
    rng = np.random.RandomState(7)
    n = 4000
    xy = rng.uniform(-300, 2000, size=(n, 2)).round(1)
    wh = rng.exponential(15, size=(n, 2)).round(1)
    wh[0:40] = rng.uniform(200, 900, size=(40, 2))   # larger than a bucket: coarser levels
    wh[40:45] = [3e6, 20]                            # larger than every level: always scanned
    wh[45:60] = 0                                    # empty boxes
    wh[60] = np.nan                                  # meets nothing
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name='x.png', id=1, width=2000, height=2000)
    dset.add_category('thing', id=1)
    order = rng.permutation(n)  # ids not in spatial order
    for i in order:
        dset.add_annotation(image_id=1, category_id=1, bbox=[*xy[i], *wh[i]], id=int(i) + 1)
    index = AnnotIndex(dset)
    img = index.for_image(1)
    grid = img.grid
    assert len(grid.levels) >= 2 and grid.scan.tolist() == [40, 41, 42, 43, 44, 60]
    assert img.aids.tolist() == list(range(1, n + 1))
    ltrb = img.ltrb
    corner = rng.uniform(-600, 2300, size=(300, 2))
    windows = [tuple(v) for v in np.concatenate([corner, corner + rng.uniform(0, 400, (300, 2))], 1)]
    # windows whose edges are exactly some box edges, and windows partly or fully outside
    for k in range(100):
        box = ltrb[rng.randint(n)]
        windows.append((box[2], box[3], box[2] + 50, box[3] + 50))
        windows.append((box[0] - 64, box[1] - 64, box[0], box[1]))
    windows += [(-5000, -5000, -4000, -4000), (-400, -400, 5, 5), (1990, 1990, 2500, 2500)]
    for window in windows:
        for thresh in (0.0, 0.3):
            expect = brute_force_rows(ltrb, window, thresh)
            got = index.overlapping_rows(1, window, thresh)
            assert got.tolist() == expect.tolist(), (window, thresh)
    assert sum(index.overlapping_rows(1, w).size for w in windows) > 10 * len(windows)


def test_the_index_pickles_without_its_arrays(dset, index):
    index.overlapping_rows(1, (0, 0, 10, 10))
    assert index.for_image(1).polygons is not None
    clone = pickle.loads(pickle.dumps(index))
    assert clone._images == {} and clone.kp_classes.idx_to_node == index.kp_classes.idx_to_node
    assert len(pickle.dumps(index)) < len(pickle.dumps((dset, index.kp_classes))) + 200
    assert window_aids(clone, Window([1], (0, 0, 50, 50))) == [1]


def test_the_intersection_index_answers_from_the_shared_index(dset, index):
    isect = FrameIntersectionIndex.from_coco(dset, annot_index=index)
    assert isect.annot_index is index
    assert isect.overlapping_aids(1, [100, 0, 400, 300]) == [2, 3]
    assert isect.qtrees[1].aid_to_ltrb[1].tolist() == [10, 20, 40, 60]


def test_images_without_a_size_are_indexed_and_skipped_for_negatives(dset):
    del dset.imgs[2]['width'], dset.imgs[2]['height']
    isect = FrameIntersectionIndex.from_coco(dset)
    assert (isect.qtrees[2].width, isect.qtrees[2].height) == (None, None)
    gids, _ = isect.random_negatives(20, window_size=(4, 4), rng=0)
    assert 2 not in gids.tolist() and len(gids) == 20
    sized = FrameIntersectionIndex.from_coco(dset, image_dims=lambda gid: (50, 70))
    assert (sized.qtrees[2].width, sized.qtrees[2].height) == (70, 50)


def random_boxes_dset(n, seed, width=3000):
    """One image of ``n`` small random boxes (some empty, one inverted), ids shuffled."""
    rng = np.random.RandomState(seed)
    xy = rng.uniform(-50, width, size=(n, 2)).round(1)
    wh = rng.uniform(0, 40, size=(n, 2)).round(1)
    wh[0:10, 0] = 0.0       # empty boxes
    wh[10] = [-0.0, 5.0]    # a negative zero width
    wh[11:14] = 500.0       # a few larger than the blocks
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name='x.png', id=1, width=width, height=width)
    dset.add_category('thing', id=1)
    for i in rng.permutation(n):
        dset.add_annotation(image_id=1, category_id=1, bbox=[*xy[i], *wh[i]], id=int(i) + 1)
    return dset


@pytest.mark.parametrize('max_layers', [3, 1])
def test_the_block_query_equals_a_brute_force_scan_with_visibility(monkeypatch, max_layers):
    import ndsampler.annot_index as annot_index
    monkeypatch.setattr(annot_index, 'MAX_BLOCK_LAYERS', max_layers)
    dset = random_boxes_dset(3000, 3)
    index = AnnotIndex(dset)
    ltrb = index.for_image(1).ltrb
    rng = np.random.RandomState(5)
    windows = []
    for size in (8, 100, 224, 300, 1000, 5000):
        corner = rng.uniform(-300, 3100, size=(40, 2))
        windows += [tuple(v) for v in np.concatenate([corner, corner + size * rng.uniform(0.5, 1, (40, 2))], 1)]
    for k in range(60):   # edges on box edges, half boxes, degenerate windows
        box = ltrb[rng.randint(len(ltrb))]
        windows.append((box[0] + (box[2] - box[0]) / 2, box[1], box[0] + 224, box[1] + 224))
        windows.append((box[2], box[3], box[2], box[3] + 50))
    for window in windows:
        for thresh in (0.0, 0.1, 0.5):
            expect = brute_force_rows(ltrb, window, thresh)
            got = index.overlapping_rows(1, window, thresh)
            assert got.dtype == np.intp and got.tolist() == expect.tolist(), (window, thresh)
    layers = index.for_image(1).grid._blocks
    assert 1 <= len(layers) <= max_layers


def test_a_resolved_spec_gives_the_same_annotations_as_its_matrix(tmp_path):
    class ViaMatrix:
        """The same spec, its frame map taken from ``image_box`` / ``image_to_window``."""

        def __init__(self, spec):
            self.spec = spec
            self.gids = spec.gids

        def frame_map(self, i):
            matrix = self.spec.image_to_window(i)
            return self.spec.image_box(i), tuple(matrix[0:2].ravel().tolist())

    dset = random_boxes_dset(500, 4, width=1000)
    index = AnnotIndex(dset)
    targets = [{'gid': 1, 'cx': 500.5, 'cy': 300, 'width': 224, 'height': 100},
               {'gid': 1, 'cx': 480, 'cy': 520, 'width': 128, 'height': 96, 'scale': 0.5, 'pad': 3},
               {'gid': 1, 'slices': (slice(0, 1000), slice(0, 1000))}]
    for target in targets:
        spec = windows.resolve_sample(target, (1000, 1000), (1,))
        for thresh in (0.0, 0.1):
            fast = sample_annots(index, spec, True, None, thresh)
            slow = sample_annots(index, ViaMatrix(spec), True, None, thresh)
            assert fast['aids'].tolist() == slow['aids'].tolist() and len(fast['aids'])
            assert fast['rel_boxes'].data.tobytes() == slow['rel_boxes'].data.tobytes()
            assert fast['rel_boxes'].data.dtype == np.float64
    # a negative zero width comes back as 0.0, as adding the shift to it gives
    spec = windows.resolve_sample({'gid': 1, 'slices': (slice(0, 1000), slice(0, 1000))}, (1000, 1000), (1,))
    annots = sample_annots(index, spec, 'boxes', None)
    assert np.signbit(annots['rel_boxes'].data[:, 2:4]).sum() == 0


def test_samples_do_not_share_their_annotation_containers():
    from ndsampler import windows
    index = AnnotIndex(random_boxes_dset(200, 6, width=500))
    spec = windows.resolve_sample({'gid': 1, 'cx': 250, 'cy': 250, 'width': 200, 'height': 200}, (500, 500), (1,))
    one, two = (sample_annots(index, spec, True, None) for _ in range(2))
    assert len(one['aids']) > 0
    for key in ('aids', 'cids', 'rel_frame_index'):
        assert one[key] is not two[key]
    assert one['rel_boxes'].data is not two['rel_boxes'].data
    assert one['rel_ssegs'].data is not two['rel_ssegs'].data
    assert one['rel_kpts'].data is not two['rel_kpts'].data
    assert one['rel_kpts'].meta is not two['rel_kpts'].meta
