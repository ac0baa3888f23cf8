"""
What annotations can cost at least, next to what they cost: the workload of
``../shared/bench/bench_dense.py`` (one 6000 x 6000 image, 224 px windows,
N random boxes) in one process, each variant a loop over the same 2000
targets, the variants alternating round after round:

``without``
    ``load_sample(target, with_annots=False)``.
``with``
    ``load_sample(target)``: the 0.8.1 sample dict with its annotations.
``objects only``
    ``without``, then the annotations' objects that 0.8.1 puts in every
    sample dict (``frame_dets``: one ``kwimage.Detections`` of ``Boxes``,
    ``PolygonList`` and ``PointsList``; the flat ``aids, cids,
    rel_frame_index, rel_boxes, rel_ssegs, rel_kpts``) built from the
    window's boxes and ids computed before timing: no query, no mapping.
``aids only``
    ``without``, then only the index query and the window's annotation ids
    (what reading ``sample['annots']['aids']`` needs at least).

Prints CPU microseconds per sample (best of ``--repeat`` per round, median
over ``--rounds``) and each variant's rate as a fraction of ``without``
(the ``with/without`` of ``bench_dense.py``).  A variant's fraction is a
ceiling for any ``load_sample`` that does at least that work.  Offline;
writes only to a temporary directory::

    .venv/bin/python benchmarks/bench_annots_floor.py
    .venv/bin/python benchmarks/bench_annots_floor.py --boxes 1000 --rounds 9
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from ndsampler.window_annots import window_boxes


def dense_sampler(nboxes, root):
    """A ``CocoSampler`` over bench_dense.py's image and boxes, and its targets."""
    import kwcoco
    import ndsampler
    side = 6000
    rng = np.random.RandomState(0)
    path = os.path.join(root, 'dense.npy')
    np.save(path, np.random.RandomState(1).randint(0, 255, (side, side), dtype=np.uint8))
    xy = rng.rand(nboxes, 2) * (side - 40)
    wh = rng.rand(nboxes, 2) * 30 + 5
    anns = [{'id': i + 1, 'image_id': 1, 'category_id': 1 + (i % 3), 'bbox': [*map(float, p), *map(float, s)]}
            for i, (p, s) in enumerate(zip(xy, wh))]
    dset = kwcoco.CocoDataset({
        'images': [{'id': 1, 'file_name': path, 'width': side, 'height': side}],
        'annotations': anns,
        'categories': [{'id': c, 'name': n} for c, n in [(1, 'a'), (2, 'b'), (3, 'c')]]})
    sampler = ndsampler.CocoSampler(dset, workdir=os.path.join(root, 'work'), backend='npy')
    targets = [{'gid': 1, 'cx': float(x), 'cy': float(y), 'width': 224, 'height': 224}
               for x, y in rng.rand(2000, 2) * side]
    return sampler, targets


def variants(sampler):
    """``{name: per-target function}``, each taking ``(target, window)``."""
    from kwimage import Boxes, Detections, PointsList, PolygonList
    index, classes, kp_classes = sampler._annot_index, sampler.classes, sampler.kp_classes
    load = sampler.load_sample
    grid = index.for_image(1).grid
    image_aids = index.for_image(1).aids

    def without(target, window):
        return load(dict(target), with_annots=False)

    def with_annots(target, window):
        return load(dict(target))

    def objects_only(target, window):
        sample = load(dict(target), with_annots=False)
        xywh, aids, cids = window['boxes']
        n = len(aids)
        aids, cids = aids.copy(), cids.copy()
        boxes = Boxes(xywh.copy(), 'xywh', canonical=True)
        ssegs, kpts = PolygonList([None] * n), PointsList([None] * n, {'classes': kp_classes})
        dets = Detections(data={'boxes': boxes, 'segmentations': ssegs, 'keypoints': kpts,
                                'aids': aids, 'cids': cids},
                          meta={'classes': classes, 'gid': 1, 'rel_frame_index': 0})
        sample['annots'] = {'frame_dets': [dets], 'aids': aids, 'cids': cids,
                            'rel_frame_index': np.zeros(n, np.int64), 'rel_boxes': boxes,
                            'rel_ssegs': ssegs, 'rel_kpts': kpts}
        return sample

    def aids_only(target, window):
        sample = load(dict(target), with_annots=False)
        sample['annots'] = {'aids': image_aids.take(grid.rows(window['ltrb']))}
        return sample

    return {'without': without, 'with': with_annots, 'objects only': objects_only,
            'aids only': aids_only}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--boxes', type=int, nargs='+', default=[1000, 100000])
    ap.add_argument('--rounds', type=int, default=7)
    ap.add_argument('--repeat', type=int, default=5)
    args = ap.parse_args()
    for nboxes in args.boxes:
        with tempfile.TemporaryDirectory() as root:
            sampler, targets = dense_sampler(nboxes, root)
            windows = []
            for target in targets:
                sample = sampler.load_sample(dict(target))   # builds the cache and the index
                spec = sampler._resolve(sampler._check_target(dict(target)))[0]
                windows.append({'boxes': window_boxes(sampler._annot_index, spec),
                                'ltrb': spec.frame_map(0)[0]})
                assert windows[-1]['boxes'][1].tolist() == sample['annots']['aids'].tolist()
            runs = variants(sampler)
            times = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name, fn in runs.items():
                    best = float('inf')
                    for _ in range(args.repeat):
                        start = time.process_time()
                        for target, window in zip(targets, windows):
                            fn(target, window)
                        best = min(best, time.process_time() - start)
                    times[name].append(best / len(targets) * 1e6)
            base = statistics.median(times['without'])
            per_window = np.mean([len(w['boxes'][1]) for w in windows])
            print('{} boxes ({:.0f} per window), CPU us per sample, median of {} rounds:'.format(
                nboxes, per_window, args.rounds))
            for name, values in times.items():
                med = statistics.median(values)
                per_round = [w / v for w, v in zip(times['without'], values)]
                print('  {:<13} {:7.2f} us   rate / without {:.2f}   (per round {:.2f}-{:.2f})'.format(
                    name, med, base / med, min(per_round), max(per_round)))


if __name__ == '__main__':
    main()
