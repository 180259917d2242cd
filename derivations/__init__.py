"""Symbolic statements of the paper's lemmas and theorems (SymPy).

This package may import :mod:`pl_toolkit`; :mod:`pl_toolkit` never imports
SymPy or this package.
"""
