"""
Worker memory of a forked DataLoader over a large kwcoco dataset.

Builds a synthetic dataset (default 20,000 images and 400,000 annotations
with boxes and polygons; the images reuse a few small PNGs on disk), then
has a 2-worker DataLoader (``fork``) read 3,000 windows with annotations per
worker, and reads each worker's USS (``Private_Clean + Private_Dirty`` of
``/proc/<pid>/smaps_rollup``) once the samples are read, before the workers
exit.  The figure of merit is worker USS / the dataset's size in the parent
(the parent's USS growth from building the dataset and the sampler).

Two datasets are compared, each in a fresh process:

* ``ours``: ``ndsampler.torch.SamplerDataset`` with ``collate``;
* ``naive``: a ``torch.utils.data.Dataset`` whose ``__getitem__`` calls
  ``sampler.load_sample`` and turns the result into tensors.

Offline, Linux only (``smaps_rollup``), writes only to a temporary directory::

    .venv/bin/python benchmarks/bench_worker_memory.py            # both
    .venv/bin/python benchmarks/bench_worker_memory.py --images 2000 --samples 300
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def uss_mb(pid='self'):
    """Private_Clean + Private_Dirty of a process, in MB."""
    total = 0
    with open('/proc/{}/smaps_rollup'.format(pid)) as file:
        for line in file:
            if line.startswith(('Private_Clean:', 'Private_Dirty:')):
                total += int(line.split()[1])
    return total / 1024.0


def build_dataset(dpath, n_images, per_image, n_files=8, seed=0):
    """A kwcoco dataset of ``n_images`` images (``n_files`` PNGs of 512 x 512
    on disk, shared) with ``per_image`` boxes and 8-point polygons each."""
    import kwcoco
    import kwimage
    import numpy as np
    rng = np.random.RandomState(seed)
    for i in range(n_files):
        im = (rng.rand(512, 512, 3) * 255).astype(np.uint8)
        kwimage.imwrite(os.path.join(dpath, 'img_{}.png'.format(i)), im)
    cats = [{'id': i + 1, 'name': 'cat{}'.format(i + 1)} for i in range(10)]
    images, annots = [], []
    n = n_images * per_image
    wh = rng.uniform(8, 96, size=(n, 2))
    xy = rng.uniform(0, 512 - 96, size=(n, 2))
    cids = rng.randint(1, 11, size=n)
    angles = np.linspace(0, 2 * np.pi, 9)[:-1]
    aid = 0
    for gid in range(1, n_images + 1):
        images.append({'id': gid, 'file_name': 'img_{}.png'.format(gid % n_files),
                       'width': 512, 'height': 512})
        for _ in range(per_image):
            (x, y), (w, h) = xy[aid].tolist(), wh[aid].tolist()
            cx, cy = x + w / 2, y + h / 2
            poly = np.stack([cx + np.cos(angles) * w / 2, cy + np.sin(angles) * h / 2], axis=1)
            aid += 1
            annots.append({'id': aid, 'image_id': gid, 'category_id': int(cids[aid - 1]),
                           'bbox': [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                           'area': round(w * h, 2), 'iscrowd': 0,
                           'segmentation': [poly.round(2).ravel().tolist()]})
    data = {'categories': cats, 'images': images, 'annotations': annots}
    return kwcoco.CocoDataset(data, bundle_dpath=dpath)


def run(mode, args):
    """One measurement in this process; returns a dict of figures."""
    import gc
    import numpy as np
    import torch
    import torch.utils.data
    import ndsampler
    from ndsampler.torch import SamplerDataset, collate

    tmp = tempfile.mkdtemp(prefix='ndsampler_bench_mem_')
    gc.collect()
    before = uss_mb()
    t0 = time.perf_counter()
    dset = build_dataset(tmp, args.images, args.per_image)
    sampler = ndsampler.CocoSampler(dset, workdir=os.path.join(tmp, 'work'), backend='npy')
    gc.collect()
    dataset_mb = uss_mb() - before
    build_s = time.perf_counter() - t0

    with_annots = True if args.annots == 'True' else args.annots
    n_total = args.samples * args.workers
    rng = np.random.RandomState(1)
    aids = rng.choice(sorted(dset.anns), size=n_total, replace=True).tolist()
    if args.targets == 'aid':
        targets = [{'aid': aid, 'window_dims': (224, 224)} for aid in aids]
    else:   # the same windows, without the annotation id
        targets = []
        for aid in aids:
            x, y, w, h = dset.anns[aid]['bbox']
            targets.append({'gid': dset.anns[aid]['image_id'], 'cx': x + w / 2,
                            'cy': y + h / 2, 'window_dims': (224, 224)})

    t0 = time.perf_counter()
    if mode == 'ours':
        dataset = SamplerDataset(sampler, targets, with_annots=with_annots,
                                 dtype=None)  # uint8, as the naive dataset
        collate_fn = collate
    else:
        dataset = NaiveDataset(sampler, targets, with_annots)
        collate_fn = naive_collate
    wrap_s = time.perf_counter() - t0
    gc.collect()
    parent_mb = uss_mb() - before

    # every worker gets every other batch: args.samples samples each
    batch_size = 20
    assert args.samples % batch_size == 0
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, num_workers=args.workers, collate_fn=collate_fn,
        multiprocessing_context='fork', shuffle=False)
    n_batches = n_total // batch_size
    t0 = time.perf_counter()
    it = iter(loader)
    n_annots = 0
    for _ in range(n_batches):   # not one more: the workers stay alive
        batch = next(it)
        n_annots += sum(len(a) for a in batch['aids'])
    load_s = time.perf_counter() - t0
    pids = [w.pid for w in it._workers]
    workers_mb = [uss_mb(pid) for pid in pids]
    del it
    return {'mode': mode, 'images': len(dset.imgs), 'annots': len(dset.anns),
            'dataset_mb': dataset_mb, 'parent_mb': parent_mb, 'workers_mb': workers_mb,
            'samples_per_worker': args.samples, 'annots_read': n_annots,
            'build_s': build_s, 'wrap_s': wrap_s, 'load_s': load_s}


class NaiveDataset(object):
    """What a user writes without ndsampler.torch: load_sample, then tensors."""

    def __init__(self, sampler, targets, with_annots=True):
        self.sampler = sampler
        self.targets = targets
        self.with_annots = with_annots

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        import numpy as np
        import torch
        sample = self.sampler.load_sample(self.targets[index], with_annots=self.with_annots)
        annots = sample['annots']
        classes = self.sampler.classes
        return {
            'im': torch.from_numpy(np.ascontiguousarray(sample['im'].transpose(2, 0, 1))),
            'boxes': torch.from_numpy(annots['rel_boxes'].to_ltrb().data.astype(np.float32)),
            'class_idxs': torch.as_tensor([classes.id_to_idx[c] for c in annots['cids']],
                                          dtype=torch.int64),
            'aids': torch.as_tensor(annots['aids'], dtype=torch.int64),
            'segmentations': [s.to_multi_polygon() if s is not None else None
                              for s in annots['rel_ssegs'].data],
        }


def naive_collate(batch):
    import torch
    out = {key: [item[key] for item in batch] for key in batch[0]}
    out['im'] = torch.stack(out['im'])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', type=int, default=20000)
    parser.add_argument('--per-image', type=int, default=20)
    parser.add_argument('--samples', type=int, default=3000, help='per worker (multiple of 20)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--modes', default='ours,naive')
    parser.add_argument('--targets', default='aid', choices=['aid', 'box'],
                        help="'aid': {'aid', 'window_dims'}; 'box': the same windows by gid and centre")
    parser.add_argument('--annots', default='True',
                        help="with_annots: 'True' (boxes, polygons, keypoints) or e.g. 'boxes'")
    parser.add_argument('--run', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, args)))
        return
    rows = []
    for mode in args.modes.split(','):
        cmd = [sys.executable, __file__, '--run', mode, '--images', str(args.images),
               '--per-image', str(args.per_image), '--samples', str(args.samples),
               '--workers', str(args.workers), '--targets', args.targets,
               '--annots', args.annots]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print('{} images, {} annotations; {} workers (fork) x {} windows of 224 px, targets by {}, '
          'with_annots={}'.format(rows[0]['images'], rows[0]['annots'], args.workers,
                                    args.samples, args.targets, args.annots))
    header = '{:<6} {:>11} {:>10} {:>22} {:>16} {:>7} {:>7}'.format(
        'mode', 'dataset MB', 'parent MB', 'worker USS MB', 'worker/dataset', 'wrap s', 'load s')
    print(header)
    print('-' * len(header))
    for row in rows:
        workers = ' '.join('{:.1f}'.format(w) for w in row['workers_mb'])
        ratio = max(row['workers_mb']) / row['dataset_mb']
        print('{:<6} {:>11.1f} {:>10.1f} {:>22} {:>16.3f} {:>7.1f} {:>7.1f}'.format(
            row['mode'], row['dataset_mb'], row['parent_mb'], workers, ratio,
            row['wrap_s'], row['load_s']))


if __name__ == '__main__':
    main()
