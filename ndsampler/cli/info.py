"""
Summarise DATA and the caches in the work directory.

Prints the numbers of images, videos, annotations and categories, the images'
channels, and for each backend with caches under <workdir>/_cache/frames how
many there are and their size on disk.
"""
import os
from os.path import join

import ubelt as ub

from ndsampler._cachefile import path_bytes
from ndsampler.cli import common


def add_parser(subparsers):
    parser = common.add_command(subparsers, 'info', __doc__, run)
    common.add_data_argument(parser)
    common.add_workdir_argument(parser)


def dataset_rows(dset):
    """
    ``[name, value]`` rows: counts, then each channel code with its number of images.

    Example:
        >>> import kwcoco
        >>> for row in dataset_rows(kwcoco.CocoDataset.demo('shapes2')):
        ...     print(row)
        ['images', 2]
        ['videos', 0]
        ['annotations', 28]
        ['categories', 4]
        ['channels', 'rgb (2 images)']
    """
    rows = [['images', dset.n_images], ['videos', dset.n_videos],
            ['annotations', dset.n_annots], ['categories', dset.n_cats]]
    codes = ub.dict_hist(str(getattr(dset.coco_image(gid).channels, 'spec', None))
                         for gid in dset.imgs)
    rows += [['channels', '{} ({} images)'.format(code, count)] for code, count in codes.items()]
    return rows


def count_caches(dpath, ext):
    """
    ``(count, bytes)`` of the caches under ``dpath``: files, or directories
    (stores such as zarr), whose names end in ``ext``.

    Example:
        >>> import tempfile
        >>> dpath = ub.Path(tempfile.mkdtemp())
        >>> _ = (dpath / 'a.npy').write_bytes(b'123')
        >>> _ = (dpath / 'a.npy.ok').write_bytes(b'stamp')
        >>> _ = (dpath / 'b.zarr').ensuredir()
        >>> _ = (dpath / 'b.zarr' / 'zarr.json').write_bytes(b'12')
        >>> count_caches(dpath, '.npy'), count_caches(dpath, '.zarr')
        ((1, 3), (1, 2))
    """
    count, num_bytes = 0, 0
    for root, dnames, fnames in os.walk(dpath):
        for dname in [dname for dname in dnames if dname.endswith(ext)]:
            dnames.remove(dname)  # a store: count it whole, do not descend
            count, num_bytes = count + 1, num_bytes + path_bytes(join(root, dname))
        for fname in fnames:
            if fname.endswith(ext):
                count, num_bytes = count + 1, num_bytes + os.path.getsize(join(root, fname))
    return count, num_bytes


def cache_rows(workdir):
    """
    ``[backend, caches, size]`` rows, one per backend with caches in ``workdir``.

    Example:
        >>> import tempfile
        >>> cache_rows(tempfile.mkdtemp())
        []
    """
    from ndsampler._backends import BACKENDS
    frames_dpath = join(workdir, '_cache', 'frames')
    rows = []
    for type_, backend_class in BACKENDS.items():
        ext = getattr(backend_class, 'ext', None)
        if ext is None:  # a backend without caches
            continue
        count, num_bytes = count_caches(join(frames_dpath, str(type_)), ext)
        if count:
            rows.append([type_, count, '{:.1f} MB'.format(num_bytes / 1e6)])
    return rows


def run(args):
    """
    Example:
        >>> import tempfile
        >>> from ndsampler.cli import main
        >>> exit_code = main(['info', 'shapes2', '--workdir', tempfile.mkdtemp()])
        dataset      shapes2
        images       2
        ...
        no caches in ...
        >>> exit_code
        0
    """
    dset = common.load_dataset(args.data)
    print(common.format_table(['dataset', args.data], dataset_rows(dset)))
    print()
    rows = cache_rows(args.workdir)
    if rows:
        print(common.format_table(['backend', 'caches', 'size'], rows))
    else:
        print('no caches in {}'.format(args.workdir))
    return common.EXIT_OK
