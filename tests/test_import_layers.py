"""The package's import graph: no circle (not even through imports inside functions), lower layers
never import higher ones, and the parser never reaches training code.

Read from the sources (every ``import`` statement, module level or inside a function), so the whole
graph is checked in milliseconds; one subprocess confirms at run time that loading trained models for
``partparse parse`` imports neither a training dataset nor the trainer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: lowest first; a module may import its own layer's package and lower layers only
LAYERS = [
    {"partparse", "partparse.structures", "partparse.io", "partparse.config", "partparse.output_folder",
     "partparse.run_layout"},
    {"partparse.data", "partparse.models", "partparse.model_zoo"},
    {"partparse.evaluation"},
    {"partparse.engine"},
    {"partparse.pipeline"},
    {"partparse.experiments"},
    {"partparse.viz"},
    {"partparse.cli"},
]
#: what trains: the parser and the model loading it uses must never import these
TRAINING = {"partparse.engine.trainer", "partparse.engine.detection_task", "partparse.engine.pose_task",
            "partparse.engine.video_task", "partparse.engine.distributed", "partparse.engine.work_dir",
            "partparse.engine.zoo_pack", "partparse.data.video_dataset", "partparse.data.coco_detection",
            "partparse.data.coco_keypoints", "partparse.data.syntps_stream", "partparse.engine.skeleton_task",
            "partparse.data.skeleton_dataset"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.joinpath("partparse").rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every partparse module ``path`` imports (``from a.b import c`` counts ``a.b.c`` when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("partparse"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("partparse"))
    return {m for m in found if m in MODULES}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _layer(module: str) -> int:
    for rank, packages in enumerate(LAYERS):
        if module in packages or any(module.startswith(p + ".") for p in packages if p != "partparse"):
            return rank
    raise AssertionError(f"{module}: in no layer of tests/test_import_layers.py (add it)")


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


def test_no_import_circle():
    """Tarjan's strongly connected components of the whole graph: each must be one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in GRAPH:
        if v not in index:
            visit(v)
    assert circles == []


def test_lower_layers_never_import_higher_ones():
    wrong = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps
                   if _layer(d) > _layer(m) or (_layer(d) == _layer(m) and _layer(m) > 0
                                                 and _package(d) != _package(m)))
    assert wrong == []


def _closure(roots: set[str]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(GRAPH[m])
    return seen


def test_the_parser_never_reaches_training_code():
    pipeline = {m for m in MODULES if m.startswith("partparse.pipeline")}
    reached = _closure(pipeline | {"partparse.engine.trained_models", "partparse.engine.tasks"})
    assert sorted(reached & TRAINING) == []


def test_loading_trained_models_imports_no_training_code():
    """At run time: the parse path builds and loads a model of every task from the zoo."""
    code = ("import sys\n"
            "from partparse.pipeline.parse_recipe import load_trained\n"
            "for path, task in (('zoo:syntps/parts', 'detection'), ('zoo:syntps/pose', 'pose'), "
            "('zoo:syntps/ir-csn', 'video'), ('zoo:syntps/pose-stream', 'skeleton')):\n"
            "    load_trained(path, task, 'cpu')\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('partparse.'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    loaded = set(out.stdout.split())
    assert "partparse.engine.trained_models" in loaded and "partparse.models.csn" in loaded
    assert "partparse.models.skeleton_gcn" in loaded
    assert sorted(loaded & TRAINING) == []

