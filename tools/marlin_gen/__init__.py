"""rules_marlin kernel generator: scheme table, planner, manifest and jinja2 renderers.

Data (scalar_types, schemes), planning (archs, plan), serialisation (manifest) and rendering
(selector, render) live in separate modules; main.py is the absl app that wires them up. Only
main.py reads flags.
"""
