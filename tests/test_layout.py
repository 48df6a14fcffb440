"""The package's layout holds: no import runs in a circle, the algorithm imports none of the
machinery, the command line answers --help without PyTorch, and the defaults its help shows are
the package's own."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from helpers import child_env, run

PACKAGE = Path(__file__).resolve().parent.parent / "nst_helpers"
MACHINERY = ("engine", "cli", "io")


def relative_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports, as paths under nst_helpers ("engine.speed")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = node.module or ""
            found.update(f"{base}.{a.name}".strip(".") if not base else base
                         for a in node.names)
    return found


def module_name(path: Path, root: Path) -> str:
    """``root/a/b.py`` -> ``"<root>.a.b"``; a package's ``__init__.py`` is the package."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Every module of the package ``root`` and the package modules it imports, by dotted name.

    Every import in the file counts, wherever it is: at the top, inside a function, under
    ``if __name__ == "__main__":``. Relative and absolute imports alike; importing a package is
    importing its ``__init__``; ``from pkg import name`` where ``name`` is a submodule imports
    that submodule. A module importing itself (``from . import training`` inside training.py)
    is no circle between modules and is left out."""
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    packages = {name for name, path in files.items() if path.name == "__init__.py"}

    def known(name: str) -> str | None:  # the module itself, or the nearest package above it
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in files.items():
        here = name if name in packages else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == root.name]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join([*base, *([node.module] if node.module else [])])
                elif (node.module or "").split(".")[0] == root.name:
                    base = node.module
                else:
                    continue
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            else:
                continue
            found.update(filter(None, map(known, targets)))
        graph[name] = found - {name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles in ``graph``, each as the path that closes it (``[a, b, a]``): one for
    every import that runs back to a module still being followed (a depth-first search)."""
    cycles, done, path = [], set(), []

    def visit(name: str) -> None:
        path.append(name)
        for target in sorted(graph[name]):
            if target in path:
                cycles.append(path[path.index(target):] + [target])
            elif target not in done:
                visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name)
    return cycles


def test_no_import_runs_in_a_circle():
    """No module of the package imports, by any path, a module that imports it back: not at
    the top, not inside a function, not under ``if __name__ == "__main__":`` (fast.py's
    ``__main__`` block used to import training.py, which imports fast.py)."""
    cycles = import_cycles(import_graph())
    assert not cycles, "imports in a circle:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_only_the_command_line_imports_the_command_line():
    """cli/ sits above everything (it may import any module); nothing outside it imports it
    but ``python -m nst_helpers`` (``__main__.py``). training.py used to, for its command line,
    which is now cli/train.py."""
    cli = f"{PACKAGE.name}.cli"
    inside = (cli, f"{PACKAGE.name}.__main__")
    reaching = {name: sorted(t for t in targets if t == cli or t.startswith(f"{cli}."))
                for name, targets in import_graph().items()
                if not (name in inside or name.startswith(f"{cli}."))}
    reaching = {name: targets for name, targets in reaching.items() if targets}
    assert not reaching, f"modules outside cli/ that import it: {reaching}"


def test_the_circle_check_sees_imports_in_functions_and_main_blocks(tmp_path):
    """The check itself: a package shaped as fast.py and training.py were (the network's
    module runs the training command in its ``__main__`` block; the training module imports
    the network at the top) is a circle; an import inside a function closes one too."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for name, text in {
        "__init__.py": "",
        "net.py": "from .gram import g\nif __name__ == '__main__':\n    from .train import main\n",
        "train.py": "from .net import Net\n",
        "gram.py": "def g():\n    from pkg.sub import tool\n",
        "sub/__init__.py": "",
        "sub/tool.py": "from .. import gram\n",
    }.items():
        (pkg / name).write_text(text, encoding="utf-8")
    graph = import_graph(pkg)
    assert graph["pkg.net"] == {"pkg.gram", "pkg.train"}
    assert graph["pkg.sub.tool"] == {"pkg.gram"} and graph["pkg.gram"] == {"pkg.sub.tool"}
    assert sorted(map(tuple, import_cycles(graph))) == [
        ("pkg.gram", "pkg.sub.tool", "pkg.gram"), ("pkg.net", "pkg.train", "pkg.net")]


@pytest.mark.parametrize("module", ["gram.py", "losses.py", "model.py"])
def test_the_algorithm_imports_none_of_the_machinery(module):
    imports = relative_imports(PACKAGE / module)
    assert not [m for m in imports if m.split(".")[0] in MACHINERY], imports


@pytest.mark.parametrize("module", ["gram.py", "vgg.py", "loop.py"])
def test_precision_is_an_argument_not_engine_state(module):
    """The loop, VGG19 and the Gram matrix import nothing from the engine: the loop is handed
    a dtype and a loss scale, and passes them with each evaluation (it used to switch
    ``engine.autocast_dtype`` on and off and reach into ``engine.loss_scale``)."""
    imports = relative_imports(PACKAGE / module)
    assert not [m for m in imports if m.split(".")[0] == "engine"], imports


def test_the_commands_defaults_and_choices_are_the_packages():
    """cli.args writes the defaults and choices its help shows (it imports no PyTorch, so it
    cannot import them): each equals the constant of the module named beside it."""
    import importlib

    from nst_helpers.cli.args import CHOICES

    for key, value in CHOICES.items():
        module, name = key.rsplit(".", 1)
        own = getattr(importlib.import_module(f"nst_helpers.{module}"), name)
        assert (tuple(own) if isinstance(own, (list, tuple)) else own) == value, key


def test_help_and_version_import_no_pytorch():
    script = ("import sys\nfrom nst_helpers.cli import main\n"
              "for argv in (['--help'], ['--version']):\n"
              "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
              "print('torch' in sys.modules, file=sys.stderr)")
    proc = run([sys.executable, "-c", script], cwd=PACKAGE.parent, env=child_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr
    assert "usage: nst" in proc.stdout and "nst 0" in proc.stdout


def test_every_option_has_help_and_names_only_files_that_ship():
    from nst_helpers.cli.args import build_parser

    parser = build_parser()
    for action in parser._actions:
        assert action.help, action.option_strings or action.dest
    assert "benchmarks/" not in parser.format_help()
