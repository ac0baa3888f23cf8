"""
The shared decoded-tile file (``ndsampler._backends.tiles``): exact pixels,
one decode per tile across processes, and safety when a writer dies, the
budget is spent or the disk is full.
"""
import multiprocessing
import os

import numpy as np
import pytest

from ndsampler._backends.readers import ArrayReader
from ndsampler._backends.tiles import SharedTileReader
from conftest import backend_param

PIXELS = np.random.default_rng(0).integers(0, 60000, (70, 90, 3)).astype(np.uint16)


class CountingReader(ArrayReader):
    """An in-memory reader that counts the pixels it is asked to read."""

    def __init__(self, array):
        super().__init__(array)
        self.pixels = 0

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        self.pixels += (yb - ya) * (xb - xa)
        super().read_into(out, ya, yb, xa, xb, bands)


def shared(tmp_path, array=PIXELS, name='img_0123_abcd.tiles', **kw):
    kw.setdefault('tile', 16)
    kw.setdefault('max_bytes', 1 << 24)
    return SharedTileReader(CountingReader(array), tmp_path / name, **kw)


def test_shared_tiles_give_exact_windows_and_bands(tmp_path):
    reader = shared(tmp_path)
    rng = np.random.default_rng(1)
    for _ in range(50):
        ya, xa = int(rng.integers(0, 69)), int(rng.integers(0, 89))
        yb, xb = int(rng.integers(ya + 1, 71)), int(rng.integers(xa + 1, 91))
        assert np.array_equal(reader.read(ya, yb, xa, xb), PIXELS[ya:yb, xa:xb])
    assert np.array_equal(reader.read(0, 70, 0, 90, bands=[2, 0]), PIXELS[:, :, [2, 0]])
    # the edge tile (rows 64:70, cols 80:90) is stored padded and read exactly
    assert reader.read(64, 70, 80, 90).tolist() == PIXELS[64:70, 80:90].tolist()


def test_each_tile_is_decoded_once(tmp_path):
    reader = shared(tmp_path)
    reader.read(3, 40, 7, 77)
    assert reader.inner.pixels == 48 * 80  # the 3 x 5 tiles around the window, in one read
    reader.read(0, 70, 0, 90)
    assert reader.inner.pixels == 48 * 80 + 70 * 90  # the box of the 27 missing tiles
    reader.read(5, 65, 5, 85)
    assert reader.inner.pixels == 48 * 80 + 70 * 90  # every tile decoded: nothing read


def fill_in_child(fpath, queue):
    reader = SharedTileReader(CountingReader(PIXELS), fpath, tile=16, max_bytes=1 << 24)
    reader.read(0, 70, 0, 90)
    queue.put(reader.inner.pixels)


@pytest.mark.parametrize('method', ['fork', 'spawn'])
def test_tiles_decoded_in_one_process_serve_another(tmp_path, method):
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    proc = ctx.Process(target=fill_in_child, args=(tmp_path / 'img_0123_abcd.tiles', queue))
    proc.start()
    assert queue.get(timeout=60) == 70 * 90
    proc.join(60)
    blank = shared(tmp_path, array=np.zeros_like(PIXELS))
    assert np.array_equal(blank.read(0, 70, 0, 90), PIXELS)
    assert blank.inner.pixels == 0


def test_a_tile_left_half_written_is_decoded_again(tmp_path):
    reader = shared(tmp_path)
    reader.store.tiles[1, 2] = 7  # a writer died here before marking the tile ready
    assert np.array_equal(reader.read(16, 32, 32, 48), PIXELS[16:32, 32:48])
    assert reader.inner.pixels == 16 * 16


def test_past_the_budget_tiles_are_read_without_sharing(tmp_path):
    reader = shared(tmp_path, max_bytes=1)
    assert np.array_equal(reader.read(0, 70, 0, 90), PIXELS)
    assert int(reader.store.state.sum()) == 0
    assert os.stat(reader.store.fpath).st_blocks == 0


def test_a_full_disk_is_not_a_crash(tmp_path, monkeypatch):
    def no_space(fd, offset, length):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'posix_fallocate', no_space)
    reader = shared(tmp_path)
    assert np.array_equal(reader.read(5, 60, 5, 80), PIXELS[5:60, 5:80])
    assert int(reader.store.state.sum()) == 0


def test_a_new_cache_version_replaces_the_old_tile_file(tmp_path):
    old = shared(tmp_path, name='img_0123_aaaa.tiles')
    old.read(0, 16, 0, 16)
    shared(tmp_path, name='img_0123_bbbb.tiles')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['img_0123_bbbb.tiles']
    # a reader that still maps the old file keeps reading it
    assert np.array_equal(old.read(0, 16, 0, 16), PIXELS[:16, :16])


COMPRESSED = [backend_param(name) for name in ('cog', 'zarr', 'hdf5')]


def read_windows_in_child(sampler, targets, queue):
    queue.put([sampler.load_sample(t, with_annots=False)['im'].sum() for t in targets])


@pytest.mark.parametrize('backend', COMPRESSED)
def test_compressed_caches_share_decoded_tiles_between_processes(backend, tmp_path):
    import kwcoco
    import kwimage
    import ndsampler
    image = np.random.default_rng(4).integers(0, 255, (600, 700, 3)).astype(np.uint8)
    kwimage.imwrite(tmp_path / 'a.png', image)
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=str(tmp_path / 'a.png'), id=1, width=700, height=600)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    sampler.frames.prepare()
    targets = [{'gid': 1, 'cx': 100, 'cy': 100, 'width': 64, 'height': 64},
               {'gid': 1, 'cx': 650, 'cy': 550, 'width': 100, 'height': 100}]
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    proc = ctx.Process(target=read_windows_in_child, args=(sampler, targets, queue))
    proc.start()
    sums = queue.get(timeout=60)
    proc.join(60)
    assert sums == [int(image[68:132, 68:132].sum()), int(image[500:600, 600:700].sum())]
    # the child decoded tiles (0, 0), (1, 2) and (2, 2) of the 3 x 3 into the shared file
    reader = sampler.frames.open(1).reads[0][0]
    assert isinstance(reader, SharedTileReader)
    assert np.flatnonzero(reader.store.state).tolist() == [0, 1 * 3 + 2, 2 * 3 + 2]
    assert np.array_equal(reader.read(0, 256, 0, 256), image[:256, :256])


@pytest.mark.parametrize('backend', COMPRESSED)
def test_shared_tiles_can_be_turned_off(backend, tmp_path):
    import kwcoco
    import ndsampler
    dset = kwcoco.CocoDataset.demo('shapes2')
    config = {'type': backend.values[0] if hasattr(backend, 'values') else backend,
              'config': {'shared_tiles': False}}
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=config)
    im = sampler.load_sample({'gid': 1, 'cx': 50, 'cy': 50, 'width': 30, 'height': 20})['im']
    ref = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy').load_sample(
        {'gid': 1, 'cx': 50, 'cy': 50, 'width': 30, 'height': 20})['im']
    assert np.array_equal(im, ref)
    assert not (tmp_path / '_cache' / 'tiles').exists()
    assert not isinstance(sampler.frames.open(1).reads[0][0], SharedTileReader)
