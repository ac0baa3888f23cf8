"""
The figure of ``docs/targets.rst``: three targets on one image, and the
samples ``load_sample`` returns for them.

Every panel is real output: the left panel is the whole image with the three
windows drawn in image pixels (the annotation target's box, a window that
leaves the image, and a large window read at a ``scale``); the right panels are
the three samples with their annotations drawn in window pixels.
"""
import shutil
import sys
import tempfile

import kwimage
import numpy as np

GID = 1
COLORS = ['kitware_orange', 'kitware_blue', 'kitware_green']


def demo_targets(sampler):
    """``(label, target)``: the largest annotation of image ``GID`` with
    context, a window off the image's corner, a large window at a scale."""
    aids = sampler.dset.gid_to_aids[GID]
    aid = max(aids, key=lambda a: sampler.dset.anns[a]['bbox'][2] * sampler.dset.anns[a]['bbox'][3])
    return [
        ('aid={}, pad=16'.format(aid), {'aid': aid, 'pad': (16, 16)}),
        ('160 x 160 off the corner',
         {'gid': GID, 'cx': 20, 'cy': 30, 'width': 160, 'height': 160}),
        ('400 x 400, scale=0.4',
         {'gid': GID, 'cx': 380, 'cy': 360, 'width': 400, 'height': 400, 'scale': 0.4}),
    ]


def window_box(sampler, target):
    """The target's window in image pixels (padding included), as a Boxes."""
    resolved = sampler._infer_target_attributes(target)
    ys, xs = resolved['space_slice']
    return kwimage.Boxes([[xs.start, ys.start, xs.stop, ys.stop]], 'ltrb')


def labelled(canvas, text, color):
    canvas = kwimage.ensure_uint255(canvas)[..., 0:3]
    header = np.full((24, canvas.shape[1], 3), 255, np.uint8)
    header = kwimage.draw_text_on_image(header, text, org=(4, 4), valign='top',
                                        color=color, fontScale=0.45, thickness=1)
    return np.concatenate([header, canvas], axis=0)


def main(out_path):
    import ndsampler
    workdir = tempfile.mkdtemp(prefix='target-figure-')
    sampler = ndsampler.CocoSampler.demo('shapes8', workdir=workdir, backend='npy')
    targets = demo_targets(sampler)
    image = sampler.load_sample({'gid': GID})['im'][..., 0:3].copy()
    for (_, target), color in zip(targets, COLORS):
        image = window_box(sampler, target).draw_on(image, color=color, thickness=3)
    panels = []
    for (text, target), color in zip(targets, COLORS):
        sample = sampler.load_sample(target)
        canvas = np.ascontiguousarray(sample['im'][..., 0:3])
        canvas = sample['annots']['frame_dets'][0].draw_on(canvas, color='white', labels=False)
        canvas = kwimage.imresize(canvas, max_dim=200, interpolation='nearest')
        panels.append(labelled(canvas, text, color))
    right = kwimage.stack_images(panels, axis=0, pad=8, bg_value=(255, 255, 255))
    left = labelled(kwimage.imresize(image, dsize=(None, right.shape[0] - 24)),
                    'image {} and the three windows'.format(GID), 'black')
    canvas = kwimage.stack_images([left, right], axis=1, pad=12, bg_value=(255, 255, 255))
    kwimage.imwrite(out_path, kwimage.ensure_uint255(canvas))
    shutil.rmtree(workdir, ignore_errors=True)
    return out_path


if __name__ == '__main__':
    main(sys.argv[1])
