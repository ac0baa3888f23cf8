"""
Which annotation boxes does a region meet?  The original's
``FrameIntersectionIndex`` API over the shared
:class:`~ndsampler.annot_index.AnnotIndex` (one box store, one query), and
random background windows that avoid the boxes.

Example:
    >>> import kwimage
    >>> from ndsampler.isect_indexer import FrameIntersectionIndex
    >>> index = FrameIntersectionIndex.demo('shapes8')
    >>> gid = index.all_gids[0]
    >>> tree = index.qtrees[gid]
    >>> (tree.width, tree.height)
    (600, 600)
    >>> aid, ltrb = next(iter(tree.aid_to_ltrb.items()))
    >>> aid in index.overlapping_aids(gid, kwimage.Boxes(ltrb, 'ltrb'))
    True
"""
import warnings

import kwarray
import kwimage
import numpy as np
import ubelt as ub

from ndsampler.annot_index import AnnotIndex, as_ltrb, intersection_areas, visible_fraction
from ndsampler.errors import NegativeSamplingError


class ImageSizes:
    """
    The ``(h, w)`` of a dataset's images, looked up once each: from the
    image dict's ``height``/``width``, else from ``image_dims`` (a callable
    ``gid -> (h, w)`` or a mapping), else (with ``read_headers``) from the
    header of the image's main file; ``None`` when none of these knows it.

    Pickles without ``image_dims`` when that is a lambda or a local
    function (sizes already found are kept).

    Args:
        dset (kwcoco.CocoDataset): the dataset.
        image_dims (Callable | Mapping | ImageSizes | None): where sizes the
            image dicts lack come from.
        read_headers (bool): fall back to reading the main file's header.

    Example:
        >>> import kwcoco
        >>> from ndsampler.isect_indexer import ImageSizes
        >>> dset = kwcoco.CocoDataset.demo('shapes2')
        >>> dset.imgs[2].pop('width')
        600
        >>> sizes = ImageSizes(dset, image_dims=lambda gid: (600, 601))
        >>> sizes(1), sizes(2)
        ((600, 600), (600, 601))
    """

    def __init__(self, dset, image_dims=None, read_headers=True):
        self.dset = dset
        self.image_dims = image_dims
        self.read_headers = read_headers
        self._known = {}

    @classmethod
    def coerce(cls, dset, image_dims=None, read_headers=True):
        """
        ``image_dims`` itself when it already is an :class:`ImageSizes` of
        ``dset``, else a new one over it.

        Example:
            >>> import kwcoco
            >>> dset = kwcoco.CocoDataset.demo('shapes2')
            >>> sizes = ImageSizes.coerce(dset, {1: (5, 5)})
            >>> ImageSizes.coerce(dset, sizes) is sizes, sizes(1)
            (True, (600, 600))
        """
        if isinstance(image_dims, cls) and image_dims.dset is dset:
            return image_dims
        return cls(dset, image_dims, read_headers=read_headers)

    def __getstate__(self):
        state = dict(self.__dict__)
        source = state['image_dims']
        qualname = getattr(source, '__qualname__', '')
        if '<lambda>' in qualname or '<locals>' in qualname:
            state['image_dims'] = None
        return state

    def __call__(self, gid):
        """``(h, w)`` of image ``gid`` (ints), or ``None`` when unknown."""
        try:
            return self._known[gid]
        except KeyError:
            pass
        dims = self._lookup(gid)
        if dims is not None:
            dims = (int(dims[0]), int(dims[1]))
        self._known[gid] = dims
        return dims

    def _lookup(self, gid):
        img = self.dset.imgs[gid]
        height, width = img.get('height', None), img.get('width', None)
        if height is not None and width is not None:
            return height, width
        source = self.image_dims
        if source is not None:
            dims = source(gid) if callable(source) else source.get(gid, None)
            if dims is not None:
                return tuple(dims)[0:2]
        if self.read_headers and img.get('file_name', None):
            try:
                return kwimage.load_image_shape(self.dset.get_image_fpath(gid))[0:2]
            except Exception:
                return None
        return None


