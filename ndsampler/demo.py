"""
``python -m ndsampler.demo`` (what ``make demo`` runs): build a toy kwcoco
dataset offline, convert it into the ``'cog'`` cache, sample windows with
their annotations, report the rate, and write a PNG mosaic of the windows
with their boxes drawn.  The PNG's path is the last line printed.
"""
import argparse
import os
import time

import numpy as np
import ubelt as ub


def build_toy_dataset(dpath, image_size=2048, num_images=4):
    """kwcoco's shapes demo data, rendered at ``image_size`` pixels a side."""
    from kwcoco.demo.toydata_image import demodata_toy_dset
    return demodata_toy_dset(image_size=(image_size, image_size), n_imgs=num_images,
                             bundle_dpath=os.fspath(dpath), verbose=0, rng=0)


def demo_targets(sampler, num, window, rng):
    """Half the windows centred on annotations, half anywhere (some off the edge)."""
    aids = list(sampler.dset.anns.keys())
    targets = []
    for index in range(num):
        if index % 2 == 0 and aids:
            aid = aids[rng.integers(len(aids))]
            targets.append({'aid': aid, 'window_dims': (window, window)})
        else:
            gid = sampler.image_ids[rng.integers(len(sampler.image_ids))]
            img = sampler.dset.imgs[gid]
            targets.append({'gid': gid, 'width': window, 'height': window,
                            'cx': int(rng.integers(-window // 4, img['width'] + window // 4)),
                            'cy': int(rng.integers(-window // 4, img['height'] + window // 4))})
    return targets


def draw_sample(sample):
    """The window with its annotation boxes (and polygons) drawn on it."""
    import kwimage
    canvas = np.ascontiguousarray(sample['im'][..., 0:3])
    dets = sample['annots']['frame_dets'][0]
    canvas = dets.draw_on(canvas, color='kitware_green', labels=False)
    return kwimage.ensure_uint255(canvas)[..., 0:3]


def main(argv=None):
    import kwimage
    import ndsampler
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default='_demo_out', help='output folder')
    parser.add_argument('--image-size', type=int, default=2048)
    parser.add_argument('--num-images', type=int, default=4)
    parser.add_argument('--num-samples', type=int, default=36)
    parser.add_argument('--window', type=int, default=256)
    parser.add_argument('--backend', default='cog')
    args = parser.parse_args(argv)

    out_dpath = ub.Path(args.out).absolute().ensuredir()
    print('1. building a toy dataset of {} images of {}x{} px'.format(
        args.num_images, args.image_size, args.image_size))
    dset = build_toy_dataset(out_dpath / 'toy_data', args.image_size, args.num_images)
    print('   {}'.format(dset))

    print('2. building the {!r} cache'.format(args.backend))
    sampler = ndsampler.CocoSampler(dset, workdir=out_dpath / 'workdir', backend=args.backend)
    start = time.perf_counter()
    sampler.frames.prepare(workers=2)
    print('   cache ready in {:.2f}s at {}'.format(time.perf_counter() - start,
                                                  sampler.frames.cache_dpath))

    print('3. sampling {} windows of {} px with their annotations'.format(
        args.num_samples, args.window))
    targets = demo_targets(sampler, args.num_samples, args.window, np.random.default_rng(0))
    start = time.perf_counter()
    samples = [sampler.load_sample(target) for target in targets]
    elapsed = time.perf_counter() - start
    n_annots = sum(len(s['annots']['aids']) for s in samples)
    print('4. {:.1f} samples per second ({} annotations in the windows)'.format(
        len(samples) / elapsed, n_annots))

    mosaic = kwimage.stack_images_grid([draw_sample(s) for s in samples], pad=4,
                                       bg_value=(255, 255, 255))
    fpath = out_dpath / 'demo_mosaic.png'
    kwimage.imwrite(fpath, mosaic)
    print('5. wrote a mosaic of the windows with their boxes')
    print(fpath)
    return fpath


if __name__ == '__main__':
    main()
