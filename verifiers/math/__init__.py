"""Graders, math: the answer verifier and what it is built from (sympy is imported on first use).

    verifier.py   MathVerifier, ExactVerifier, math_equal: extraction to verdict
    normalize.py  LaTeX and prose answers to one canonical form
    compare.py    symbolic equivalence of two parsed answers
    guards.py     refuse parsed answers too big to compare safely
    warmup.py     the imports and caches a worker pre-loads before its first item
"""
