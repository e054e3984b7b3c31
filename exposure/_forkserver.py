"""Imported once by the analysis workers' forkserver (workers._context), never by the scan itself.

Everything the forkserver has imported is frozen out of the garbage collector before it forks workers: a
collection in a worker would otherwise write to every object it walks and copy the forkserver's memory page
by page into each worker, instead of sharing it.
"""

import gc

from . import workers  # noqa: F401  (the analysis code, imported once for every worker)

gc.freeze()
