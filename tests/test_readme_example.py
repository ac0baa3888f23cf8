"""The original README example runs unchanged, given local image files."""
import kwimage
import numpy as np


def test_original_readme_example_runs_unchanged(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    image_paths = []
    for name, size in [('astro.png', (512, 512)), ('carl.png', (448, 328)), ('airport.jpg', (868, 1227))]:
        fpath = str(tmp_path / name)
        kwimage.imwrite(fpath, rng.integers(0, 255, size=size + (3,), dtype=np.uint8))
        image_paths.append(fpath)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    # ---- the original example, verbatim from here on (it uses ``ub`` unimported) ----
    import ubelt as ub
    import ndsampler
    import kwcoco
    dataset = {
        'images': [{'id': i, 'file_name': fpath} for i, fpath in enumerate(image_paths)],
        'annotations': [],
        'categories': [],
    }
    coco_dset = kwcoco.CocoDataset(dataset)
    print(coco_dset)
    workdir = ub.Path.appdir('ndsampler/demo').ensuredir()
    sampler = ndsampler.CocoSampler(coco_dset, workdir=workdir)
    target = {'gid': 0, 'cx': 200, 'cy': 200, 'width': 100, 'height': 100}
    sample = sampler.load_sample(target)
    print(sorted(sample.keys()))
    im = sample['im']
    print(im.shape)
    # ---- end of the example ----
    assert im.shape == (100, 100, 3)
    assert {'annots', 'im', 'params', 'tr'} <= set(sample)
    np.testing.assert_array_equal(im, kwimage.imread(image_paths[0])[150:250, 150:250])
