"""
The figure of ``docs/stitching.rst``: a heatmap stitched from overlapping windows.

A fake segmentation model (a blurred mask of the annotations inside each
window, output at a stride of 4) runs on the overlapping windows of a kwcoco
``shapes`` demo image from ``sampler.new_sample_grid``; ``Stitcher`` with the
``'hann'`` weighting puts the windows back together and the stitched heatmap
is drawn over the image, beside the image with the window grid.

Made by ``docs/make_figures.py`` (``make docs``) into ``docs/_generated/``.
"""
import os
import shutil
import sys
import tempfile

import cv2
import kwimage
import numpy as np


def fake_model(sample, stride=4):
    """A blurred mask of the annotations in the window, at 1/stride resolution."""
    h, w = sample['im'].shape[:2]
    mask = np.zeros((h, w), dtype=np.float32)
    dets = sample['annots']['frame_dets']
    dets = dets[0] if isinstance(dets, list) else dets
    segs = dets.data.get('segmentations', None)
    if segs is not None:
        for seg in segs:
            if seg is not None:
                mask = seg.to_multi_polygon().fill(mask, value=1)
    heat = cv2.GaussianBlur(mask, (0, 0), 6)   # windows blur only what they see
    return cv2.resize(heat, (w // stride, h // stride), interpolation=cv2.INTER_AREA)


def main(out_path):
    import ndsampler
    from ndsampler.stitch import Stitcher

    workdir = tempfile.mkdtemp(prefix='stitch-figure-')
    sampler = ndsampler.CocoSampler.demo('shapes8', workdir=workdir, backend=None)
    gid = 2
    img = sampler.dset.imgs[gid]
    H, W = img['height'], img['width']
    grid = sampler.new_sample_grid('image_detection', window_dims=(256, 256), window_overlap=0.3)
    targets = [t for t in grid['targets'] if t['gid'] == gid]

    stitcher = Stitcher((H, W), weighting='hann', fill=0)
    for target in targets:
        sample = sampler.load_sample(target, with_annots=['boxes', 'segmentation'])
        stitcher.add(target, fake_model(sample))   # 64 x 64 resized to 256 x 256
    heat = stitcher.finalize()

    image = sampler.load_sample({'gid': gid})['im'][..., 0:3]
    image = kwimage.ensure_float01(image)
    left = image.copy()
    palette = [(1.0, 0.3, 0.3), (0.3, 1.0, 0.3), (0.3, 0.6, 1.0), (1.0, 0.9, 0.2),
               (1.0, 0.4, 1.0), (0.2, 1.0, 1.0)]
    colors = [palette[i % len(palette)] for i in range(len(targets))]
    for target, color in zip(targets, colors):
        ys, xs = target['slices']
        box = kwimage.Boxes(np.array([[xs.start + 2, ys.start + 2, xs.stop - 3, ys.stop - 3]]), 'ltrb')
        left = box.draw_on(left, color=color, thickness=2)
    heat01 = np.clip(heat, 0, 1)
    rgb = cv2.applyColorMap((heat01 * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    heatmask = np.dstack([rgb.astype(np.float32) / 255, heat01 * 0.85])
    right = kwimage.overlay_alpha_images(heatmask, image)[..., 0:3]
    left = kwimage.draw_text_on_image(kwimage.ensure_uint255(left), '{} windows (overlap 0.3)'.format(
        len(targets)), org=(8, 8), valign='top', color='white', fontScale=0.7, thickness=2)
    right = kwimage.draw_text_on_image(kwimage.ensure_uint255(right), 'stitched heatmap (hann)',
                                       org=(8, 8), valign='top', color='white', fontScale=0.7,
                                       thickness=2)
    canvas = kwimage.stack_images([left, right], axis=1, pad=8, bg_value=(255, 255, 255))
    canvas = kwimage.imresize(canvas, dsize=(640, None))
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    kwimage.imwrite(out_path, kwimage.ensure_uint255(canvas))
    shutil.rmtree(workdir, ignore_errors=True)
    print(out_path, canvas.shape)
    return out_path


if __name__ == '__main__':
    main(*sys.argv[1:2])
