"""False-positive probe: answers that might be rewarded without being right, against 30 references.

Every reference is tried with ~100 "universal" answers (infinities, whole sets, undefined
values, tautologies, option lists) and ~170 templates that wrap the right value with a wrong
one (7) or with junk ("{r} or {w}", "{r} million", "x = {w} = {r}", "\\min({r}, {w})", ...).
Each of the ~6,900 completions is scored by `MathVerifier` in a worker process with a 10 s
limit; the script prints every pair that passes (to be triaged by hand: "(5)" or "|5|" for
5 is right, "5 million" is not), every case slower than 2 s, and the totals.

    python benchmarks/attack_probe.py [--quick]      # --quick: the first 10 references
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections import Counter

REFS = ["5", "-3", r"\frac{1}{2}", "0", "1", r"2\sqrt{3}", r"\pi", r"\frac{\pi}{6}", "x^2+1", "2x+3",
        "x = 5", "y = 2x + 3", "x > 1", r"(1, \infty)", "[2, 5]", r"\{1, 2\}", "(1, 2)",
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", "3+4i", r"50\%", r"\text{yes}", "B",
        r"\mathbb{R}", r"\emptyset", "1000000", "12", r"\sqrt{2}", "e", "2", "10"]
UNIVERSAL = [r"\infty", r"-\infty", r"\mathbb{R}", r"\mathbb{C}", r"\emptyset", "x", r"\text{answer}",
    r"\lim", r"\int", r"\sum", r"\prod", r"\text{undefined}", r"\operatorname{Ans}", r"\pm\infty",
    r"(-\infty,\infty)", r"\forall", r"\{\}", "True", "nan", r"\mathbb{Z}", r"\mathbb{N}", r"\cdots",
    r"\ldots", "0^0", "0/0", r"\infty-\infty", r"x \in \mathbb{R}", "DNE", "a", r"\cup", r"\text{any}",
    r"\mathbb{R}\setminus\emptyset", r"x=x", "0=0", "1=1", r"\top", r"\varnothing", r"\O", r"\text{all of the above}",
    r"\text{see above}", r"\dots", "?", r"\_", "-", ".", ",", r"\square", r"\blacksquare", r"\checkmark",
    r"\mathbb{R}^2", r"\{x\}", r"\{x \mid x \in \mathbb{R}\}", r"\lim_{x\to 0} x", r"\sum_{i=1}^{0} i", r"\prod_{i=1}^{0} i",
    r"\int_0^0 x dx", r"\binom{0}{0}", r"\mathbb{R}^+", r"x \le x", r"\frac{0}{0}", r"\tan(\frac{\pi}{2})",
    r"\operatorname{arg}", r"\det", r"\text{Re}", r"\infty^0", r"1^\infty", r"\{\mathbb{R}\}", r"\mathcal{U}",
    r"\emptyset^c", r"\overline{\emptyset}", "x > -\\infty", "|x| \\ge 0", "x^2 \\ge 0", "x \\ne x", "x \\in \\emptyset",
    r"\mathbb{R} \cup \{\infty\}", r"[-\infty, \infty]", r"(-\infty, \infty) \cup \emptyset", r"\mathbb{Q}",
    r"e^{i\pi}+1", "i^2", "i", "-i", "n", "k", r"\lambda", r"\theta", "f(x)", "f", r"\text{yes}", "no", "true", "false",
    "A", "(A)", r"\text{(A)(B)(C)(D)(E)}", "ABCDE", "A, B, C, D, E"]
TEMPL = ["{r} or {w}", r"{r}\text{ or }{w}", r"{r} \text{ or seven}", "{r} plus three", "{r} squared",
    "{r} million", "{r} thousand", "{r} factorial", "{r} halves", "{r} over three", "{r} minus two", "{r} dozen",
    r"{r} \text{ cubed}", "{r} wrong", "{r} isnt correct", r"\{{{r}, {w}\}}", "({r}, {w})", "[{r}, {w}]", "{r}, {w}",
    "x = {r} = {w}", "x = {w} = {r}", "{w} = {r}", "{r} = {w}", "{r} = x", r"\max({r}, {w})", r"\min({r}, {w})",
    r"\max\{{{r}, {w}\}}", r"\min\{{{r}, {w}\}}",
    r"{r} + 0x", r"{r} + 0^x", r"{r}\cdot(1 + 0^x)", r"{r} + 0^{{x}} \cdot 100", r"{r} \pmod{{7}}", r"{r} \mod 2",
    r"\gcd({r}, {w})", "f({r})", r"\text{answer}({r})", r"\operatorname{ans}({r})", r"{r}\%", r"x \ne {r}", r"x \ge {r}",
    r"{r} \le x \le {w}", r"x \in \{{{r}, {w}\}}", r"x \in \{{{r}\}}", r"{r} \pm 1", r"{r} \pm 0", r"\pm {r}",
    r"{r} \text{ (not } {w})", r"\text{{{r} or {w}}}", r"{r}\text{ or }{w}\text{ cm}", r"{r}, \text{ or } {w}",
    r"{r}; {w}", r"{r} \quad {w}", r"{r} \\ {w}", r"{r} \text{and} {w}", r"{r}~{w}", r"{r}\,{w}", r"{r}\ {w}", "{r} {w}",
    r"{r}\;\text{or}\;{w}", r"{r} / {w} \cdot {w}", r"{r} + (x - x)", r"{r}\cdot\frac{{a}}{{a}}", "{r} + 0k",
    r"{r}^{{1}}_{{{w}}}", r"{r}_{{{w}}}", r"{{{r}}}_{{{w}}}", r"{r}'", r"{r}!", r"\overline{{{r}}}", r"\hat{{{r}}}", r"\vec{{{r}}}",
    r"{r} \text{ if } n \text{ even else } {w}", r"{r} \text{ (approximately)}", r"{r} \approx {w}", r"{w} \approx {r}",
    r"{r} \neq {w}", r"{r} \to {w}", r"{w} \to {r}", r"{w} \Rightarrow {r}", r"{r} \Rightarrow {w}", r"{w} \implies {r}",
    r"\text{not } {r}", r"-(-{r})", r"\neg {r}", r"{r} \cdot \mathbb{1}", r"{r} \text{ and also } {w}", r"{r} \& {w}",
    r"{r} | {w}", r"{r} \vee {w}", r"{r} \lor {w}", r"{r} \wedge {w}", r"\{{{r}\}} \cup \{{{w}\}}", r"{r} \cup {w}",
    r"{r} \mid {w}", r"{r}:{w}", r"{r} \colon {w}", r"\left. {r} \right|_{{x={w}}}", r"{r}|_{{x={w}}}", r"\boxed{{{r}}} {w}",
    r"{r} \text{ or } {w} \text{ apples}", r"{r} \ \text{or}\  {w}", r"\begin{{cases}} {r} \\ {w} \end{{cases}}",
    r"\begin{{array}}{{c}} {r} \\ {w} \end{{array}}", r"\begin{{aligned}} {r} \\ {w} \end{{aligned}}", r"{r} \\\\ {w}",
    r"{r} \text{ } {w}", r"\substack{{{r} \\ {w}}}", r"\sqrt[{r}]{{1}}", r"\frac{{{r}}}{{}}", r"\frac{{{r}}}{{1}}{w}",
    r"{r}\sqrt{{}}", r"{r}^{{}}", r"{r}\ldots", r"{r}, \ldots", r"{r}, {w}, \ldots", r"{r} \cdots", r"\ldots, {r}",
    r"{r}e0", r"{r}\times 10^{{0}}", r"{r}\mathrm{{e}}0", r"{r}\%\text{ or }{w}", r"{r} (\text{mod } {w})", r"{r} \equiv {w}",
    r"{w} \equiv {r}", r"\{{{r}\}}", r"({r})", r"[{r}]", r"|{r}|", r"\lfloor {r} \rfloor", r"\lceil {r} \rceil",
    ]
WRONG = "7"


def cases(refs: list[str]) -> list[tuple[str, str, str]]:
    """(completion, reference, template) for every reference."""
    out = []
    for ref in refs:
        out += [("\\boxed{" + u + "}", ref, "universal") for u in UNIVERSAL]
        for t in TEMPL:
            a = (t.replace("{r}", "\x00").replace("{w}", "\x01").replace("{{", "{").replace("}}", "}")
                 .replace("\x00", ref).replace("\x01", WRONG))
            out.append(("\\boxed{" + a + "}", ref, t))
    return out


def _score(args: tuple[str, str]) -> tuple[bool, str, float]:
    from verifiers.math.verifier import MathVerifier

    start = time.perf_counter()
    s = MathVerifier()(*args)
    return s.passed, s.reason, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    refs = REFS[:10] if ap.parse_args().quick else REFS
    todo = cases(refs)
    ctx = multiprocessing.get_context("fork")
    pool, passed, slow, by_template = ctx.Pool(1), 0, 0, Counter()
    t0 = time.perf_counter()
    for completion, ref, template in todo:
        job = pool.apply_async(_score, ((completion, ref),))
        try:
            ok, reason, dt = job.get(10)
        except multiprocessing.TimeoutError:
            pool.terminate()
            pool = ctx.Pool(1)
            ok, reason, dt = False, "TIMEOUT", 10.0
        if dt > 2:
            slow += 1
            print(f"SLOW {dt:5.1f}s ref={ref!r} completion={completion!r} ({reason})")
        if ok:
            passed += 1
            by_template[template] += 1
            print(f"PASS ref={ref!r} completion={completion!r}")
    pool.terminate()
    print(f"\n{len(todo)} cases against {len(refs)} references in {time.perf_counter() - t0:.0f} s: "
          f"{passed} passed (triage them), {slow} slower than 2 s")
    print("passes by template:", ", ".join(f"{t!r} {n}" for t, n in by_template.most_common(15)))


if __name__ == "__main__":
    main()
