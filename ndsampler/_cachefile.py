"""
Crash-safe cache files: content keys, a lock across processes, atomic
publication, and a checksum stamp that catches later corruption.

A cache file (or a cache directory, such as a zarr store) is built under a
temporary name in its final directory and renamed into place, so a reader
sees either no cache or a whole one.  Builders of the same cache take an
exclusive lock (:mod:`ndsampler._locks`) on a lock file beside it, so N processes that first-touch
one image build it once; the lock file and any temporary left by a killed
builder are removed by the next builder.  The stamp of a directory is a
manifest of its files' stat keys and checksums.

Example:
    >>> import ubelt as ub
    >>> from ndsampler._cachefile import build_once
    >>> dpath = ub.Path.appdir('ndsampler/doctest/cachefile').delete().ensuredir()
    >>> def write(tmp):
    ...     with open(tmp, 'w') as f:
    ...         f.write('hello')
    >>> fpath = build_once(dpath / 'a.txt', write)
    >>> fpath.read_text()
    'hello'
    >>> sorted(p.name for p in dpath.iterdir())
    ['a.txt', 'a.txt.ok']
    >>> def write_dir(tmp):
    ...     os.makedirs(os.path.join(tmp, 'c'))
    ...     with open(os.path.join(tmp, 'c', 'b.bin'), 'wb') as f:
    ...         f.write(b'xyz')
    >>> dst = build_once(dpath / 'd.zarr', write_dir)
    >>> is_intact(dst), sorted(json.loads((dpath / 'd.zarr.ok').read_text())['files'])
    (True, ['c/b.bin'])
    >>> _ = (dst / 'c' / 'b.bin').write_bytes(b'xy')
    >>> is_intact(dst)
    False
"""
import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import shutil
import stat
import uuid
import zlib
from os.path import basename, dirname, join, splitext

import ubelt as ub

from ndsampler._locks import file_lock
from ndsampler.errors import BackendConfigError, CacheError, NdsamplerError

TMP_MARK = '.tmp-'
LOCK_SUFFIX = '.lock'


def source_key(fpath, hashid_mode='PATH'):
    """
    A short hex key that changes whenever the source file changes.

    ``'PATH'`` hashes the real path with the file's inode, size, ``mtime_ns``
    and ``ctime_ns`` (restoring an old mtime still changes ``ctime_ns``);
    ``'PIXELS'`` hashes the file's bytes, which survives copies and moves.
    A directory source (a zarr store) is keyed by every file in it, and a
    ``file.h5::/dataset`` source by its file (see
    :mod:`ndsampler._backends.array_sources`).

    Example:
        >>> import ubelt as ub
        >>> fpath = ub.Path.appdir('ndsampler/doctest/key').ensuredir() / 'x.bin'
        >>> _ = fpath.write_bytes(b'abc')
        >>> k1 = source_key(fpath)
        >>> _ = fpath.write_bytes(b'abcd')
        >>> k1 != source_key(fpath)
        True
        >>> source_key(fpath, 'PIXELS') == source_key(fpath, 'PIXELS')
        True
        >>> source_key(str(fpath) + '::/x') != source_key(fpath)
        True
    """
    if hashid_mode not in ('PATH', 'PIXELS'):
        raise BackendConfigError('unknown hashid_mode={!r}'.format(hashid_mode))
    fpath = os.fspath(fpath)
    real = fpath if '::' not in fpath or os.path.exists(fpath) else fpath.split('::', 1)[0]
    try:
        st = os.stat(real)
    except FileNotFoundError:
        from ndsampler.errors import SourceReadError
        raise SourceReadError(errno.ENOENT, 'source image does not exist', fpath) from None
    if real == fpath and not stat.S_ISDIR(st.st_mode):  # a plain file: the original keys
        if hashid_mode == 'PIXELS':
            return ub.hash_file(fpath, hasher='sha1')[:16]
        text = '{}|{}|{}|{}|{}'.format(os.path.realpath(fpath), st.st_ino, st.st_size,
                                       st.st_mtime_ns, st.st_ctime_ns)
        return hashlib.sha1(text.encode('utf8')).hexdigest()[:16]
    hasher = hashlib.sha1(fpath[len(real):].encode('utf8'))
    for rel, path in _member_files(real):
        if hashid_mode == 'PIXELS':
            hasher.update('{}|{}|'.format(rel, ub.hash_file(path, hasher='sha1')).encode('utf8'))
        else:
            st = os.stat(path)
            hasher.update('{}|{}|{}|{}|{}|{}|'.format(
                os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns,
                st.st_ctime_ns, rel).encode('utf8'))
    return hasher.hexdigest()[:16]


