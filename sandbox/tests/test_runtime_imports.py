"""sandbox/runtime runs inside the jail: it imports nothing from Django or the project.

Two proofs: every module's imports, read with ``ast``; and a real runtime, copied
to another folder name, started with ``python -I`` on a package folder from which
Django and the project are absent, serving an init and an invoke.
"""

import ast
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sandbox.jail.launcher import RUNTIME_DIR, host_paths, runtime_argv
from sandbox.jail.process import RuntimeProcess

PROJECT = {"django", "config", "course", "sandbox"}
LAZY_THIRD_PARTY = {"boto3", "botocore", "moto"}
RUNTIME_MODULES = sorted(RUNTIME_DIR.glob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, str | None, int]]:
    """(node, absolute top-level module or None for a relative import, depth of function nesting)."""
    found: list[tuple[ast.stmt, str | None, int]] = []

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            inner = depth + isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((child, alias.name.split(".")[0], depth) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                found.append((child, None if child.level else (child.module or "").split(".")[0], depth))
            visit(child, inner)

    visit(tree, 0)
    return found


def test_the_runtime_has_modules():
    assert {p.name for p in RUNTIME_MODULES} >= {"bootstrap.py", "main.py", "protocol.py", "awsmock.py"}


@pytest.mark.parametrize("path", RUNTIME_MODULES, ids=lambda p: p.name)
def test_runtime_module_imports_only_the_stdlib_and_lazily_boto3_moto(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node, module, depth in _imports(tree):
        where = f"{path.name}:{node.lineno}"
        if module is None:
            continue  # relative: inside the runtime package
        assert module not in PROJECT, f"{where} imports {module}"
        if module in LAZY_THIRD_PARTY:
            assert depth > 0, f"{where} imports {module} at module level (import it where it is needed)"
        else:
            assert module in sys.stdlib_module_names, f"{where} imports {module}, not in the standard library"
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", getattr(call.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            for arg in call.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    assert arg.value.split(".")[0] not in PROJECT, f"{path.name}:{call.lineno}"


class _CopiedRuntimeLauncher:
    """The runtime from another folder (as a jail mounts it), on chosen package folders."""

    name = "copied"
    isolated = False

    def __init__(self, bootstrap: Path, packages: Path, workdir: Path) -> None:
        self.bootstrap, self.packages, self.workdir = bootstrap, packages, workdir

    def spawn(self, *, channel_fd: int, memory_mb: int, timeout_s: float) -> subprocess.Popen[bytes]:
        argv = runtime_argv(
            python=host_paths().python,
            bootstrap=self.bootstrap,
            channel_fd=channel_fd,
            packages=[self.packages],
        )
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(channel_fd,),
            start_new_session=True,
            cwd=self.workdir,
            # No --task-root: the runtime tries /var/task, then makes a temp dir (under TMPDIR).
            env={
                "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "HOME": str(self.workdir),
                "TMPDIR": str(self.workdir),
            },
        )


@pytest.fixture
def packages_without_django(tmp_path: Path) -> Path:
    """The venv's site-packages as symlinks, minus Django and anything named like the project."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    for site in host_paths().site_packages:
        for entry in site.iterdir():
            top = entry.name.split(".")[0].split("-")[0].lower()
            if top in PROJECT or entry.suffix == ".pth" or (folder / entry.name).exists():
                continue
            (folder / entry.name).symlink_to(entry)
    assert not (folder / "django").exists() and (folder / "boto3").exists()
    return folder


PROBE = """
import os
import sys

def forbidden():
    return sorted(name for name in sys.modules if name.split(".")[0] in {"django", "config", "course", "sandbox"})

AT_IMPORT = forbidden()

def lambda_handler(event, context):
    try:
        import django
        django_found = django.__file__
    except ImportError as e:
        django_found = str(e)
    runtime = sys.modules["_coldstart_runtime"]
    return {
        "at_import": AT_IMPORT,
        "now": forbidden(),
        "django": django_found,
        "runtime_file": runtime.__file__,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "flags": [sys.flags.isolated, sys.flags.dont_write_bytecode],
    }
"""


def test_the_bootstrap_runs_isolated_from_any_folder_without_django(tmp_path, packages_without_django):
    mounted = tmp_path / "var" / "runtime" / "coldstart"
    shutil.copytree(RUNTIME_DIR, mounted, ignore=shutil.ignore_patterns("__pycache__"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    launcher = _CopiedRuntimeLauncher(mounted / "bootstrap.py", packages_without_django, workdir)
    with RuntimeProcess.start(launcher) as runtime:
        init = runtime.init(code=PROBE, function_name="probe")
        assert init.ok, init
        outcome = runtime.invoke(str(uuid.uuid4()), {})
    assert outcome.fault is None, outcome
    result = outcome.record["result"]
    assert result["at_import"] == [] and result["now"] == []
    assert result["django"] == "No module named 'django'"
    assert result["runtime_file"] == str(mounted / "__init__.py")
    assert result["task_root"] == "/var/task" or result["task_root"].startswith(str(workdir / "lambda-task-"))
    assert result["flags"] == [1, 1]
    assert not list(mounted.rglob("__pycache__"))  # -B: nothing written next to the runtime
