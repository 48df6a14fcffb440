"""The package's layout holds: the algorithm imports none of the machinery, the command line
answers --help without PyTorch, and the defaults its help shows are the package's own."""

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
