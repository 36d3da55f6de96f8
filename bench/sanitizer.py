#!/usr/bin/env python3
"""Sanitiser benchmark: bleach vs nh3 on chat-sized message bodies.

Each pipeline turns a plain-text body into the `html` field of a `message` frame
(PROTOCOL.md §4: escaped, links clickable, allow-list sanitised):

* bleach:         bleach.linkify(html.escape(body)) -> bleach.clean(allow-list)  (module functions)
* bleach-reused:  the same with one module-level Linker and Cleaner, links kept with
                  rel="nofollow noopener" target="_blank" (what the protocol asks for)
* nh3:            html.escape -> URL regex linkify -> one module-level nh3.Cleaner
* server:         server.security.sanitizer.render_html, when importable (the real thing)

It prints the median µs per body over several runs and checks every output is safe.

    python bench/sanitizer.py [--bodies 300] [--runs 7] [--json | --markdown]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import bleach
import nh3
from bleach.linkifier import Linker
from bleach.sanitizer import Cleaner

ALLOWED_TAGS = frozenset({"a", "b", "i", "code", "pre", "br"})
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"

# --------------------------------------------------------------------------- pipelines


def bleach_functions(body: str) -> str:
    """As most code writes it: a new linker and cleaner per call, `a href` only."""
    linked = bleach.linkify(html.escape(body))
    return bleach.clean(
        linked, tags=ALLOWED_TAGS, attributes={"a": ["href"]}, protocols=ALLOWED_SCHEMES
    )


LinkAttrs = dict[tuple[str | None, str], str]


def _link_attrs(attrs: LinkAttrs, new: bool = False) -> LinkAttrs:
    attrs[(None, "rel")] = LINK_REL
    attrs[(None, "target")] = "_blank"
    return attrs


_BLEACH_LINKER = Linker(callbacks=[_link_attrs])
_BLEACH_CLEANER = Cleaner(
    tags=ALLOWED_TAGS,
    attributes={"a": ["href", "rel", "target"]},
    protocols=ALLOWED_SCHEMES,
)


def bleach_reused(body: str) -> str:
    return _BLEACH_CLEANER.clean(_BLEACH_LINKER.linkify(html.escape(body)))


# nh3 refuses "rel" in `attributes` while link_rel is set (ValueError), so rel comes from
# link_rel and target from set_tag_attribute_values.
_NH3_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={"a": {"href"}},
    url_schemes=set(ALLOWED_SCHEMES),
    link_rel=LINK_REL,
    set_tag_attribute_values={"a": {"target": "_blank"}},
)
# Runs on escaped text: stop at whitespace and at the escaped forms of < > " '.
_URL = re.compile(r"(?:https?://|mailto:)(?:(?!&lt;|&gt;|&quot;|&#x27;)[^\s<>\"'])+", re.I)
_TRAILING = ".,;:!?)"


def _link(match: re.Match[str]) -> str:
    url = match.group(0)
    stripped = url.rstrip(_TRAILING)
    return f'<a href="{stripped}">{stripped}</a>{url[len(stripped) :]}'


def nh3_pipeline(body: str) -> str:
    return _NH3_CLEANER.clean(_URL.sub(_link, html.escape(body)))


def server_pipeline() -> Callable[[str], str] | None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        from server.security.sanitizer import render_html
    except Exception:  # the server is optional here; any import problem just skips the row
        return None
    return render_html


# --------------------------------------------------------------------------- corpus

WORDS = tuple(
    [
        "hello",
        "order",
        "delivery",
        "refund",
        "please",
        "thanks",
        "account",
        "password",
        "invoice",
        "shipping",
        "tracking",
        "number",
        "yesterday",
        "today",
        "problem",
        "broken",
        "help",
        "support",
        "item",
        "size",
        "colour",
        "return",
        "exchange",
        "the",
        "a",
        "my",
        "your",
        "is",
        "not",
        "working",
        "when",
        "can",
        "I",
        "you",
        "we",
        "it",
    ]
)
URLS = (
    "https://example.com",
    "https://shop.example.com/orders/12345?ref=mail&utm_source=x",
    "http://docs.example.org/guide#returns",
    "https://en.wikipedia.org/wiki/Parcel_(package)",
    "mailto:help@example.com",
    "https://example.com/path/with/a/very/long/segment/and-more?x=1&y=2&z=3",
)
HOSTILE = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    '<a href="javascript:alert(1)">click me</a>',
    "javascript:alert(1)",
    "<svg/onload=alert(1)>",
    '"><script>alert(1)</script>',
    "<iframe src=https://evil.example></iframe>",
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    "<b onmouseover=alert(1)>bold</b>",
    'https://example.com/"onmouseover="alert(1)',
    '<a href="data:text/html,<script>alert(1)</script>">d</a>',
    "&lt;script&gt; &#x3C;script&#x3E; %3Cscript%3E",
)


def _words(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < chars:
        out.append(rng.choice(WORDS))
    return " ".join(out)


def make_corpus(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(category, body) with bodies of 20-400 characters, a third of each category."""
    rng = random.Random(seed)
    corpus: list[tuple[str, str]] = []
    for i in range(count):
        kind = ("plain", "links", "hostile")[i % 3]
        size = rng.randint(20, 400)
        if kind == "plain":
            body = _words(rng, size)
        else:
            inserts = [
                rng.choice(URLS if kind == "links" else HOSTILE) for _ in range(rng.randint(1, 3))
            ]
            room = max(0, size - sum(len(s) + 2 for s in inserts))
            parts = [_words(rng, room // (len(inserts) + 1)) for _ in range(len(inserts) + 1)]
            body = parts[0]
            for ins, text in zip(inserts, parts[1:], strict=True):
                body += f" {ins} {text}"
        corpus.append((kind, body.strip()[:400]))
    return corpus


# --------------------------------------------------------------------------- safety


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"attribute {name}")
            if name in ("href", "src"):
                scheme = re.sub(r"[\s\x00-\x1f]", "", value or "").split(":", 1)
                if len(scheme) == 2 and scheme[0].lower() not in ALLOWED_SCHEMES:
                    self.problems.append(f"{name} scheme {scheme[0]!r}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def audit(output: str) -> list[str]:
    """Why `output` would be unsafe as HTML (empty when safe).

    Escaped text like `&lt;img onerror=...&gt;` is inert and allowed; what must not
    appear is a real tag or attribute.
    """
    parser = _Audit()
    parser.feed(output)
    parser.close()
    problems = parser.problems
    if re.search(r"<\s*script", output, re.I):
        problems.append("<script")
    return problems


def visible_text(output: str) -> str:
    parser = _Audit()
    parser.feed(output)
    parser.close()
    return "".join(parser.text)


# --------------------------------------------------------------------------- timing


@dataclass
class Row:
    name: str
    us_per_body: float
    by_category: dict[str, float]
    unsafe: int
    text_changed: int
    example: str


Pipeline = tuple[str, Callable[[str], str]]


def time_interleaved(pipelines: list[Pipeline], bodies: list[str], runs: int) -> dict[str, float]:
    """Median over `runs` of the mean CPU µs per body, for each pipeline.

    CPU time of this process, not wall time: on a shared machine the wall clock also
    counts the time we were descheduled, which has nothing to do with the sanitiser.

    Pipelines take turns within each run, so a noisy neighbour on the machine slows
    them all alike instead of one of them.
    """
    samples: dict[str, list[float]] = {name: [] for name, _ in pipelines}
    for _, fn in pipelines:  # warm-up (imports, regex and parser caches)
        for body in bodies:
            fn(body)
    for _ in range(runs):
        for name, fn in pipelines:
            start = time.process_time_ns()
            for body in bodies:
                fn(body)
            samples[name].append((time.process_time_ns() - start) / len(bodies) / 1000)
    return {name: round(statistics.median(v), 2) for name, v in samples.items()}


def run(bodies: int, runs: int) -> tuple[list[Row], list[tuple[str, str]]]:
    corpus = make_corpus(bodies)
    pipelines: list[Pipeline] = [
        ("bleach", bleach_functions),
        ("bleach-reused", bleach_reused),
        ("nh3", nh3_pipeline),
    ]
    server = server_pipeline()
    if server is not None:
        pipelines.append(("server render_html", server))
    total = time_interleaved(pipelines, [b for _, b in corpus], runs)
    by_cat = {
        cat: time_interleaved(pipelines, [b for c, b in corpus if c == cat], runs)
        for cat in ("plain", "links", "hostile")
    }
    rows = []
    for name, fn in pipelines:
        outputs = [fn(body) for _, body in corpus]
        pairs = list(zip(corpus, outputs, strict=True))
        rows.append(
            Row(
                name=name,
                us_per_body=total[name],
                by_category={cat: by_cat[cat][name] for cat in by_cat},
                unsafe=sum(1 for out in outputs if audit(out)),
                text_changed=sum(1 for (_, body), out in pairs if visible_text(out) != body),
                example=next(out for (c, _), out in pairs if c == "hostile"),
            )
        )
    return rows, corpus


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {
        "python": sys.version.split()[0],
        "bleach": version("bleach"),
        "nh3": version("nh3"),
    }


def machine() -> str:
    """CPU model, core count and load: the figures are only as quiet as the machine was."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]
    return f"{model}, {os.cpu_count()} cores, load average {load:.1f}"


def describe() -> str:
    v = versions()
    return f"Python {v['python']}, bleach {v['bleach']}, nh3 {v['nh3']}; {machine()}"


def report(rows: list[Row], corpus: list[tuple[str, str]], runs: int) -> str:
    nh3_us = next(r.us_per_body for r in rows if r.name == "nh3")
    lengths = [len(b) for _, b in corpus]
    lines = [
        f"{len(corpus)} bodies ({min(lengths)}-{max(lengths)} chars, "
        f"mean {statistics.mean(lengths):.0f}; plain / 1-3 links / hostile markup), "
        f"CPU µs per body, median of {runs} runs; {describe()}",
        f"{'pipeline':<20}{'µs/body':>9}{'plain':>9}{'links':>9}{'hostile':>9}"
        f"{'vs nh3':>9}{'unsafe':>8}{'text≠body':>11}",
    ]
    for r in rows:
        c = r.by_category
        lines.append(
            f"{r.name:<20}{r.us_per_body:>9.1f}{c['plain']:>9.1f}{c['links']:>9.1f}"
            f"{c['hostile']:>9.1f}{r.us_per_body / nh3_us:>8.1f}x{r.unsafe:>8}{r.text_changed:>11}"
        )
    return "\n".join(lines)


def markdown(rows: list[Row], corpus: list[tuple[str, str]], runs: int, argv: list[str]) -> str:
    nh3_us = next(r.us_per_body for r in rows if r.name == "nh3")
    out = [
        "## Sanitiser",
        "",
        f"`python bench/sanitizer.py {' '.join(argv)}`".replace("  ", " ").replace(" `", "`"),
        "",
        f"{len(corpus)} chat bodies of 20-400 characters (a third plain text, a third with 1-3 "
        f"URLs, a third with hostile markup); CPU µs per body, median of {runs} runs; "
        f"{describe()}.",
        "",
        "| pipeline | µs/body | plain | links | hostile | vs nh3 | unsafe | text≠body |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = r.by_category
        out.append(
            f"| {r.name} | {r.us_per_body:.1f} | {c['plain']:.1f} | {c['links']:.1f} | "
            f"{c['hostile']:.1f} | {r.us_per_body / nh3_us:.1f} | {r.unsafe} | {r.text_changed} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bodies", type=int, default=300)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--markdown", action="store_true", help="the docs/benchmarks.md section")
    p.add_argument("--show", action="store_true", help="print one hostile output per pipeline")
    args = p.parse_args(argv)
    rows, corpus = run(args.bodies, args.runs)
    if args.json:
        print(
            json.dumps(
                {"versions": versions(), "runs": args.runs, "rows": [r.__dict__ for r in rows]}
            )
        )
    elif args.markdown:
        print(markdown(rows, corpus, args.runs, argv))
    else:
        print(report(rows, corpus, args.runs))
    if args.show:
        for r in rows:
            print(f"--- {r.name}: {r.example}", file=sys.stderr)
    return 1 if any(r.unsafe for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