def _member_files(path):
    """``(relative path, path)`` of a file itself, or of every file under a
    directory, in a fixed order."""
    if not os.path.isdir(path):
        return [('', path)]
    found = []
    for dirpath, dirnames, fnames in os.walk(path):
        dirnames.sort()
        for fname in sorted(fnames):
            full = join(dirpath, fname)
            found.append((os.path.relpath(full, path), full))
    return found


def path_bytes(path):
    """
    Bytes of a cache: a file, or every file of a directory store.

    Example:
        >>> import tempfile
        >>> dpath = ub.Path(tempfile.mkdtemp())
        >>> _ = (dpath / 'a').write_bytes(b'abc'), (dpath / 'b').write_bytes(b'de')
        >>> path_bytes(dpath), path_bytes(dpath / 'a')
        (5, 3)
    """
    return sum(os.path.getsize(full) for _, full in _member_files(path))


def family_glob(dst, key, ext):
    """
    Glob of every cache name of the same source as ``dst`` (named
    ``<stem>_<hash>_<key><ext>``), whatever its key.

    Example:
        >>> family_glob('/w[1]/img_ab12_k3.npy', 'k3', '.npy')
        '/w[[]1]/img_ab12_*.npy'
    """
    return glob.escape(dst[:-len(key) - len(ext)]) + '*' + glob.escape(ext)


def cache_fpath(cache_dpath, src_fpath, key, ext):
    """
    ``<cache_dpath>/<stem>_<path hash>_<key><ext>``: one family of names per
    source path, so stale siblings can be found and removed.
    """
    stem = splitext(basename(os.fspath(src_fpath).split('::', 1)[0].rstrip('/')))[0][:40]
    path_hash = hashlib.sha1(os.path.realpath(src_fpath).encode('utf8')).hexdigest()[:8]
    return join(cache_dpath, '{}_{}_{}{}'.format(stem, path_hash, key, ext))


def remove_path(path):
    """Delete a file or a directory tree; missing is fine."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def remove_stale(pattern):
    """Delete the files (and directories) matching a glob pattern."""
    for fpath in glob.glob(pattern):
        remove_path(fpath)


STAMP_SUFFIX = '.ok'


def file_crc32(fpath, chunk=1 << 24):
    """CRC-32 of a file's bytes (about 4 GB/s from the page cache)."""
    crc = 0
    with open(fpath, 'rb') as file:
        while True:
            block = file.read(chunk)
            if not block:
                return crc
            crc = zlib.crc32(block, crc)


def _stat_key(st):
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def checksum(path):
    """CRC-32 of a file, or ``{relative path: CRC-32}`` of every file under a directory."""
    if os.path.isdir(path):
        return {rel: file_crc32(full) for rel, full in _member_files(path)}
    return file_crc32(path)


def write_stamp(fpath, crc):
    """
    Record a published cache's stat and checksum in ``<fpath>.ok``: for a
    directory, a manifest of each file's stat and checksum.
    """
    if isinstance(crc, dict):
        stamp = {'files': {rel: {'stat': _stat_key(os.stat(join(fpath, rel))), 'crc32': value}
                           for rel, value in crc.items()}}
    else:
        stamp = {'stat': _stat_key(os.stat(fpath)), 'crc32': crc}
    tmp = '{}{}{}{}-{}'.format(fpath, STAMP_SUFFIX, TMP_MARK, os.getpid(), uuid.uuid4().hex[:8])
    try:
        with open(tmp, 'w') as file:
            json.dump(stamp, file)
        os.replace(tmp, fpath + STAMP_SUFFIX)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _file_matches(fpath, entry):
    """True when a file has the stat of its stamp entry, or (a stat that
    changed) the same size and CRC-32."""
    st = os.stat(fpath)
    if _stat_key(st) == entry['stat']:
        return True
    return st.st_size == entry['stat'][1] and file_crc32(fpath) == entry['crc32']


