"""
A sampler of generated data: each positive is a window with one object drawn
on noise (from kwcoco's category patterns), each negative is noise alone.
Nothing is stored; item ``i`` is the same every time for a given seed.

Example:
    >>> from ndsampler.toydata import DynamicToySampler
    >>> sampler = DynamicToySampler(n_positives=10, seed=0)
    >>> sample = sampler.load_item(0, window_dims=(64, 64))
    >>> sample['im'].shape, len(sample['annots']['aids'])
    ((64, 64, 3), 1)
    >>> len(sampler), sampler.load_item(10, window_dims=(32, 32))['annots']['aids'].tolist()
    (20, [])
"""
import kwarray
import kwimage
import numpy as np
from kwcoco.demo.toydata_image import demodata_toy_dset, demodata_toy_img  # NOQA: re-exported
from kwcoco.demo.toypatterns import CategoryPatterns

from ndsampler.abstract_sampler import AbstractSampler
from ndsampler.category_tree import CategoryTree

__all__ = ['DynamicToySampler', 'CategoryPatterns', 'demodata_toy_img', 'demodata_toy_dset']


class DynamicToySampler(AbstractSampler):
    """
    Args:
        n_positives (int): positives; there are as many negatives.
        seed (int | None): makes every item reproducible.
        gsize (Tuple[int, int]): window ``(w, h)`` when none is requested.
        categories (List[str] | None): kwcoco pattern names (default all).
    """

    def __init__(self, n_positives=1e5, seed=None, gsize=(416, 416), categories=None):
        self._n_positives = int(n_positives)
        self.seed = seed
        self.gsize = gsize
        self.patterns = CategoryPatterns.coerce(categories)
        cats = [{'id': 0, 'name': 'background'}] + list(self.patterns.categories)
        self.catgraph = CategoryTree.from_coco(cats)
        self.kp_classes = CategoryTree.from_coco(self.patterns.keypoint_categories)
        self._name_to_id = {cat['name']: cat['id'] for cat in cats}

    @property
    def n_positives(self):
        return self._n_positives

    @property
    def classes(self):
        return self.catgraph

    @property
    def class_ids(self):
        return list(self._name_to_id.values())

    @property
    def n_categories(self):
        return len(self._name_to_id)

    @property
    def BACKGROUND_CLASS_ID(self):
        return self._name_to_id['background']

    @property
    def n_samples(self):
        return 2 * self.n_positives

    def __len__(self):
        return self.n_samples

    def lookup_class_name(self, class_id):
        return {v: k for k, v in self._name_to_id.items()}[class_id]

    def lookup_class_id(self, class_name):
        return self._name_to_id[class_name]

    def preselect(self, **kwargs):
        """Nothing to select: items are generated. Returns ``(n_pos, n_neg)``."""
        return self.n_positives, self.n_positives

    def load_sample(self, target, with_annots=True, annot_ids=None, visible_thresh=0.0):
        raise NotImplementedError('DynamicToySampler generates items: use load_item')

    def _rng(self, index, rng):
        if rng is not None:
            return kwarray.ensure_rng(rng)
        seed = None if self.seed is None else (int(self.seed) * 1000003 + int(index)) % (2 ** 32)
        return kwarray.ensure_rng(seed)

    def _generate(self, index, positive, pad, window_dims, rng):
        rng = self._rng(index, rng)
        if window_dims is None:
            window_dims = (self.gsize[1], self.gsize[0])
        ph, pw = (0, 0) if pad is None else ((pad, pad) if np.isscalar(pad) else pad)
        h, w = window_dims[0] + 2 * ph, window_dims[1] + 2 * pw
        im = (rng.rand(h, w, 3) * 0.3).astype(np.float32)
        aids, cids, boxes, ssegs, kpts = [], [], [], [], []
        target = {'aid': -1, 'gid': index, 'rel_cx': w / 2.0, 'rel_cy': h / 2.0,
                  'category_id': self.BACKGROUND_CLASS_ID}
        if positive:
            bh = max(4, int(h * rng.uniform(0.3, 0.7)))
            bw = max(4, int(w * rng.uniform(0.3, 0.7)))
            y0, x0 = (h - bh) // 2, (w - bw) // 2
            self.patterns.rng = rng  # the patterns draw from their own generator
            info = self.patterns.random_category(im[y0:y0 + bh, x0:x0 + bw], xy_offset=(x0, y0),
                                                 dims=(bh, bw))
            im[y0:y0 + bh, x0:x0 + bw] = info['data']
            cid = self._name_to_id[str(info['name'])]
            aids.append(index)
            cids.append(cid)
            boxes.append([x0, y0, bw, bh])
            ssegs.append(kwimage.Segmentation.coerce(info['segmentation']).to_multi_polygon())
            kp_idx = self.kp_classes.node_to_idx
            kpts.append(kwimage.Points(
                xy=np.array([kp['xy'] for kp in info['keypoints']], dtype=np.float64).reshape(-1, 2),
                class_idxs=np.array([kp_idx[kp['keypoint_category']] for kp in info['keypoints']],
                                    dtype=np.int64),
                classes=self.kp_classes))
            target.update({'aid': index, 'category_id': cid})
            target.update({'cx': x0 + bw / 2.0, 'cy': y0 + bh / 2.0, 'width': bw, 'height': bh})
        else:
            target.update({'cx': w / 2.0, 'cy': h / 2.0, 'width': w, 'height': h})
        boxes = kwimage.Boxes(np.array(boxes, dtype=np.float64).reshape(-1, 4), 'xywh')
        rel_kpts = kwimage.PointsList(kpts)
        rel_kpts.meta['classes'] = self.kp_classes
        annots = {
            'aids': np.array(aids, dtype=np.int64), 'cids': np.array(cids, dtype=np.int64),
            'rel_cxywh': boxes.to_cxywh().data, 'rel_boxes': boxes,
            'rel_kpts': rel_kpts, 'rel_ssegs': kwimage.PolygonList(ssegs),
        }
        im = kwimage.ensure_uint255(np.clip(im, 0, 1))
        return {'im': im, 'target': target, 'annots': annots}

    def load_positive(self, index=None, pad=None, window_dims=None, rng=None):
        if index is None:
            index = kwarray.ensure_rng(rng).randint(self.n_positives)
        return self._generate(index, True, pad, window_dims, None)

    def load_negative(self, index=None, pad=None, window_dims=None, rng=None):
        if index is None:
            index = kwarray.ensure_rng(rng).randint(self.n_positives)
        return self._generate(self.n_positives + index, False, pad, window_dims, None)

    def load_item(self, index, pad=None, window_dims=None):
        if index < self.n_positives:
            return self.load_positive(index, pad=pad, window_dims=window_dims)
        return self.load_negative(index - self.n_positives, pad=pad, window_dims=window_dims)

    def load_image(self, image_id, cache=True):
        return self.load_item(image_id)['im']

    def load_image_with_annots(self, image_id, cache=True):
        sample = self.load_item(image_id)
        return {'id': image_id, 'imdata': sample['im']}, sample['annots']
