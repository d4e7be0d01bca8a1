"""Import boundaries: services never import each other; shared never imports services."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "metrics", "survey")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def _violations(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in folder.rglob("*.py"):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_shared_never_imports_services_or_the_cli():
    assert _violations(ROOT / "shared", ("services", "yardstick")) == []


def test_services_never_import_each_other():
    for service in SERVICES:
        others = (*(f"services.{o}" for o in SERVICES if o != service), "yardstick")
        assert _violations(ROOT / "services" / service, others) == [], service


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from services.metrics.main import app\nimport services.survey\n")
    assert _imports(bad) == {"services.metrics.main", "services.survey"}
