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
    """Everything a sampler offers; each method raises ``NotImplementedError``."""

    def load_sample(self, target, with_annots=True, annot_ids=None, visible_thresh=0.0):
        raise NotImplementedError

    def load_item(self, index, with_annots=True, target=None, rng=None, **kw):
        raise NotImplementedError

    def load_positive(self, index=None, with_annots=True, target=None, rng=None, **kw):
        raise NotImplementedError

    def load_negative(self, index=None, with_annots=True, target=None, rng=None, **kw):
        raise NotImplementedError

    def load_image(self, image_id, cache=True):
        raise NotImplementedError

    def load_image_with_annots(self, image_id, cache=True):
        raise NotImplementedError

    def preselect(self, **kwargs):
        raise NotImplementedError

    @property
    def n_positives(self):
        raise NotImplementedError

    @property
    def n_samples(self):
        raise NotImplementedError

    @property
    def classes(self):
        raise NotImplementedError

    def lookup_class_name(self, class_id):
        raise NotImplementedError

    def lookup_class_id(self, class_name):
        raise NotImplementedError
