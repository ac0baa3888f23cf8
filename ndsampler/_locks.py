"""
A build lock that also holds where ``flock`` is weak (network file systems).

:func:`file_lock` (same interface as :func:`ndsampler._cachefile.file_lock`)
takes two locks, in this order:

1. an exclusive ``flock`` on ``<lock>`` (deleted by its holder; a waiter that
   wakes on a deleted file retries on the new one).  On a local disk this
   alone serialises builders and waiters sleep in the kernel;
2. an owner file ``<lock>.owner``, created atomically with ``link()`` (atomic
   on NFS too, unlike ``O_EXCL`` on old NFS clients) from a private file that
   names the holder's host, pid and a random token.  The holder touches it
   every :data:`HEARTBEAT` seconds.  A waiter takes it over when its holder is
   a dead process on the same host, or when its heartbeat has not moved for
   ``stale_after`` seconds of the waiter's own clock (so clocks of different
   hosts need not agree).

Guarantee: while holders keep their heartbeat, one holder at a time, also
across hosts whose ``flock`` does not see each other.  Limits: a holder
paused for longer than ``stale_after`` (a stopped VM, a network partition)
loses its lock and two builds may then run at once.  That costs a duplicate
build, never a partial file: caches are written under a temporary name and
published with an atomic rename, so readers see no file or a whole one.

Example:
    >>> import ubelt as ub
    >>> dpath = ub.Path.appdir('ndsampler/doctest/locks').delete().ensuredir()
    >>> with file_lock(dpath / 'a.lock'):
    ...     held = sorted(p.name for p in dpath.iterdir())
    >>> held, sorted(p.name for p in dpath.iterdir())
    (['a.lock', 'a.lock.owner'], [])
"""
import contextlib
import fcntl
import glob
import json
import os
import socket
import threading
import time
import uuid

#: Seconds between touches of the owner file by its holder
#: (``NDSAMPLER_LOCK_HEARTBEAT``); keep it well below every waiter's ``stale_after``.
HEARTBEAT = float(os.environ.get('NDSAMPLER_LOCK_HEARTBEAT', 5))
#: Seconds without a heartbeat after which a lock's owner counts as dead
#: (``NDSAMPLER_LOCK_STALE_AFTER``).
STALE_AFTER = float(os.environ.get('NDSAMPLER_LOCK_STALE_AFTER', 60))
OWNER_SUFFIX = '.owner'


@contextlib.contextmanager
def file_lock(lock_fpath, stale_after=None, poll=0.05):
    """
    Hold the lock named ``lock_fpath`` (see the module docstring); the lock
    file and the owner file are deleted on release.

    Args:
        stale_after (float | None): seconds without a heartbeat after which
            a holder on another host counts as dead (default
            :data:`STALE_AFTER`).
        poll (float): seconds between looks at a held owner file.
    """
    lock_fpath = os.fspath(lock_fpath)
    stale_after = STALE_AFTER if stale_after is None else stale_after
    with _flock(lock_fpath):
        owner = Owner(lock_fpath + OWNER_SUFFIX)
        owner.acquire(stale_after, poll)
        try:
            yield
        finally:
            owner.release()


@contextlib.contextmanager
def _flock(lock_fpath):
    while True:
        fd = os.open(lock_fpath, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(lock_fpath).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_fpath)
        os.close(fd)


def read_owner(fpath):
    """The owner record (host, pid, token) of an owner file, or ``None``."""
    try:
        with open(fpath) as file:
            return json.load(file)
    except (OSError, ValueError):
        return None


def pid_alive(pid):
    """Whether a process of this id exists on this machine (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Owner:
    """
    The owner file of a lock: created by ``link()``, kept alive by a
    heartbeat thread, taken over when stale.

    Example:
        >>> import ubelt as ub
        >>> dpath = ub.Path.appdir('ndsampler/doctest/locks_owner').delete().ensuredir()
        >>> first = Owner(dpath / 'x.owner')
        >>> first.try_create()
        True
        >>> Owner(dpath / 'x.owner').try_create()
        False
        >>> first.release()
    """

    def __init__(self, fpath):
        self.fpath = os.fspath(fpath)
        self.record = {'host': socket.gethostname(), 'pid': os.getpid(),
                       'token': uuid.uuid4().hex}
        self._stop = threading.Event()
        self._thread = None

    def try_create(self):
        """Create the owner file if nobody holds it; True on success."""
        private = '{}.{}.{}'.format(self.fpath, self.record['host'], self.record['token'])
        with open(private, 'w') as file:
            json.dump(self.record, file)
        try:
            os.link(private, self.fpath)
            return True
        except (FileExistsError, FileNotFoundError):
            return False  # held; or the holder removed our file as a leftover
        except OSError:
            # NFS may report a failure for a link it made (a lost reply):
            # the link count of the private file tells.
            try:
                return os.stat(private).st_nlink == 2
            except OSError:
                return False
        finally:
            with contextlib.suppress(OSError):
                os.unlink(private)

    def acquire(self, stale_after, poll):
        """Wait until this process owns the owner file; start the heartbeat."""
        seen, since = None, time.monotonic()
        while not self.try_create():
            try:
                st = os.stat(self.fpath)
            except FileNotFoundError:
                continue
            record = read_owner(self.fpath) or {}
            mark = (st.st_ino, st.st_mtime_ns, record.get('token'))
            if mark != seen:
                seen, since = mark, time.monotonic()
            dead = (record.get('host') == self.record['host'] and
                    isinstance(record.get('pid'), int) and not pid_alive(record['pid']))
            if dead or time.monotonic() - since > stale_after:
                self._take_over(record.get('token'))
                continue
            time.sleep(poll)
        self._remove_leftovers()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name='ndsampler-lock-heartbeat')
        self._thread.start()

    def _remove_leftovers(self):
        """Delete the private and set-aside files that killed processes left
        beside the owner file (only the holder does this)."""
        for path in glob.glob(glob.escape(self.fpath) + '.*'):
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _take_over(self, stale_token):
        """Remove a stale owner file, unless it turns out to be a new one."""
        aside = '{}.stale-{}'.format(self.fpath, self.record['token'])
        try:
            os.rename(self.fpath, aside)
        except FileNotFoundError:
            return
        if (read_owner(aside) or {}).get('token') != stale_token:
            with contextlib.suppress(OSError):
                os.link(aside, self.fpath)  # a fresh owner's file: put it back
        with contextlib.suppress(OSError):
            os.unlink(aside)

    def _beat(self):
        while not self._stop.wait(HEARTBEAT):
            with contextlib.suppress(OSError):
                os.utime(self.fpath)

    def release(self):
        """Stop the heartbeat and delete the owner file if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if (read_owner(self.fpath) or {}).get('token') == self.record['token']:
            with contextlib.suppress(OSError):
                os.unlink(self.fpath)
