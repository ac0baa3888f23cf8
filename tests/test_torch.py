"""
``ndsampler.torch``: the dataset's items, ``collate``, ``RegionSampler``'s
draws and shards (also in a real two-process ``gloo`` group), DataLoader
workers under fork and spawn, and that the package works without torch.
"""
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from ndsampler.torch import RegionSampler, SamplerDataset, collate  # NOQA: E402


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def shapes8(tmp_path_factory):
    import ndsampler
    workdir = tmp_path_factory.mktemp('shapes8')
    return ndsampler.CocoSampler.demo('shapes8', backend='npy', workdir=workdir)


@pytest.fixture(scope='module')
def skewed():
    """A sampler over 20 images of 100 x 100 without files: 90 annotations of
    category 'a', 10 of 'b' (enough for regions; nothing here reads pixels)."""
    import kwcoco
    import ndsampler
    dset = kwcoco.CocoDataset()
    cid_a = dset.add_category('a')
    cid_b = dset.add_category('b')
    rng = np.random.RandomState(0)
    gids = [dset.add_image(file_name='img_{}.png'.format(i), width=100, height=100)
            for i in range(20)]
    for i in range(100):
        x, y = rng.randint(0, 40, size=2)
        dset.add_annotation(image_id=gids[i % 20], category_id=cid_a if i < 90 else cid_b,
                            bbox=[float(x), float(y), 10.0, 10.0])
    return ndsampler.CocoSampler(dset, backend=None), cid_a, cid_b


def aids_of(targets):
    return [t['aid'] for t in targets]


def target_key(target):
    return (target['gid'], target['aid'], round(target['cx'], 6), round(target['cy'], 6))


# -- SamplerDataset ----------------------------------------------------------------------------

def test_item_of_positive_has_channels_first_image_and_window_boxes(shapes8):
    ds = SamplerDataset(shapes8)
    assert len(ds) == shapes8.n_positives == 71
    item = ds[0]
    sample = shapes8.load_sample(shapes8.regions.get_positive(0))
    assert item['im'].dtype == torch.float32 and item['im'].is_contiguous()
    assert tuple(item['im'].shape) == (3, 63, 162)
    assert np.array_equal(item['im'].numpy(), sample['im'].transpose(2, 0, 1).astype(np.float32))
    expected = sample['annots']['rel_boxes'].to_ltrb().data.astype(np.float32)
    assert item['boxes'].dtype == torch.float32
    assert item['boxes'].tolist() == expected.tolist() == [[0.0, 0.0, 162.0, 63.0]]
    assert item['aids'].dtype == torch.int64 and item['aids'].tolist() == [1]
    assert item['class_idxs'].dtype == torch.int64
    assert item['class_idxs'].tolist() == [shapes8.classes.id_to_idx[7]] == [5]
    assert shapes8.classes[5] == 'eff'


def test_item_tr_is_plain_python(shapes8):
    tr = SamplerDataset(shapes8)[0]['tr']
    assert tr['aid'] == 1 and type(tr['aid']) is int and type(tr['cx']) is float
    assert tr['slices'] == (slice(283, 346), slice(234, 396))
    assert type(tr['slices'][0].start) is int
    assert pickle.loads(pickle.dumps(tr)) == tr


def test_item_segmentations_are_multipolygons_in_window_pixels(shapes8):
    import kwimage
    target = {'gid': 2, 'cx': 300, 'cy': 300, 'width': 600, 'height': 600}
    item = SamplerDataset(shapes8, [target], with_annots=['boxes', 'segmentation'])[0]
    assert len(item['segmentations']) == len(item['aids']) > 1
    for sseg, box in zip(item['segmentations'], item['boxes'].numpy()):
        assert isinstance(sseg, kwimage.MultiPolygon)
        x1, y1, x2, y2 = sseg.box().to_ltrb().data
        assert box[0] - 1 <= x1 and x2 <= box[2] + 1 and box[1] - 1 <= y1 and y2 <= box[3] + 1
    assert 'segmentations' not in SamplerDataset(shapes8, [target], with_annots='boxes')[0]


