"""partparse: part-level action parsing in video (persons, body parts, part states, actions).

The package is layered like detectron2: ``data`` and ``models`` never import ``engine``,
``pipeline`` or the CLI; types that cross stages live in :mod:`partparse.structures`.
"""

__version__ = "0.1.0"
