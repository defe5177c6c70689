"""The layout's rules, checked: imports flow one way with no cycles (imports inside functions
count too), the pure packages load without hardware or vision libraries, and no module is a
god file. Run ``python -m tests.test_architecture`` to print the import order and the largest
modules."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "station"
# lower layers first; a module may import its own layer or any layer before it
LAYERS = [
    {"station", "station.errors", "station.paths", "station.files", "station.feedback", "station.config"},
    {"station.practice"},
    {"station.tracking", "station.records"},
    {"station.clinic", "station.appliance"},
    {"station.kiosk"},
    {"station.devtools", "station.desk"},
    {"station.cli", "station.__main__"},
]
PURE = ["station.practice", "station.records", "station.tracking.face", "station.tracking.landmarks",
        "station.tracking.filters", "station.tracking.metrics", "station.tracking.posedrift",
        "station.tracking.blinks", "station.tracking.quality",
        "station.tracking.scoring"]
BLOCKED = ["pygame", "mediapipe", "cv2", "gpiozero", "picamera2"]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def station_imports(path: Path) -> set[str]:
    """Every station module this file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("station"):
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (PKG.parent / (candidate.replace(".", "/") + ".py")).exists():
                    found.add(candidate)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("station")}
    return found


def graph() -> dict[str, set[str]]:
    mods = {module_name(p): p for p in PKG.rglob("*.py")}
    return {m: {i for i in station_imports(p) if i in mods and i != m} for m, p in mods.items()}


def layer_of(module: str) -> int:
    best, depth = -1, -1
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = i, len(prefix)
    return best


def test_imports_flow_one_way():
    wrong = [f"{m} imports {i}" for m, deps in graph().items() for i in deps
             if layer_of(i) > layer_of(m) and not i == "station"]
    assert wrong == []


def test_no_import_cycles():
    g = graph()
    seen: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        seen[m] = 1
        for d in g[m]:
            if seen.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in seen:
                visit(d, stack + [d])
        seen[m] = 2

    for m in sorted(g):
        if m not in seen:
            visit(m, [m])
    # a package __init__ importing nothing is fine; a real cycle is a list of modules
    assert [c for c in cycles if len(set(c)) > 1] == []


def test_domain_code_never_imports_the_cli():
    offenders = [m for m, deps in graph().items() if "station.cli" in deps and m != "station.__main__"]
    assert offenders == []


def test_no_god_files_and_few_loose_modules():
    sizes = {module_name(p): len(p.read_text().splitlines()) for p in PKG.rglob("*.py")}
    assert max(sizes.values()) <= 600, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    loose = [p.name for p in PKG.glob("*.py")]
    assert len(loose) <= 8, loose


@pytest.mark.parametrize("module", PURE)
def test_pure_packages_load_without_hardware_or_vision_libraries(module):
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}:\n"
        "    sys.modules[name] = None  # any import of it now fails\n"
        f"import importlib; m = importlib.import_module({module!r})\n"
        "import pkgutil\n"
        "for info in pkgutil.walk_packages(getattr(m, '__path__', []), m.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_readme_layout_and_package_docstring_name_every_package_and_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    top_doc = (PKG / "__init__.py").read_text()
    for pkg in sorted(p for p in PKG.iterdir() if (p / "__init__.py").exists() and p.name != "fakes"):
        assert f"`station/{pkg.name}/`" in layout, pkg.name
        assert f"``{pkg.name}``" in top_doc, pkg.name
        for mod in pkg.rglob("*.py"):
            if mod.name != "__init__.py":
                assert f"`{mod.stem}`" in layout, f"{pkg.name}/{mod.name} missing from the README layout"


# ``word`` in a package docstring that is not a module: the package's own name, arguments
NOT_MODULES = {"station", "now", "next"}
# the desk is being reorganised into blueprints: its docstring is held to existing names only
EVERY_MODULE_EXCEPT: set[str] = set()


def _named_in_docstring(init: Path) -> set[str]:
    """Module names a package docstring mentions: ``name``, ``name/`` or :mod:`.name`."""
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    names = set(re.findall(r"``([a-z_][a-z0-9_]*)/?``", doc))
    names |= {m.split(".")[0] for m in re.findall(r":mod:`\.([a-z_][a-z0-9_.]*)`", doc)}
    return names - NOT_MODULES


def _modules_and_folders(pkg: Path) -> set[str]:
    return {p.stem for p in pkg.rglob("*.py")} | {p.name for p in pkg.rglob("*") if p.is_dir()}


def test_package_docstrings_name_only_modules_that_exist():
    wrong = [f"{init.parent.relative_to(ROOT)}: {name}" for init in sorted(PKG.rglob("__init__.py"))
             for name in sorted(_named_in_docstring(init) - _modules_and_folders(init.parent))]
    assert wrong == [], "package docstrings name modules that do not exist"


def test_package_docstrings_name_every_module():
    unnamed = []
    for init in sorted(PKG.rglob("__init__.py")):
        pkg = init.parent
        if pkg.name in EVERY_MODULE_EXCEPT:
            continue
        own = {p.stem for p in pkg.glob("*.py") if not p.stem.startswith("__")}
        own |= {p.name for p in pkg.iterdir() if (p / "__init__.py").exists() and p.name != "patterns"}
        unnamed += [f"{pkg.relative_to(ROOT)}/{m}" for m in sorted(own - _named_in_docstring(init))]
    assert unnamed == [], "modules their package's docstring does not name"


def test_readme_layout_names_only_modules_that_exist():
    """Every name in the modules column of the README's layout table is a module, a folder or
    a file pattern of that package."""
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    wrong, checked = [], 0
    for row in re.findall(r"^\| `(station/[a-z_/]*)`[^|]*\| ([^|]*) \|", layout, flags=re.M):
        folder, column = ROOT / row[0], row[1]
        for name in re.findall(r"`([^`]+)`", column):
            if "*" in name:
                ok = any(folder.glob(name))
            elif name.endswith("/"):
                ok = any(p.is_dir() for p in folder.rglob(name.rstrip("/")))
            else:
                ok = any(folder.rglob(f"{name}.py"))
            checked += 1
            if not ok:
                wrong.append(f"{row[0]}: {name}")
    assert checked > 80  # the table was found and read
    assert wrong == [], "the README's layout names modules that do not exist"


if __name__ == "__main__":
    sizes = sorted(((len(p.read_text().splitlines()), module_name(p)) for p in PKG.rglob("*.py")), reverse=True)
    for n, m in sizes[:5]:
        print(f"{n:5d}  {m}")


def test_no_test_imports_another_test_modules_private_helpers():
    """Shared test helpers live in helper modules (``tests/*_helpers.py``) or fixtures."""
    tests = ROOT / "tests"
    wrong = []
    for path in tests.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1].startswith("test_"):
                wrong += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_")]
    assert wrong == []
