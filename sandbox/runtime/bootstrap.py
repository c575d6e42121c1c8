"""Entry point of the runtime, run inside the jail:

    python -I -B <runtime dir>/bootstrap.py --channel-fd N --packages DIR [--packages DIR ...]
    python -I -B <runtime dir>/bootstrap.py --fork-server --control-fd N --packages DIR ...

``-I`` keeps the script's folder off ``sys.path``, and the folder may be mounted
anywhere under any name (``/var/runtime/coldstart``), so this file loads the
folder as a package under a private name and hands over to ``main``. Everything
else in the folder uses relative imports only.
"""

import importlib
import importlib.util
import os
import sys
from types import ModuleType

PACKAGE = "_coldstart_runtime"


def _load_main(module: str = "main") -> ModuleType:
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        PACKAGE, os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")


if __name__ == "__main__":
    entry = "forkserver" if "--fork-server" in sys.argv[1:] else "main"
    sys.exit(_load_main(entry).main(sys.argv[1:], os.path.abspath(__file__)))
