"""
ndsampler: fast random access to small regions of large images.

A drop-in reimplementation of Kitware's ``ndsampler`` API: wrap a
``kwcoco.CocoDataset`` in a :class:`CocoSampler` and load windows, with the
annotations inside them, from a cache of tiled GeoTIFFs (``'cog'``), memory
maps (``'npy'``) or the source images (``None``).

Example:
    >>> import ndsampler
    >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
    >>> sample = sampler.load_sample({'gid': 1, 'cx': 100, 'cy': 100, 'width': 64, 'height': 32})
    >>> sample['im'].shape
    (32, 64, 3)
"""
__version__ = '0.8.1'

from ndsampler import (abstract_frames, abstract_sampler, category_tree, coco_frames,
                       coco_regions, coco_sampler, errors, isect_indexer, toydata, windows)
from ndsampler.abstract_frames import Frames, SimpleFrames
from ndsampler.abstract_sampler import AbstractSampler
from ndsampler.category_tree import CategoryTree
from ndsampler.coco_frames import CocoFrames
from ndsampler.coco_regions import (CocoRegions, MissingNegativePool, Targets,
                                    select_positive_regions, tabular_coco_targets)
from ndsampler.coco_sampler import CocoSampler
from ndsampler.isect_indexer import FrameIntersectionIndex
from ndsampler.toydata import DynamicToySampler
from ndsampler.utils.util_misc import HashIdentifiable

__all__ = [
    'AbstractSampler', 'CategoryTree', 'CocoFrames', 'CocoRegions', 'CocoSampler',
    'DynamicToySampler', 'FrameIntersectionIndex', 'Frames', 'HashIdentifiable',
    'MissingNegativePool', 'SimpleFrames', 'Targets', 'abstract_frames', 'abstract_sampler',
    'category_tree', 'coco_frames', 'coco_regions', 'coco_sampler', 'errors', 'isect_indexer',
    'select_positive_regions', 'tabular_coco_targets', 'toydata', 'windows',
]
