"""
Predictions back onto whole images: heatmaps and detections.

After training, a model runs over every window of an image (the targets of
``sampler.new_sample_grid``) and each window gives a prediction in window
pixels.  This module puts them back together in image pixels:

* :class:`Stitcher` accumulates dense predictions (heatmaps, segmentation
  scores, features) into a weighted mean over one image, in RAM or in two
  files on disk (``backing``), and writes the result to a tiled,
  compressed Cloud Optimized GeoTIFF with overviews without ever holding the
  whole image (:meth:`Stitcher.write`).
* :class:`VideoStitcher` does the same per frame for space-time targets.
* :func:`stitch_detections` moves window detections into image pixels, drops
  boxes cut by an inner window edge when another window sees them whole and
  merges duplicates by non-maximum suppression; :func:`add_predictions` adds
  the result to a :class:`kwcoco.CocoDataset`.

See ``docs/stitching.rst``.

Example:
    >>> import numpy as np
    >>> from ndsampler.stitch import Stitcher
    >>> image = np.random.RandomState(0).rand(50, 70).astype(np.float32)
    >>> stitcher = Stitcher(image.shape, weighting='hann')
    >>> for y0 in range(-8, 50, 24):
    ...     for x0 in range(-8, 70, 24):
    ...         sl = (slice(y0, y0 + 32), slice(x0, x0 + 32))
    ...         window = np.zeros((32, 32), np.float32)  # a model that returns its input
    ...         ya, xa = max(y0, 0), max(x0, 0)
    ...         part = image[ya:y0 + 32, xa:x0 + 32]
    ...         window[ya - y0:ya - y0 + part.shape[0], xa - x0:xa - x0 + part.shape[1]] = part
    ...         stitcher.add(sl, window)
    >>> float(np.abs(stitcher.finalize() - image).max()) < 1e-5
    True
"""
from ndsampler.errors import StitchError, StitchShapeError
from ndsampler.stitch.detections import add_predictions, stitch_detections
from ndsampler.stitch.heatmap import Stitcher
from ndsampler.stitch.video import VideoStitcher
from ndsampler.stitch.windowing import WEIGHTINGS, window_weights

__all__ = ['Stitcher', 'VideoStitcher', 'StitchError', 'StitchShapeError',
           'window_weights', 'stitch_detections', 'add_predictions', 'WEIGHTINGS']