class ImageBoxIndex:
    """
    The boxes of one image, as the original's per-image tree: ``width``,
    ``height`` (None when unknown) and ``aid_to_ltrb``.

    Example:
        >>> import kwcoco
        >>> tree = ImageBoxIndex(AnnotIndex(kwcoco.CocoDataset.demo('shapes8')), 6, 600, 600)
        >>> tree.width, tree.height, sorted(tree.aid_to_ltrb)
        (600, 600, [50])
    """

    def __init__(self, annot_index, gid, width=None, height=None):
        self.annot_index = annot_index
        self.gid = gid
        self.width = width
        self.height = height

    @property
    def aid_to_ltrb(self):
        """
        ``{aid: ltrb box}`` of the image's annotations with a bbox.

        Example:
            >>> tree = FrameIntersectionIndex.demo('shapes8').qtrees[2]
            >>> tree.aid_to_ltrb[3].tolist()  # bbox [297, 307, 51, 109]
            [297.0, 307.0, 348.0, 416.0]
        """
        img = self.annot_index.for_image(self.gid)
        return dict(zip(img.aids.tolist(), img.ltrb))


class FrameIntersectionIndex(ub.NiceRepr):
    """
    Box look-ups per image of a dataset.

    Attributes:
        qtrees (Dict[int, ImageBoxIndex]): one per image id.
        all_gids (List[int]): image ids, sorted.
        annot_index (AnnotIndex): the shared index answering the queries.

    Example:
        >>> import kwcoco
        >>> index = FrameIntersectionIndex.from_coco(kwcoco.CocoDataset.demo('shapes2'))
        >>> index.all_gids, index.qtrees[1].width
        ([1, 2], 600)
    """

    def __init__(self, annot_index=None):
        self.annot_index = annot_index
        self.qtrees = {}
        self.all_gids = []

    def __nice__(self):
        return 'n_images={}'.format(len(self.all_gids))

    @classmethod
    def from_coco(cls, dset, verbose=0, annot_index=None, image_dims=None):
        """
        Index every annotation with a bbox of a kwcoco dataset.

        Args:
            annot_index (AnnotIndex | None): an existing index of ``dset``
                to share (one is made otherwise).
            image_dims (Callable[[int], Tuple[int, int]] | Mapping | None):
                ``(h, w)`` of an image whose dict lacks ``width``/``height``
                (or an :class:`ImageSizes`).  Images of unknown size get no
                negatives.

        Example:
            >>> import kwcoco
            >>> from ndsampler.isect_indexer import FrameIntersectionIndex
            >>> dset = kwcoco.CocoDataset.demo('shapes2')
            >>> del dset.imgs[1]['width'], dset.imgs[1]['height']
            >>> index = FrameIntersectionIndex.from_coco(dset, image_dims={1: (30, 40)})
            >>> (index.qtrees[1].height, index.qtrees[1].width)
            (30, 40)
        """
        if annot_index is None:
            annot_index = AnnotIndex(dset)
        sizes = ImageSizes.coerce(dset, image_dims, read_headers=False)
        self = cls(annot_index)
        for gid in dset.imgs.keys():
            dims = sizes(gid)
            height, width = (None, None) if dims is None else dims
            self.qtrees[gid] = ImageBoxIndex(annot_index, gid, width, height)
        self.all_gids = sorted(self.qtrees)
        return self

    @classmethod
    def demo(cls, *args, **kwargs):
        """
        An index over a kwcoco demo dataset (``'shapes8'`` by default).

        Example:
            >>> FrameIntersectionIndex.demo().all_gids
            [1, 2, 3, 4, 5, 6, 7, 8]
        """
        import kwcoco
        return cls.from_coco(kwcoco.CocoDataset.demo(*(args or ('shapes8',)), **kwargs))

    def _meeting(self, gid, box):
        """``(ImageAnnots, rows meeting the region, region as ltrb)``."""
        ltrb = as_ltrb(box)
        index = self.annot_index
        return index.for_image(gid), index.overlapping_rows(gid, ltrb), ltrb

    def overlapping_aids(self, gid, box):
        """
        Sorted ids of the annotations whose boxes meet ``box`` (ltrb).

        Example:
            >>> index = FrameIntersectionIndex.demo('shapes8')
            >>> index.overlapping_aids(2, [290, 300, 350, 420]), index.overlapping_aids(2, [0, 0, 5, 5])
            ([3], [])
        """
        img, rows, _ = self._meeting(gid, box)
        return img.aids[rows].tolist()

    def ious(self, gid, box):
        """
        ``(aids, ious)`` of the overlapping annotations with ``box``.

        Example:
            >>> index = FrameIntersectionIndex.demo('shapes8')
            >>> aids, ious = index.ious(2, [297, 307, 322.5, 416])  # the left half of aid 3
            >>> aids, ious.tolist()
            ([3], [0.5])
        """
        img, rows, (wl, wt, wr, wb) = self._meeting(gid, box)
        b = img.ltrb[rows]
        areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        isect = intersection_areas(b, (wl, wt, wr, wb))
        union = areas + (wr - wl) * (wb - wt) - isect
        with np.errstate(divide='ignore', invalid='ignore'):
            ious = np.where(union > 0, isect / union, 0.0)
        return img.aids[rows].tolist(), ious

    def iooas(self, gid, box):
        """
        ``(aids, isect / area of each annotation)`` for ``box``.

        Example:
            >>> index = FrameIntersectionIndex.demo('shapes8')
            >>> aids, iooas = index.iooas(2, [297, 307, 348, 361.5])  # the top half of aid 3
            >>> aids, iooas.tolist()
            ([3], [0.5])
        """
        img, rows, ltrb = self._meeting(gid, box)
        return img.aids[rows].tolist(), visible_fraction(img.ltrb[rows], ltrb)

    def random_negatives(self, num, anchors=None, window_size=None, gids=None,
                         thresh=0.0, exact=True, rng=None, patience=None):
        """
        Random windows whose overlap with every annotation is at most
        ``thresh`` of that annotation's area (``thresh=0``: they do not meet).

        Args:
            num (int): how many windows.
            anchors (ndarray | None): ``(K, 2)`` window sizes relative to the
                image, ``(w, h)``; one is drawn per window.
            window_size (Tuple[int, int] | None): absolute ``(w, h)``.
                Exactly one of ``anchors`` and ``window_size`` is required.
            gids (List[int] | None): images to draw from (default all; images
                of unknown size are skipped).
            exact (bool | str): when fewer than ``num`` are found, raise
                :class:`~ndsampler.errors.NegativeSamplingError` (True), warn
                (``'warn'``) or return what was found (False).
            patience (int | None): draws per window before giving up
                (default 100).

        Returns:
            Tuple[ndarray, kwimage.Boxes]: image ids and ltrb boxes.

        Example:
            >>> from ndsampler.isect_indexer import FrameIntersectionIndex
            >>> index = FrameIntersectionIndex.demo('shapes8')
            >>> gids, boxes = index.random_negatives(5, window_size=(32, 32), rng=0)
            >>> all(index.overlapping_aids(g, b) == [] for g, b in zip(gids, boxes.data))
            True
        """
        if (anchors is None) == (window_size is None):
            raise ValueError('give exactly one of anchors and window_size')
        rng = kwarray.ensure_rng(rng)
        gids = [gid for gid in (self.all_gids if gids is None else gids)
                if self.qtrees[gid].width is not None and self.qtrees[gid].height is not None]
        patience = 100 if patience is None else patience
        found_gids, found_boxes = [], []
        tries = 0
        max_tries = max(num, 1) * patience if gids else 0
        while len(found_gids) < num and tries < max_tries:
            tries += 1
            gid = gids[rng.randint(len(gids))]
            tree = self.qtrees[gid]
            if anchors is not None:
                rel_w, rel_h = anchors[rng.randint(len(anchors))]
                w, h = rel_w * tree.width, rel_h * tree.height
            else:
                w, h = window_size
            if w > tree.width or h > tree.height:
                continue
            x0 = rng.rand() * (tree.width - w)
            y0 = rng.rand() * (tree.height - h)
            ltrb = (x0, y0, x0 + w, y0 + h)
            # thresh <= 0: no box may meet the window; else none may show more than thresh
            if self.annot_index.overlapping_rows(gid, ltrb, visible_thresh=thresh).size:
                continue
            found_gids.append(gid)
            found_boxes.append(ltrb)
        if len(found_gids) < num:
            msg = 'found only {} of {} negative windows in {} draws'.format(
                len(found_gids), num, tries)
            if exact == 'warn':
                warnings.warn(msg)
            elif exact:
                raise NegativeSamplingError(msg)
        boxes = np.array(found_boxes, dtype=np.float64).reshape(-1, 4)
        return np.array(found_gids, dtype=np.int64), kwimage.Boxes(boxes, 'ltrb')