def test_item_by_target_dict_dtype_none_and_transform(shapes8):
    target = {'gid': 2, 'cx': 50, 'cy': 60, 'width': 20, 'height': 10}
    seen = []

    def transform(sample):
        seen.append(sample['im'].shape)
        sample['im'] = sample['im'][::-1]  # a negative stride: the dataset copies once
        return sample

    ds = SamplerDataset(shapes8, [], dtype=None, transform=transform)
    item = ds[target]
    assert seen == [(10, 20, 3)]
    assert item['im'].dtype == torch.uint8 and tuple(item['im'].shape) == (3, 10, 20)
    im = shapes8.load_sample(target)['im']
    assert np.array_equal(item['im'].numpy(), im[::-1].transpose(2, 0, 1))
    assert len(ds) == 0


def test_item_without_annots_has_empty_fields(shapes8):
    item = SamplerDataset(shapes8, with_annots=False)[0]
    assert tuple(item['boxes'].shape) == (0, 4) and item['aids'].tolist() == []
    assert item['class_idxs'].tolist() == [] and 'segmentations' not in item


def test_item_of_video_target_is_channels_time_height_width(tmp_path):
    import ndsampler
    sampler = ndsampler.CocoSampler.demo('vidshapes2', backend='npy', workdir=tmp_path)
    dset = sampler.dset
    vidid = dset.dataset['videos'][0]['id']
    gids = list(dset.index.vidid_to_gids[vidid])
    aid = dset.index.gid_to_aids[gids[0]].copy().pop()
    x, y, w, h = dset.anns[aid]['bbox']
    target = {'vidid': vidid, 'gids': gids, 'cx': x + w / 2, 'cy': y + h / 2,
              'width': 64, 'height': 48}
    item = SamplerDataset(sampler)[target]
    sample = sampler.load_sample(target)
    assert sample['im'].shape == (len(gids), 48, 64, 3)
    assert tuple(item['im'].shape) == (3, len(gids), 48, 64) and item['im'].is_contiguous()
    assert np.array_equal(item['im'].numpy(), sample['im'].transpose(3, 0, 1, 2))
    dets = sample['annots']['frame_dets']
    expected = np.concatenate([d.boxes.to_ltrb().data for d in dets]).astype(np.float32)
    assert len(expected) >= 1 and item['boxes'].tolist() == expected.tolist()
    assert aid in item['aids'].tolist()
    assert item['aids'].tolist() == [a for d in dets for a in d.data['aids'].tolist()]


def _identity(sample):
    return sample


@pytest.mark.parametrize('with_annots', ['boxes', 'boxes+keypoints', False, True,
                                         'boxes+segmentation'])
def test_items_read_as_arrays_equal_items_from_the_sample_dict(shapes8, tmp_path, with_annots):
    """Without a transform an item skips the sample dict's kwimage objects
    (but the segmentations' polygons); it must equal the item made from
    ``load_sample``."""
    import ndsampler
    targets = [{'aid': 3, 'window_dims': (96, 128)},
               {'aid': 5},
               {'gid': 2, 'cx': 5.5, 'cy': 590.25, 'width': 64, 'height': 40, 'pad': 3},
               {'gid': 1, 'cx': -1000, 'cy': -1000, 'width': 16, 'height': 16},
               {'gid': 3, 'cx': 300, 'cy': 300, 'width': 200, 'height': 100, 'scale': 0.5},
               {'aid': 7, 'legacy_annots': False, 'legacy_target': False},
               {'gid': 4, 'slices': (slice(-20, 100), slice(550, 640)), 'nodata': 'float'},
               {'gid': 5, 'cx': 100, 'cy': 100, 'width': 50, 'height': 50, 'dtype': 'float64'}]
    fast = SamplerDataset(shapes8, targets, with_annots=with_annots)
    slow = SamplerDataset(shapes8, targets, with_annots=with_annots, transform=_identity)
    assert fast._arrays_only and not slow._arrays_only
    for i in range(len(targets)):
        _assert_same_items(fast[i], slow[i])
    assert fast[0]['tr'].get('annot_idx', None) == (0 if with_annots else None)
    video = ndsampler.CocoSampler.demo('vidshapes2', backend='npy', workdir=tmp_path)
    vidid = video.dset.dataset['videos'][0]['id']
    gids = list(video.dset.index.vidid_to_gids[vidid])
    target = {'vidid': vidid, 'gids': gids, 'cx': 100, 'cy': 90, 'width': 64, 'height': 48}
    fast = SamplerDataset(video, [target], with_annots=with_annots)
    slow = SamplerDataset(video, [target], with_annots=with_annots, transform=_identity)
    _assert_same_items(fast[0], slow[0])


