"""
Decoded tiles shared by every process of a machine.

Reading a window of a compressed, tiled cache (``'cog'``) costs mostly the
decoding of its tiles, and each process keeps its own decoded copy in GDAL's
block cache: N DataLoader workers sampling the same images decode the same
tiles N times.  :class:`SharedTileReader` wraps a reader and keeps its
decoded full-resolution tiles in one sparse file per cache file, in the
workdir, memory-mapped by every process that reads it: the operating
system's page cache is the shared memory, so a tile is decoded once per
machine and a hot window costs a few memory copies, as with ``'npy'``.

The file holds one state byte per tile (0 empty, 1 ready), padded to a page,
then the tiles, each a contiguous ``tile x tile x bands`` block (edge tiles
padded).  It is safe without locks:

* a tile's disk space is reserved (``posix_fallocate``) before it is written,
  so a full disk is an error caught here (the tile is then read without
  sharing), never a ``SIGBUS``;
* a tile is marked ready only after its pixels are written, and readers
  trust only ready tiles; two processes decoding one tile at once write the
  same bytes; a process killed mid-write leaves the tile empty, and the next
  reader decodes it again;
* the file's name carries the cache file's content key, so a rebuilt cache
  gets a fresh tile file (the old one is deleted when the new one is made);
* all tile files of a workdir together stay under ``max_bytes`` (checked
  from their allocated size now and then): past it, tiles are decoded by
  each process as they would be without sharing, and nothing more is written.

Example:
    >>> import numpy as np, tempfile, os
    >>> from ndsampler._backends.readers import ArrayReader
    >>> pixels = np.arange(40 * 50 * 2, dtype=np.uint16).reshape(40, 50, 2)
    >>> fpath = os.path.join(tempfile.mkdtemp(), 'image.tiles')
    >>> reader = SharedTileReader(ArrayReader(pixels), fpath, tile=16, max_bytes=1 << 20)
    >>> np.array_equal(reader.read(5, 37, 3, 49), pixels[5:37, 3:49])
    True
    >>> int(reader.store.state.sum())       # the 3 x 4 tiles that window touched
    12
    >>> again = SharedTileReader(ArrayReader(pixels * 0), fpath, tile=16, max_bytes=1 << 20)
    >>> np.array_equal(again.read(5, 37, 3, 49), pixels[5:37, 3:49])  # shared, not re-read
    True
"""
import contextlib
import glob
import mmap
import os
import threading

import numpy as np

from ndsampler._backends.base import Reader

PAGE = mmap.PAGESIZE
#: A lock used only as a memory fence around the ready flags, so that a tile's
#: pixels are visible before (writer) and read after (reader) its flag on
#: every architecture, not only on x86.
_FENCE = threading.Lock()
#: Fills between two measurements of the tile files' total allocated size.
CHECK_EVERY = 64
SUFFIX = '.tiles'
#: Bytes all tile files of one cache directory may take when
#: ``config['shared_tiles']`` is ``True`` (``NDSAMPLER_SHARED_TILES_BYTES``).
DEFAULT_MAX_BYTES = int(os.environ.get('NDSAMPLER_SHARED_TILES_BYTES', 4 << 30))


def budget_of(setting):
    """
    The tile files' byte budget a backend's ``config['shared_tiles']`` asks
    for: ``True`` the default, ``False`` or ``0`` none (no sharing), an int
    that many bytes.

    Example:
        >>> budget_of(True) == DEFAULT_MAX_BYTES, budget_of(False), budget_of(1 << 20)
        (True, 0, 1048576)
        >>> budget_of(-1)
        Traceback (most recent call last):
        ...
        ndsampler.errors.BackendConfigError: shared_tiles must be True, False or a number of bytes >= 0, got -1
    """
    if setting is True:
        return DEFAULT_MAX_BYTES
    if setting is False or setting is None:
        return 0
    if isinstance(setting, int) and setting >= 0:
        return setting
    from ndsampler.errors import BackendConfigError
    raise BackendConfigError('shared_tiles must be True, False or a number of bytes >= 0, '
                             'got {!r}'.format(setting))