def is_intact(fpath):
    """
    True when ``fpath`` is a published cache file whose bytes are the ones
    its stamp recorded.  The common case costs a ``stat`` and a small read:
    only a file whose stat changed since it was published (written to,
    truncated, touched) is read in full and checked against the CRC-32.  A
    cache directory is intact when each file of its manifest is (files added
    later are ignored).
    """
    try:
        with open(fpath + STAMP_SUFFIX) as file:
            stamp = json.load(file)
        if os.path.isdir(fpath):
            files = stamp['files']
            return bool(files) and all(_file_matches(join(fpath, rel), entry)
                                       for rel, entry in files.items())
        return 'files' not in stamp and _file_matches(fpath, stamp)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False


def _remove_temporaries(dst):
    """Delete temporaries of ``dst`` and of its stamp left by killed builders."""
    remove_stale(glob.escape(dst) + TMP_MARK + '*')
    remove_stale(glob.escape(dst + STAMP_SUFFIX) + TMP_MARK + '*')


def _remove_abandoned_lock(lock_fpath, dst):
    """Delete a lock file (and temporaries) that a killed builder left behind."""
    try:
        fd = os.open(lock_fpath, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return  # held: a live builder is at work
    try:
        if os.path.exists(lock_fpath) and os.stat(lock_fpath).st_ino == os.fstat(fd).st_ino:
            _remove_temporaries(dst)
            os.unlink(lock_fpath)
    except OSError:
        pass
    finally:
        os.close(fd)


def _publish(tmp, dst):
    """
    Rename a finished build into place.  A file replaces its old version
    atomically; a directory cannot replace a directory in one step, so the
    old one (a corrupt cache, with its stamp removed first) is renamed aside
    and deleted after the new one is in place.
    """
    if not os.path.isdir(tmp) or not os.path.lexists(dst):
        os.replace(tmp, dst)
        return
    remove_path(dst + STAMP_SUFFIX)
    aside = '{}{}{}-{}-old'.format(dst, TMP_MARK, os.getpid(), uuid.uuid4().hex[:8])
    os.replace(dst, aside)
    os.replace(tmp, dst)
    remove_path(aside)


def build_once(dst, build, validate=None, family_glob=None):
    """
    Return ``dst``, building it with ``build(tmp_fpath)`` unless an intact
    copy is already published (see :func:`is_intact`).  The build may write
    a file or a directory at ``tmp_fpath``.

    The build runs under :func:`file_lock`; its output is checked with
    ``validate(tmp_fpath)`` (a format check), checksummed, renamed into place
    and stamped.  Temporaries and locks left by killed builders are removed,
    and, after a successful build, so are stale siblings matching
    ``family_glob`` (with their stamps).

    Raises:
        CacheError: when the cache cannot be written (read-only workdir,
            full disk, a build that produced an invalid file).
    """
    dst = os.fspath(dst)
    lock_fpath = dst + LOCK_SUFFIX
    if is_intact(dst):
        if os.path.exists(lock_fpath):
            _remove_abandoned_lock(lock_fpath, dst)
        return ub.Path(dst)
    try:
        os.makedirs(dirname(dst), exist_ok=True)
        with file_lock(lock_fpath):
            if is_intact(dst):
                return ub.Path(dst)
            _remove_temporaries(dst)
            tmp = '{}{}{}-{}'.format(dst, TMP_MARK, os.getpid(), uuid.uuid4().hex[:8])
            try:
                build(tmp)
                if validate is not None and not validate(tmp):
                    raise CacheError(errno.EIO, 'freshly built cache file failed validation', tmp)
                crc = checksum(tmp)
                _publish(tmp, dst)
            finally:
                remove_path(tmp)
            write_stamp(dst, crc)
            if family_glob is not None:
                stale = set(glob.glob(family_glob)) - {dst}
                for fpath in stale:
                    remove_path(fpath + STAMP_SUFFIX)
                    remove_path(fpath)
    except NdsamplerError:
        raise  # already names what failed (the source, or the cache file)
    except OSError as ex:
        raise CacheError(ex.errno or errno.EIO,
                         'cannot write cache file ({})'.format(ex.strerror or ex), dst) from ex
    return ub.Path(dst)