def test_a_sampler_with_its_own_load_sample_gets_it_called(shapes8):
    import ndsampler
    calls = []

    class Counting(ndsampler.CocoSampler):
        def load_sample(self, *args, **kwargs):
            calls.append(1)
            return super().load_sample(*args, **kwargs)

    sampler = Counting(shapes8.dset, backend=None)
    SamplerDataset(sampler, [{'aid': 3}], with_annots='boxes')[0]
    assert calls == [1]


# -- collate -------------------------------------------------------------------------------------

def test_collate_stacks_images_and_keeps_ragged_annotations_as_lists(shapes8):
    targets = [{'gid': 2, 'cx': 300, 'cy': 300, 'width': 600, 'height': 600},
               {'gid': 1, 'cx': 300, 'cy': 300, 'width': 600, 'height': 600},
               {'gid': 3, 'cx': -1000, 'cy': -1000, 'width': 600, 'height': 600}]
    ds = SamplerDataset(shapes8, targets)
    items = [ds[i] for i in range(3)]
    batch = collate(items)
    assert tuple(batch['im'].shape) == (3, 3, 600, 600)
    counts = [len(it['aids']) for it in items]
    assert len(set(counts)) == 3 and counts[2] == 0
    for key in ['boxes', 'class_idxs', 'aids', 'segmentations', 'tr']:
        assert isinstance(batch[key], list) and len(batch[key]) == 3
    assert [len(b) for b in batch['boxes']] == counts
    assert [t['gid'] for t in batch['tr']] == [2, 1, 3]
    with pytest.raises(ValueError, match='window_dims'):
        collate([items[0], SamplerDataset(shapes8)[0]])


def _storage_ptr(tensor):
    return tensor.untyped_storage().data_ptr()


def _assert_same_items(got, want):
    assert list(got.keys()) == list(want.keys())
    for key in want:
        if isinstance(want[key], torch.Tensor):
            assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape, key
            assert np.array_equal(got[key].numpy(), want[key].numpy(),
                                  equal_nan=want[key].is_floating_point()), key
        elif key == 'segmentations':
            assert [None if p is None else p.to_geojson() for p in got[key]] == \
                [None if p is None else p.to_geojson() for p in want[key]]
        else:
            assert got[key] == want[key], key


WINDOWS = [{'gid': 2, 'cx': 300, 'cy': 300, 'width': 128, 'height': 96},
           {'gid': 1, 'cx': 250, 'cy': 320, 'width': 128, 'height': 96},
           {'gid': 3, 'cx': -1000, 'cy': -1000, 'width': 128, 'height': 96},
           {'aid': 3, 'window_dims': (96, 128)}]


def test_collate_packs_every_tensor_of_a_batch_into_one_storage(shapes8):
    ds = SamplerDataset(shapes8, WINDOWS)
    items = [ds[i] for i in range(len(WINDOWS))]
    batch = collate(items)
    assert isinstance(batch, dict)
    assert torch.equal(batch['im'], torch.stack([it['im'] for it in items]))
    ptr = _storage_ptr(batch['im'])
    for key in ['boxes', 'class_idxs', 'aids']:
        assert isinstance(batch[key], list) and len(batch[key]) == len(items)
        for got, item in zip(batch[key], items):
            assert got.dtype == item[key].dtype and got.shape == item[key].shape
            assert torch.equal(got, item[key]) and got.is_contiguous()
            assert _storage_ptr(got) == ptr     # views of the batch's one buffer
    assert [len(a) for a in batch['aids']][2] == 0
    assert batch['tr'] == [it['tr'] for it in items]
    # the views are independent: writing one changes no other field
    before = [b.clone() for b in batch['boxes']]
    batch['aids'][0].fill_(-7)
    assert all(torch.equal(a, b) for a, b in zip(batch['boxes'], before))


