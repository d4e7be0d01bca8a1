"""Import boundaries: services never import each other; shared never imports services."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "metrics", "survey")


DYNAMIC = "<dynamic import>"  # an import whose module the checker cannot name


def _dynamic_target(call: ast.Call) -> str | None:
    """The module an ``importlib.import_module(...)`` / ``__import__(...)`` call loads,
    as far as its source says; None if ``call`` is not such a call.

    A literal is the module. An f-string counts as an import of the package its constant
    prefix names (``f"services.survey.{x}"`` imports ``services.survey``); one whose
    prefix names no package below the top level, or any other expression, is
    :data:`DYNAMIC`, which every boundary refuses: a name the test cannot see.
    """
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name not in ("import_module", "__import__"):
        return None
    arg = call.args[0] if call.args else next((k.value for k in call.keywords), None)
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        prefix = ""
        for part in arg.values:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                break
            prefix += part.value
        # Only whole dotted names: f"services.sur{x}" names no package beyond "services".
        whole = prefix.split(".")[:-1] if len(arg.values) > 1 else prefix.split(".")
        package = ".".join(p for p in whole if p)
        return package if "." in package else DYNAMIC
    return DYNAMIC


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and (target := _dynamic_target(node)) is not None:
            found.add(target)
    return found


def _violations(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in folder.rglob("*.py"):
        for name in _imports(path):
            if name == DYNAMIC or any(name == f or name.startswith(f + ".") for f in forbidden):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                bad.append(f"{where} imports {name}")
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


def test_the_checker_sees_imports_made_with_importlib(tmp_path):
    module = tmp_path / "dynamic.py"
    module.write_text(
        "import importlib\n"
        "from importlib import import_module\n"
        "name = 'x'\n"
        "importlib.import_module('services.survey.mail.service')\n"
        "import_module(f'services.ingest.{name}.service')\n"
        "__import__('services.metrics.figures')\n"
        "__import__(f'services.survey.camp{name}')\n"
    )
    assert _imports(module) == {
        "importlib",
        "services.survey.mail.service",
        "services.ingest",
        "services.metrics.figures",
        "services.survey",
    }
    assert sorted(_violations(tmp_path, ("services.survey",))) == [
        "dynamic.py imports services.survey",
        "dynamic.py imports services.survey.mail.service",
    ]


def test_a_module_name_the_checker_cannot_read_is_a_violation(tmp_path):
    module = tmp_path / "hidden.py"
    module.write_text(
        "import importlib\n"
        "which = 'survey'\n"
        "importlib.import_module(f'services.{which}.main')\n"
        "importlib.import_module('services.' + which)\n"
        "__import__(which)\n"
    )
    assert _imports(module) == {"importlib", DYNAMIC}
    assert _violations(tmp_path, ("services.nothing",)) == [f"hidden.py imports {DYNAMIC}"]
