"""
The abstract sampler API that :class:`ndsampler.CocoSampler` implements.

Example:
    >>> from ndsampler.abstract_sampler import AbstractSampler
    >>> AbstractSampler().load_sample({'gid': 1})
    Traceback (most recent call last):
    ...
    NotImplementedError
"""


class AbstractSampler:
    """
    Everything a sampler offers; each method raises ``NotImplementedError``.

    The examples of the methods use :class:`ndsampler.CocoSampler`, the
    implementation that ships with the package.

    Example:
        >>> import ndsampler
        >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
        >>> isinstance(sampler, AbstractSampler)
        True
        >>> sampler.load_sample({'gid': 1, 'cx': 50, 'cy': 50, 'width': 20, 'height': 10})['im'].shape
        (10, 20, 3)
        >>> sampler.n_samples, sampler.n_positives, sampler.lookup_class_name(3)
        (71, 71, 'star')
    """

    def load_sample(self, target, with_annots=True, annot_ids=None, visible_thresh=0.0):
        """
        The window a target dict describes: a dict with ``im``, ``target``,
        ``params`` and (with ``with_annots``) ``annots``.

        Example:
            >>> import ndsampler
            >>> sample = ndsampler.CocoSampler.demo('shapes8', backend=None).load_sample({'aid': 3})
            >>> sample['im'].shape, sample['annots']['aids'].tolist()
            ((109, 51, 3), [3])
        """
        raise NotImplementedError

    def load_item(self, index, with_annots=True, target=None, rng=None, **kw):
        """
        Sample ``index`` of ``range(n_samples)``: positives, then negatives.

        Example:
            >>> import ndsampler
            >>> sample = ndsampler.CocoSampler.demo('shapes8', backend=None).load_item(0)
            >>> sorted(sample)
            ['annots', 'classes', 'im', 'kp_classes', 'params', 'target', 'tr']
        """
        raise NotImplementedError

    def load_positive(self, index=None, with_annots=True, target=None, rng=None, **kw):
        """
        The window of positive ``index`` (an annotation), random when ``None``.

        Example:
            >>> import ndsampler
            >>> sample = ndsampler.CocoSampler.demo('shapes8', backend=None).load_positive(rng=0)
            >>> int(sample['target']['aid']) in sample['annots']['aids'].tolist()
            True
        """
        raise NotImplementedError

    def load_negative(self, index=None, with_annots=True, target=None, rng=None, **kw):
        """
        A background window (``aid == -1``): negative ``index``, or a fresh one.

        Example:
            >>> import ndsampler
            >>> sample = ndsampler.CocoSampler.demo('shapes8', backend=None).load_negative(rng=0)
            >>> sample['target']['aid'], sample['im'].ndim
            (-1, 3)
        """
        raise NotImplementedError

    def load_image(self, image_id, cache=True):
        """
        A whole image, ``(h, w, c)``.

        Example:
            >>> import ndsampler
            >>> ndsampler.CocoSampler.demo('shapes8', backend=None).load_image(1).shape
            (600, 600, 3)
        """
        raise NotImplementedError

    def load_image_with_annots(self, image_id, cache=True):
        """
        ``(image dict with 'imdata', annotation dicts)`` of one image.

        Example:
            >>> import ndsampler
            >>> img, anns = ndsampler.CocoSampler.demo('shapes8', backend=None).load_image_with_annots(1)
            >>> img['imdata'].shape, [ann['image_id'] for ann in anns]
            ((600, 600, 3), [1])
        """
        raise NotImplementedError

    def preselect(self, **kwargs):
        """
        Fix the pools of positives and negatives; returns ``(n_pos, n_neg)``.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sampler.preselect(n_pos=4, n_neg=1, window_dims=(32, 32), rng=0), len(sampler)
            ((4, 1), 5)
        """
        raise NotImplementedError

    @property
    def n_positives(self):
        """
        How many positives (annotation windows) there are.

        Example:
            >>> import ndsampler
            >>> ndsampler.CocoSampler.demo('shapes8', backend=None).n_positives
            71
        """
        raise NotImplementedError

    @property
    def n_samples(self):
        """
        How many samples :meth:`load_item` takes: positives plus preselected negatives.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sampler.preselect(n_neg=2, window_dims=(32, 32), rng=0)[1], sampler.n_samples
            (2, 73)
        """
        raise NotImplementedError

    @property
    def classes(self):
        """
        The object categories (a kwcoco ``CategoryTree``).

        Example:
            >>> import ndsampler
            >>> 'star' in ndsampler.CocoSampler.demo('shapes8', backend=None).classes
            True
        """
        raise NotImplementedError

    def lookup_class_name(self, class_id):
        """
        The name of a category id.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sampler.lookup_class_name(sampler.lookup_class_id('star'))
            'star'
        """
        raise NotImplementedError

    def lookup_class_id(self, class_name):
        """
        The id of a category name.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> [sampler.lookup_class_id(name) for name in ['star', 'superstar']]
            [3, 6]
        """
        raise NotImplementedError
