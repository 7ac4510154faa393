"""The package list of docs/MODEL.md is the tree of src/dis_seg, and its layers import one way:
each only from the layers listed before it (the ``python -m`` shims aside)."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dis_seg"
DOC = PACKAGE.parents[1] / "docs" / "MODEL.md"
ROW = re.compile(r"^\| `(dis_seg[\w.]*)` \| (.+) \|$")


def documented() -> dict[str, set[str]]:
    """package → its modules, as docs/MODEL.md lists them, in the order of its layers."""
    text = DOC.read_text().split("## The packages", 1)[1]
    return {
        match[1]: set(re.findall(r"`(\w+)`", match[2]))
        for line in text.splitlines()
        if (match := ROW.match(line))
    }


def on_disk() -> dict[str, set[str]]:
    """package → its modules (``__init__`` and ``__main__`` aside), from the tree."""
    packages = {}
    for init in PACKAGE.rglob("__init__.py"):
        folder = init.parent
        name = ".".join(folder.relative_to(PACKAGE.parent).parts)
        packages[name] = {p.stem for p in folder.glob("*.py")} - {"__init__", "__main__"}
    return packages


def layer(module: str) -> str:
    """The layer of a dotted module name: ``dis_seg.<package>``, or ``dis_seg`` itself."""
    return ".".join(module.split(".")[:2]) if module.count(".") >= 2 else "dis_seg"


def test_the_package_list_of_the_docs_is_the_tree():
    assert documented() == on_disk()


def test_every_layer_imports_only_the_layers_listed_before_it():
    order = [name for name in documented() if name.count(".") == 1]
    for path in PACKAGE.rglob("*.py"):
        if path.parent == PACKAGE or path.stem == "__main__":
            continue  # errors (imports nothing of the package) and the `python -m` shims
        own = layer(".".join(path.with_suffix("").relative_to(PACKAGE.parent).parts))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dis_seg."):
                imported = layer(node.module)
                if imported != "dis_seg":
                    where = f"{path.relative_to(PACKAGE)} imports {node.module}"
                    assert order.index(imported) <= order.index(own), where
