"""The model zoo: small models trained by partparse's own recipes, shipped inside the package.

``zoo:<name>`` (e.g. ``zoo:syntps/ir-csn``) may stand wherever a recipe names a trained work dir.
Each entry is a folder beside this file holding what ``partparse train`` leaves in a work dir and the
loaders read (``recipe.yaml``, ``best.pth`` with the model weights only, ``label_spaces.json`` for video
models), listed in ``manifest.json`` with the sha256 of every file, the recipe and data commands that
rebuild it, its validation metrics on the SynTPS benchmark, and how long it trained on which machine.
:func:`resolve` checks every checksum before a file is read.
"""

from partparse.model_zoo.registry import ZOO_PREFIX, ZooEntry, is_zoo_name, load_manifest, resolve

__all__ = ["ZOO_PREFIX", "ZooEntry", "is_zoo_name", "load_manifest", "resolve"]
