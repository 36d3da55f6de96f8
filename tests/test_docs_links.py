"""The docs' links resolve (issue #12, item 8).

Every relative link in README.md and docs/*.md points to a file of the repository and,
with a `#fragment`, to a heading (or an explicit `<a id>`/`<a name>`) of that file, with
fragments made as GitHub makes them. README.md, the newcomer's first page, also names
no Markdown file that is not in the repository (it once sent readers to PROTOCOL.md,
which lives only in the shared design folder).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

# [text](target) and [text](target "title"); images too. Reference definitions: [x]: target
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
_HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=[\"']([^\"']+)[\"']", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_MD_NAME = re.compile(r"(?<![\w./-])([\w./-]*[\w-]\.md)(?![\w])")


def _doc_files() -> list[Path]:
    return [README, *sorted((REPO / "docs").glob("*.md"))]


def _without_code(text: str) -> str:
    """The text with fenced blocks and code spans blanked (links there are not links)."""
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)


def links_in(text: str) -> list[str]:
    prose = _without_code(text)
    return [m.group(1) for m in _INLINE_LINK.finditer(prose)] + [
        m.group(1) for m in _REFERENCE_DEF.finditer(prose)
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: rendered text, lower case, punctuation dropped
    (but `-` and `_`), spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # emphasis, not snake_case
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors_of(text: str) -> set[str]:
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for match in _HEADING.finditer(_FENCE.sub(lambda m: "", text)):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")
    anchors.update(_HTML_ANCHOR.findall(text))
    return anchors


def broken_links(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    broken = []
    for target in links_in(text):
        if _SCHEME.match(target) or target.startswith("//"):
            continue  # http(s), mailto: not ours to check offline
        path_part, _, fragment = target.partition("#")
        path_part = path_part.split("?", 1)[0]
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        where = f"{doc.relative_to(REPO) if doc.is_relative_to(REPO) else doc}: ({target})"
        if not resolved.exists():
            broken.append(f"{where}: no such file {path_part}")
        elif fragment and resolved.suffix == ".md":
            if fragment not in anchors_of(resolved.read_text(encoding="utf-8")):
                broken.append(f"{where}: no heading #{fragment} in {path_part or doc.name}")
        elif fragment and resolved.is_dir():
            broken.append(f"{where}: a #fragment on a directory")
    return broken


def test_there_are_docs_and_links_to_check() -> None:
    docs = _doc_files()
    assert README.exists() and len(docs) > 5, docs
    assert sum(len(links_in(d.read_text(encoding="utf-8"))) for d in docs) > 10


@pytest.mark.parametrize("doc", _doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = broken_links(doc)
    assert not broken, "\n".join(broken)


def test_readme_names_only_markdown_files_of_the_repository() -> None:
    # Fenced blocks left out: the source tree there names files by their directory.
    text = _FENCE.sub("", README.read_text(encoding="utf-8"))
    # Named as a path from the repository's root (README.md's own directory).
    missing = sorted({name for name in _MD_NAME.findall(text) if not (REPO / name).is_file()})
    assert not missing, f"README.md names files that are not in the repository: {missing}"


def test_the_checker_finds_what_it_should(tmp_path: Path) -> None:
    # The tests above pass trivially if the parsing misses links; prove it on known text.
    (tmp_path / "other.md").write_text(
        '# Title\n## 4. Config `beyond` the contract\n## Same\n## Same\n<a id="custom"></a>\n',
        encoding="utf-8",
    )
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Here\n"
        "[ok](other.md) [ok](other.md#title) [ok](other.md#4-config-beyond-the-contract)\n"
        "[ok](other.md#same-1) [ok](other.md#custom) [ok](#here) [ok](https://x.invalid/y)\n"
        '[ok](other.md "a title")\n'
        "`[not a link](nowhere.md)`\n"
        "```\n[not a link](nowhere.md)\n```\n"
        "[bad](missing.md) [bad](other.md#nope) [bad](#there)\n"
        "[ref]: gone.md\n",
        encoding="utf-8",
    )
    found = broken_links(doc)
    assert len(found) == 4, found
    assert all(
        any(bad in line for line in found) for bad in ("missing.md", "#nope", "#there", "gone.md")
    ), found
