"""Imported in the forkserver only (resilience.pool puts it in the preload list): runs the
parent's main script there once, as multiprocessing means '__main__' in the preload list to do.

Python 3.11's forkserver never receives the main script's path (it asks the preparation data for
a 'main_path' key, which is called 'init_main_from_path'), so every worker forked from it ran
the parent's main script again before its first task: for `bench/corpus.py` (which imports
trimesh's mesh creation) 4.5 of the corpus's 54 CPU seconds, for the `blueprint` command its
whole CLI. With the script run here under the name multiprocessing gives it ('__mp_main__'),
each worker finds `__main__.__file__` already equal to the path and skips it. The parent hands
the path over in MAIN_PATH_ENV (the forkserver inherits the parent's environment). A script that
fails here (the forkserver has no command-line arguments) is left to the workers, as before.
"""

from __future__ import annotations

import os
import sys
from multiprocessing import spawn

from blueprint_pipeline.resilience.pool import MAIN_PATH_ENV

_path = os.environ.get(MAIN_PATH_ENV)
# only in a process without a main script of its own: the forkserver runs `python -c ...`
if _path and os.path.isfile(_path) and getattr(sys.modules["__main__"], "__file__", None) is None:
    try:
        spawn.import_main_path(_path)
    except Exception:  # noqa: BLE001 - e.g. a script reading sys.argv, which the forkserver lacks
        pass  # the forkserver must live on; each worker then runs the script as it always did
