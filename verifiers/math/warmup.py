"""Warm the LaTeX parser once, in the fork server, so every reward worker starts warm.

math-verify parses LaTeX with an ANTLR grammar whose prediction cache (the DFA) is empty in a
fresh process: the first few hundred answers parse 3-5x slower than later ones. The reward
service's fork server imports this module before forking any worker, so each worker, and
each replacement after a timeout, inherits a warm cache instead of rebuilding its own.

    python -c "import time; t = time.time(); import verifiers.math.warmup; print(time.time() - t)"
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# The shapes answers take in MATH/GSM8K/AIME-style data: one of each grammar path.
_ANSWERS = [
    "\\frac{7}{8}", "\\dfrac{3}{4}", "-\\frac{1}{2}", "3/4", "0.875", "-3", "1{,}000", "1.5e3", "50\\%",
    "4\\sqrt{2}", "\\sqrt{32}", "2\\sqrt[3]{5}", "\\frac{\\sqrt{3}}{2}", "\\pi", "2\\pi r^2", "e^{-x}",
    "(1,\\infty)", "[-2, 3)", "(-\\infty, 0] \\cup [1, \\infty)", "x > 1", "x \\le -2", "1 < x < 3",
    "x^2+2x+1", "(x+1)^2", "\\frac{x+2}{7}", "3x - y + 13 = 0", "y = 2x + 1", "x = -3",
    "\\{1, 2, 3\\}", "(1, 2)", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}",
    "30^\\circ", "\\sin^2 x + \\cos^2 x", "\\log_2 8", "\\ln 2", "10!", "\\binom{5}{2}", "\\pm 2", "2^{10}",
    "0.\\overline{3}", "\\text{(B)}", "\\infty", "|x - 1|", "\\frac{1}{2^{98}}", "a + b\\sqrt{c}",
]


def warm_up() -> int:
    """Compare every answer shape with a couple of others; return how many comparisons ran."""
    from verifiers.math.verifier import math_equal

    n = 0
    for i, a in enumerate(_ANSWERS):
        for b in (_ANSWERS[i - 1], a):
            try:
                math_equal(a, b)
            except Exception as e:  # noqa: BLE001 - warming must never stop the service starting
                log.debug("warm-up comparison %r vs %r raised %s", a, b, e)
            n += 1
    return n


warm_up()