def test_collate_keeps_other_dtypes_and_unpackable_values():
    items = [{'im': torch.arange(6, dtype=torch.uint8).view(1, 2, 3),
              'w': torch.tensor([0.5], dtype=torch.float64), 'm': torch.tensor([True, False]),
              'mixed': torch.tensor([1], dtype=torch.int32), 'name': 'a'},
             {'im': torch.ones(1, 2, 3, dtype=torch.uint8),
              'w': torch.zeros(0, dtype=torch.float64), 'm': torch.tensor([True]),
              'mixed': torch.tensor([1.5]), 'name': 'b'}]
    batch = collate(items)
    assert batch['im'].dtype == torch.uint8 and batch['im'].shape == (2, 1, 2, 3)
    assert [w.tolist() for w in batch['w']] == [[0.5], []]
    assert [m.tolist() for m in batch['m']] == [[True, False], [True]]
    assert batch['mixed'][0] is items[0]['mixed'] and batch['mixed'][1] is items[1]['mixed']
    assert batch['name'] == ['a', 'b']


def test_getitems_gives_the_items_of_getitem_laid_out_as_collate_packs_them(shapes8):
    ds = SamplerDataset(shapes8, [dict(t, window_dims=(96, 128)) for t in WINDOWS])
    items = ds.__getitems__(list(range(len(WINDOWS))))
    for i, item in enumerate(items):
        _assert_same_items(item, ds[i])
    batch = collate(items)
    # no copy: the batch is the buffer the items were written into
    assert batch['im'].data_ptr() == items[0]['im'].data_ptr()
    assert all(b is it['boxes'] for b, it in zip(batch['boxes'], items))
    assert _storage_ptr(batch['aids'][1]) == _storage_ptr(batch['im'])
    want = collate([ds[i] for i in range(len(WINDOWS))])
    assert torch.equal(batch['im'], want['im'])
    # a part of the items, or a changed item, is collated by copying
    part = collate(items[1:3])
    assert torch.equal(part['im'], want['im'][1:3]) and part['im'].data_ptr() != batch['im'].data_ptr()
    # windows of different sizes fall back to one item at a time
    mixed = SamplerDataset(shapes8, WINDOWS).__getitems__([0, 3])
    _assert_same_items(mixed[1], SamplerDataset(shapes8, WINDOWS)[3])


