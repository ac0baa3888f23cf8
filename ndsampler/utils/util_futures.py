"""
Executors with one interface for serial, thread and process execution, kept
at the original's import path; they are ubelt's (:class:`ubelt.Executor`,
:class:`ubelt.JobPool`), which the original recommended moving to.

``max_workers=0`` (or ``mode='serial'``) runs each job in the calling thread
when its result is asked for, which keeps tracebacks and debuggers simple.

Example:
    >>> from ndsampler.utils.util_futures import Executor
    >>> with Executor(mode='thread', max_workers=2) as executor:
    ...     futures = [executor.submit(pow, 2, n) for n in range(5)]
    ...     print([f.result() for f in futures])
    [1, 2, 4, 8, 16]
"""
from concurrent.futures import as_completed

import ubelt as ub

__all__ = ['Executor', 'SerialExecutor', 'JobPool', 'as_completed']


class SerialExecutor(ub.util_futures.SerialExecutor):
    """
    The ``concurrent.futures`` executor API without concurrency: a job runs
    when its result is first requested.

    Example:
        >>> with SerialExecutor() as executor:
        ...     future = executor.submit(sum, [1, 2, 3])
        ...     print(future.result())
        6
    """


class Executor(ub.Executor):
    """
    A serial, thread or process executor chosen by argument.

    Args:
        mode (str): ``'thread'`` (default), ``'process'`` or ``'serial'``;
            anything else raises ``KeyError``.
        max_workers (int): 0 (default) forces serial execution.

    Example:
        >>> executor = Executor(mode='process', max_workers=0)
        >>> type(executor.backend).__name__
        'SerialExecutor'
        >>> executor.submit(divmod, 7, 2).result()
        (3, 1)
    """

    def __init__(self, mode='thread', max_workers=0):
        super().__init__(mode=mode, max_workers=max_workers)


class JobPool(ub.JobPool):
    """
    Submit jobs to an :class:`Executor` and collect them as they finish.
    ``len(pool)`` counts the jobs; iterating over the pool (or
    :meth:`as_completed`) yields them in completion order.

    Args:
        mode (str): as :class:`Executor`.
        max_workers (int): as :class:`Executor`.

    Example:
        >>> pool = JobPool('thread', max_workers=4)
        >>> with pool:
        ...     for n in range(6):
        ...         _ = pool.submit(lambda x: x * x, n)
        ...     results = sorted(job.result() for job in pool)
        >>> len(pool), results
        (6, [0, 1, 4, 9, 16, 25])
    """

    def __init__(self, mode='thread', max_workers=0):
        super().__init__(mode=mode, max_workers=max_workers)