class TileStore:
    """The memory-mapped tile file of one raster (see the module docstring)."""

    def __init__(self, fpath, height, width, nbands, dtype, tile, max_bytes):
        self.fpath = os.fspath(fpath)
        self.tile = tile
        self.rows, self.cols = -(-height // tile), -(-width // tile)
        self.dtype = np.dtype(dtype)
        self.tile_bytes = tile * tile * nbands * self.dtype.itemsize
        count = self.rows * self.cols
        self.offset = -(-count // PAGE) * PAGE
        size = self.offset + count * self.tile_bytes
        self.max_bytes = max_bytes
        self._fills = 0
        self.full = False
        os.makedirs(os.path.dirname(self.fpath), exist_ok=True)
        created = not os.path.exists(self.fpath)
        fd = os.open(self.fpath, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)  # sparse; the same size in every process
            self.map = mmap.mmap(fd, size, mmap.MAP_SHARED)  # holds its own descriptor
            self.inode = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        self.state = np.frombuffer(self.map, np.uint8, count)
        self.tiles = np.frombuffer(self.map, self.dtype, count * tile * tile * nbands,
                                   self.offset).reshape(self.rows, self.cols, tile, tile, nbands)
        if created:
            self._remove_older_siblings()
        self._check_budget()

    def _remove_older_siblings(self):
        """Delete tile files of older versions of the same cache file (same
        name up to the content key); readers that still map one keep it."""
        stem, _, _ = os.path.basename(self.fpath).rpartition('_')
        pattern = os.path.join(glob.escape(os.path.dirname(self.fpath)),
                               glob.escape(stem) + '_*' + SUFFIX)
        for other in glob.glob(pattern):
            if other != self.fpath:
                with contextlib.suppress(OSError):
                    os.unlink(other)

    def _check_budget(self):
        used = 0
        for fpath in glob.glob(os.path.join(glob.escape(os.path.dirname(self.fpath)), '*' + SUFFIX)):
            with contextlib.suppress(OSError):
                used += os.stat(fpath).st_blocks * 512
        self.full = used + CHECK_EVERY * self.tile_bytes > self.max_bytes

    def is_ready(self, row, col):
        if self.state[row * self.cols + col]:
            with _FENCE:
                return True
        return False

    def fill(self, row, col, pixels):
        """Write the decoded ``pixels`` of tile ``(row, col)`` (smaller than a
        tile at the image's edges) into the file and mark it ready; False
        (nothing written) when the budget or the disk is full."""
        if self.full:
            return False
        self._fills += 1
        if self._fills % CHECK_EVERY == 0:
            self._check_budget()
        try:
            fd = os.open(self.fpath, os.O_RDWR)
            try:
                if os.fstat(fd).st_ino != self.inode:
                    raise FileNotFoundError(self.fpath)  # replaced by a newer cache's tiles
                os.posix_fallocate(fd, self.offset + (row * self.cols + col) * self.tile_bytes,
                                   self.tile_bytes)
            finally:
                os.close(fd)
        except OSError:  # a full disk, or the file was replaced: read without sharing
            self.full = True
            return False
        self.tiles[row, col, :pixels.shape[0], :pixels.shape[1]] = pixels
        with _FENCE:
            pass
        self.state[row * self.cols + col] = 1
        return True

    def close(self):
        self.state = self.tiles = None
        with contextlib.suppress(BufferError):
            self.map.close()


class SharedTileReader(Reader):
    """
    A :class:`~ndsampler._backends.base.Reader` whose full-resolution reads
    go through a :class:`TileStore` shared by processes; ``inner`` decodes
    the tiles (and serves resized reads, which use its overviews).
    """

    def __init__(self, inner, fpath, tile=256, max_bytes=4 << 30):
        self.inner = inner
        self.fpath = inner.fpath
        self.height, self.width, self.nbands, self.dtype = inner.describe()
        self.store = TileStore(fpath, self.height, self.width, self.nbands, self.dtype,
                               tile, max_bytes)

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        store, size = self.store, self.store.tile
        rows = range(ya // size, (yb - 1) // size + 1)
        cols = range(xa // size, (xb - 1) // size + 1)
        missing = {(row, col) for row in rows for col in cols if not store.is_ready(row, col)}
        block, by, bx = self._decode(missing) if missing else (None, 0, 0)
        for row in rows:
            y0, y1 = max(ya, row * size), min(yb, (row + 1) * size)
            for col in cols:
                x0, x1 = max(xa, col * size), min(xb, (col + 1) * size)
                if (row, col) in missing:  # just decoded (stored too, unless the budget is spent)
                    src = block[y0 - by:y1 - by, x0 - bx:x1 - bx]
                else:
                    src = store.tiles[row, col, y0 - row * size:y1 - row * size,
                                      x0 - col * size:x1 - col * size]
                out[y0 - ya:y1 - ya, x0 - xa:x1 - xa] = src if bands is None else src[:, :, bands]

    def _decode(self, missing):
        """Decode the tiles ``missing`` in one read of the inner reader (the
        box around them) and store them; return ``(block, y0, x0)``."""
        size = self.store.tile
        r0, r1 = min(r for r, _ in missing), max(r for r, _ in missing)
        c0, c1 = min(c for _, c in missing), max(c for _, c in missing)
        by, bx = r0 * size, c0 * size
        block = self.inner.read(by, min(self.height, (r1 + 1) * size),
                                bx, min(self.width, (c1 + 1) * size))
        for row, col in missing:
            self.store.fill(row, col, block[(row - r0) * size:(row - r0 + 1) * size,
                                            (col - c0) * size:(col - c0 + 1) * size])
        return block, by, bx

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        self.inner.read_resized_into(out, ya, yb, xa, xb, bands)

    def close(self):
        self.store.close()