@pytest.mark.parametrize('dtype', ['float32', 'uint8', None, 'float64'])
def test_batch_read_straight_into_its_buffer_equals_the_items_one_by_one(shapes8, dtype):
    """Windows of one size are read straight into their rows of the batch
    (channels first, converted); windows that cannot be (NaN padding, a
    ``dtype`` or ``padkw`` mode in the target) fall back to reading and
    converting; both give the items of ``ds[i]``."""
    straight = [{'gid': 2, 'cx': 300, 'cy': 300, 'width': 128, 'height': 96},
                {'gid': 1, 'cx': 3, 'cy': 590, 'width': 128, 'height': 96},
                {'gid': 3, 'cx': -1000, 'cy': -1000, 'width': 128, 'height': 96},
                {'gid': 4, 'cx': 100, 'cy': 100, 'width': 256, 'height': 192, 'scale': 0.5},
                {'aid': 3, 'window_dims': (96, 128), 'padkw': {'constant_values': 9}}]
    fallback = [dict(straight[1], nodata='float'), dict(straight[1], dtype='int16'),
                dict(straight[1], padkw={'mode': 'edge'})]
    ds = SamplerDataset(shapes8, straight + fallback, dtype=dtype)
    for keys in [list(range(len(straight))), [0, 5], [0, 6], [1, 7]]:
        items = ds.__getitems__(keys)
        for key, item in zip(keys, items):
            _assert_same_items(item, ds[key])
        if dtype is not None or max(keys) < len(straight):  # else NaN padding makes float32
            assert collate(items)['im'].data_ptr() == items[0]['im'].data_ptr()
    im = ds.__getitems__([1])[0]['im']
    assert im[:, 96 // 2 + 10:, :].eq(0).all() and im[:, :40, 64 + 3:].ne(0).any()


def test_batch_buffers_are_reused_only_once_their_batch_is_gone(shapes8):
    loader = torch.utils.data.DataLoader(
        SamplerDataset(shapes8, [dict(t, window_dims=(96, 128)) for t in WINDOWS] * 4),
        batch_size=4, collate_fn=collate)
    kept = [b for b in loader]
    assert len({b['im'].data_ptr() for b in kept}) == 4  # all alive: four buffers
    copies = [b['im'].clone() for b in kept]
    ptrs = [b['im'].data_ptr() for b in loader]  # each dropped before the next
    assert len(set(ptrs)) <= 2
    assert all(torch.equal(b['im'], c) for b, c in zip(kept, copies))


def test_threads_taking_buffers_at_once_never_share_one(monkeypatch):
    import threading
    import time
    collate_module = sys.modules['ndsampler.torch.collate']
    pool = collate_module.BufferPool()
    pool.take(100000, False)  # one free buffer in the pool
    real = collate_module.BufferPool._free

    def slow_free(self, *args):  # widens the gap between the check and the claim
        free = real(self, *args)
        time.sleep(0.05)
        return free
    monkeypatch.setattr(collate_module.BufferPool, '_free', slow_free)
    got = []
    start = threading.Barrier(2)

    def take():
        start.wait()
        got.append(pool.take(100000, False)[0])
    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got[0].data_ptr() != got[1].data_ptr()


def test_packed_batch_pickles_as_one_buffer_and_comes_back_as_views(shapes8):
    ds = SamplerDataset(shapes8, WINDOWS)
    batch = collate([ds[i] for i in range(len(WINDOWS))])
    clone = pickle.loads(pickle.dumps(batch))
    assert list(clone.keys()) == list(batch.keys())
    assert torch.equal(clone['im'], batch['im'])
    for key in ['boxes', 'class_idxs', 'aids']:
        assert all(torch.equal(a, b) for a, b in zip(clone[key], batch[key]))
        assert all(_storage_ptr(a) == _storage_ptr(clone['im']) for a in clone[key])
    assert clone['tr'] == batch['tr']
    # a batch whose packed lists were changed pickles what it holds
    batch['boxes'] = [b * 2 for b in batch['boxes']]
    clone = pickle.loads(pickle.dumps(batch))
    assert all(torch.equal(a, b) for a, b in zip(clone['boxes'], batch['boxes']))


def test_dataset_prepares_the_index_in_the_parent_and_workers_freeze_the_gc(shapes8):
    import gc
    import kwcoco
    import ndsampler
    sampler = ndsampler.CocoSampler(kwcoco.CocoDataset.demo('shapes8'), backend=None,
                                    workdir=shapes8.workdir)
    index = sampler._annot_index
    SamplerDataset(sampler, with_annots='boxes')
    assert index._spans is not None
    assert all(img._polygons is None for img in index._images.values())
    SamplerDataset(sampler)
    assert index._images and all(img._polygons is not None and img._keypoints is not None
                                 for img in index._images.values())

    def record(sample):
        sample['target']['frozen'] = gc.get_freeze_count()
        return sample

    ds = SamplerDataset(sampler, [{'aid': 1}, {'aid': 2}], transform=record)
    assert ds[0]['tr']['frozen'] == gc.get_freeze_count()   # the main process is left alone
    loader = torch.utils.data.DataLoader(ds, batch_size=1, num_workers=1, collate_fn=collate,
                                         multiprocessing_context='fork')
    assert all(batch['tr'][0]['frozen'] > 0 for batch in loader)


# -- RegionSampler: draws ---------------------------------------------------------------------

def test_region_sampler_is_deterministic_per_seed_and_epoch(shapes8):
    def draw(seed, epoch):
        s = RegionSampler(shapes8, 12, seed=seed, window_dims=(32, 32))
        s.set_epoch(epoch)
        return list(s)

    first = draw(0, 0)
    assert len(first) == 12 and first == draw(0, 0)
    assert [target_key(t) for t in first] != [target_key(t) for t in draw(0, 1)]
    assert [target_key(t) for t in first] != [target_key(t) for t in draw(1, 0)]
    assert draw(0, 1) == draw(0, 1)
    assert all(t['window_dims'] == (32, 32) for t in first)
    # plain values: picklable and equal across processes
    assert all(type(t['gid']) is int and type(t['cx']) is float for t in first)


def test_region_sampler_draw_does_not_depend_on_a_preselected_pool(tmp_path):
    import ndsampler
    sampler = ndsampler.CocoSampler.demo('shapes8', backend=None, workdir=tmp_path)
    before = list(RegionSampler(sampler, 8, seed=3))
    sampler.regions.preselect(n_neg=5, rng=0)
    sampler.regions.get_negative()
    assert list(RegionSampler(sampler, 8, seed=3)) == before


@pytest.mark.parametrize('num_samples, pos_fraction, n_pos', [
    (10, 0.5, 5), (10, 0.3, 3), (7, 0.5, 4), (9, 0.0, 0), (9, 1.0, 9), (200, 0.25, 50)])
def test_region_sampler_pos_fraction_count(shapes8, num_samples, pos_fraction, n_pos):
    targets = list(RegionSampler(shapes8, num_samples, pos_fraction=pos_fraction,
                                 window_dims=(24, 24)))
    assert len(targets) == num_samples
    assert sum(t['aid'] >= 0 for t in targets) == n_pos
    negatives = [t for t in targets if t['aid'] < 0]
    ds = SamplerDataset(shapes8, with_annots='boxes')
    for t in negatives[:5]:  # background windows: they meet no annotation box
        assert t['category_id'] == 0 and len(ds[t]['aids']) == 0


def test_region_sampler_positives_cover_each_positive_before_repeating(shapes8):
    targets = list(RegionSampler(shapes8, 71 * 2, pos_fraction=0.5))
    assert sorted(a for a in aids_of(targets) if a >= 0) == sorted(shapes8.regions.targets._data['aid'].tolist())


def test_region_sampler_balance_classes_on_skewed_dataset(skewed):
    sampler, cid_a, cid_b = skewed
    plain = list(RegionSampler(sampler, 400, pos_fraction=1.0, seed=1))
    frac_b = np.mean([t['category_id'] == cid_b for t in plain])
    assert 0.05 <= frac_b <= 0.15
    balanced = list(RegionSampler(sampler, 400, pos_fraction=1.0, seed=1, balance='classes'))
    counts = np.bincount([t['category_id'] for t in balanced])
    assert abs(counts[cid_a] - counts[cid_b]) <= 1 and counts.sum() == 400
    # over many seeds and an odd count the share stays within 50% +- 10%
    for seed in range(5):
        draw = list(RegionSampler(sampler, 51, pos_fraction=0.8, seed=seed, balance='classes'))
        pos = [t for t in draw if t['aid'] >= 0]
        share = np.mean([t['category_id'] == cid_b for t in pos])
        assert len(pos) == 41 and 0.4 <= share <= 0.6


def test_region_sampler_rejects_bad_arguments(shapes8):
    with pytest.raises(ValueError):
        RegionSampler(shapes8, 4, balance='images')
    with pytest.raises(ValueError):
        RegionSampler(shapes8, 4, pos_fraction=1.5)
    with pytest.raises(ValueError):
        list(RegionSampler(shapes8, 4, num_replicas=2, rank=2))


# -- RegionSampler: shards ----------------------------------------------------------------------

@pytest.mark.parametrize('num_replicas', [2, 3])
@pytest.mark.parametrize('num_samples', [12, 13])
def test_region_sampler_shards_are_disjoint_equal_and_cover_the_draw(shapes8, num_replicas,
                                                                      num_samples):
    whole = RegionSampler(shapes8, num_samples, seed=4, window_dims=(16, 16))
    draw = [target_key(t) for t in whole]
    assert len(set(draw)) == num_samples  # every target of the draw is distinct
    shares = []
    for rank in range(num_replicas):
        s = RegionSampler(shapes8, num_samples, seed=4, window_dims=(16, 16),
                          num_replicas=num_replicas, rank=rank)
        share = [target_key(t) for t in s]
        assert len(share) == len(s) == -(-num_samples // num_replicas)
        shares.append(share)
    flat = [k for share in shares for k in share]
    padding = len(flat) - num_samples
    assert padding == (-num_samples) % num_replicas
    assert set(flat) == set(draw)
    # disjoint but for the padding, which repeats the draw's first targets
    assert len(set(flat)) == len(flat) - padding
    assert sorted(flat) == sorted(draw + draw[:padding])


def test_region_sampler_reads_world_at_iteration_not_construction(shapes8, monkeypatch):
    s = RegionSampler(shapes8, 10, seed=0)
    assert len(s) == 10
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    monkeypatch.setattr(torch.distributed, 'get_world_size', lambda group=None: 2)
    monkeypatch.setattr(torch.distributed, 'get_rank', lambda group=None: 1)
    assert len(s) == 5
    assert list(s) == list(RegionSampler(shapes8, 10, seed=0, num_replicas=2, rank=1))


def _gloo_worker(rank, world_size, init_file, sampler_bytes, outdir):
    """One rank of the gloo test: the sampler is built before the process group
    (as frameworks do) and must still take this rank's share."""
    import json
    import torch.distributed as dist
    sampler = pickle.loads(sampler_bytes)
    regions = RegionSampler(sampler, 11, seed=7, window_dims=(16, 16))
    dist.init_process_group('gloo', init_method='file://' + init_file, rank=rank,
                            world_size=world_size)
    try:
        keys = [list(target_key(t)) for t in regions]
        with open(os.path.join(outdir, 'rank{}.json'.format(rank)), 'w') as file:
            json.dump({'len': len(regions), 'keys': keys}, file)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_region_sampler_shards_in_a_real_gloo_group(shapes8, tmp_path):
    import json
    import torch.multiprocessing as mp
    world_size = 2
    init_file = str(tmp_path / 'init')
    mp.spawn(_gloo_worker, args=(world_size, init_file, pickle.dumps(shapes8), str(tmp_path)),
             nprocs=world_size, join=True)
    results = [json.loads((tmp_path / 'rank{}.json'.format(r)).read_text())
               for r in range(world_size)]
    draw = [target_key(t) for t in RegionSampler(shapes8, 11, seed=7, window_dims=(16, 16))]
    shares = [[tuple(k) for k in r['keys']] for r in results]
    assert [r['len'] for r in results] == [6, 6] and [len(s) for s in shares] == [6, 6]
    assert shares[0] == draw[0::2] and shares[1] == draw[1::2] + draw[:1]
    assert set(shares[0]) | set(shares[1]) == set(draw)
    assert len(set(shares[0]) & set(shares[1])) == 1  # the one padding target


# -- DataLoader --------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def reference_batches():
    return {}


@pytest.mark.parametrize('num_workers, context', [
    (0, None), (1, 'fork'), (2, 'fork'), (2, 'spawn'), (1, 'forkserver')],
    ids=['0', '1-fork', '2-fork', '2-spawn', '1-forkserver'])
def test_dataloader_batches_repeat_for_a_fixed_seed(shapes8, num_workers, context,
                                                    reference_batches):
    dataset = SamplerDataset(shapes8)
    sampler = RegionSampler(shapes8, 8, seed=11, window_dims=(16, 16))
    shapes8.load_sample(sampler.draw()[0])  # the parent holds open handles before it forks
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=3, sampler=sampler, collate_fn=collate, num_workers=num_workers,
        multiprocessing_context=context, persistent_workers=num_workers > 0)
    epochs = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = []
        for batch in loader:
            assert batch['im'].shape[1:] == (3, 16, 16)
            batches.append((batch['im'].numpy().copy(), [a.tolist() for a in batch['aids']],
                            [b.tolist() for b in batch['boxes']], batch['tr']))
        assert [len(b[1]) for b in batches] == [3, 3, 2]
        epochs.append(batches)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(*epochs))
    # batches held across a whole epoch keep their values: a worker reuses
    # a batch buffer only once the main process has let go of its batch
    for epoch in range(2):
        sampler.set_epoch(epoch)
        kept = list(loader)
        for batch, (im, aids, _, _) in zip(kept, epochs[epoch]):
            assert np.array_equal(batch['im'].numpy(), im) and [a.tolist() for a in batch['aids']] == aids
    if not reference_batches:
        reference_batches['epochs'] = epochs
        direct = [dataset[t] for t in RegionSampler(shapes8, 8, seed=11, window_dims=(16, 16))]
        assert np.array_equal(np.concatenate([b[0] for b in epochs[0]]),
                              np.stack([d['im'].numpy() for d in direct]))
    for got, want in zip(epochs, reference_batches['epochs']):
        for (im, aids, boxes, trs), (im2, aids2, boxes2, trs2) in zip(got, want):
            assert np.array_equal(im, im2) and aids == aids2 and boxes == boxes2 and trs == trs2


def _items_as_list(items):
    return [dict(item) for item in items]


@pytest.mark.parametrize('context', ['fork', 'spawn'])
def test_worker_batches_pass_shared_memory_once_and_are_never_overwritten(shapes8, context,
                                                                          monkeypatch):
    """A worker sends each pooled segment once; later batches only name it.
    Batches held across epochs, and items collated another way, keep their
    values while the workers go on filling their pools."""
    collate_module = sys.modules['ndsampler.torch.collate']
    targets = [dict(t, window_dims=(96, 128)) for t in WINDOWS] * 6
    dataset = SamplerDataset(shapes8, targets)
    want = [dataset[i] for i in range(len(targets))]
    received = []
    real = collate_module._worker_buffer

    def counting(release):
        received.append(release[4] is not None)
        return real(release)
    monkeypatch.setattr(collate_module, '_worker_buffer', counting)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, collate_fn=collate,
                                         multiprocessing_context=context, persistent_workers=True)
    for epoch in range(3):
        for i, batch in enumerate(loader):  # each batch dropped before the next
            assert torch.equal(batch['im'], torch.stack([w['im'] for w in want[3 * i:3 * i + 3]]))
    assert len(received) == 3 * 8 and sum(received) <= 2 * 4, received
    kept = [list(loader) for _ in range(2)]
    for batches in kept:
        for i, batch in enumerate(batches):
            assert torch.equal(batch['im'], torch.stack([w['im'] for w in want[3 * i:3 * i + 3]]))
            assert [a.tolist() for a in batch['aids']] == [w['aids'].tolist() for w in want[3 * i:3 * i + 3]]
    as_lists = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=1, collate_fn=_items_as_list,
                                           multiprocessing_context=context)
    kept = list(as_lists) + list(as_lists)
    for i, items in enumerate(kept):
        for got, w in zip(items, want[3 * (i % 8):3 * (i % 8) + 3]):
            assert torch.equal(got['im'], w['im'])


def test_a_batch_naming_a_buffer_never_received_is_an_error():
    collate_module = sys.modules['ndsampler.torch.collate']
    with pytest.raises(RuntimeError, match='never received'):
        collate_module._worker_buffer(((os.getpid(), -1), 3, 10, None, None))
    collate_module._WORKER_POOLS.pop((os.getpid(), -1), None)


def test_worker_batches_beyond_the_pool_are_sent_as_before(shapes8, monkeypatch):
    collate_module = sys.modules['ndsampler.torch.collate']
    monkeypatch.setattr(collate_module.POOL, 'max_buffers', 2)  # the forked workers inherit it
    targets = [dict(t, window_dims=(96, 128)) for t in WINDOWS] * 6
    dataset = SamplerDataset(shapes8, targets)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, collate_fn=collate,
                                         multiprocessing_context='fork')
    kept = list(loader) + list(loader)
    for i, batch in enumerate(kept):
        j = 3 * (i % 8)
        assert torch.equal(batch['im'], torch.stack([dataset[k]['im'] for k in range(j, j + 3)]))


# -- without torch -------------------------------------------------------------------------------

def test_package_imports_without_torch_and_ndsampler_torch_says_how_to_install():
    code = textwrap.dedent('''
        import sys
        for name in ['torch', 'torch.utils', 'torch.utils.data']:
            sys.modules[name] = None
        import ndsampler
        sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
        assert sampler.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})['im'].shape == (4, 4, 3)
        assert not [m for m, v in sys.modules.items() if v is not None and m.split('.')[0] == 'torch']
        try:
            import ndsampler.torch
        except ImportError as ex:
            assert 'pip install torch' in str(ex), str(ex)
            print('OK')
        else:
            raise AssertionError('ndsampler.torch imported without torch')
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('OK')
