"""The docs hold together: every relative link and image in README.md, CONTRIBUTING.md and docs/*.md
points at a file that exists and, with a #anchor, at a heading the target page has (GitHub's slug);
the README stays within the 250 lines it promises; every docs page opens with a paragraph saying
what it covers, and the index lists every page."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
CHECKED = [REPO / "README.md", REPO / "CONTRIBUTING.md", *PAGES]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)((?:[^`\n]|\n(?!\s*\n))+?)\1")  # within one paragraph
# [text](target) or ![alt](target), an optional "title" after the target; one level of [] in the text
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = ("http://", "https://", "mailto:")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines outside fenced code blocks, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def links(path: Path) -> list[tuple[int, str]]:
    """Every link and image target in prose, with its line; code is not prose, and a link's text may
    run over a line break."""
    prose = dict(prose_lines(path))
    text = "\n".join(prose.get(number, "") for number in range(1, max(prose, default=0) + 1))
    # a code span keeps its line breaks, so the lines after it keep their numbers
    text = CODE_SPAN.sub(lambda span: "code" + "\n" * span.group(0).count("\n"), text)
    return [(text.count("\n", 0, match.start()) + 1, match.group(1)) for match in LINK.finditer(text)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text of its links, lowercased, punctuation other than - and _
    dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the file's headings, a repeated one numbered -1, -2 … as GitHub does."""
    counts: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(f"{base}-{counts[base]}" if base in counts else base)
            counts[base] = counts.get(base, 0) + 1
    return found


def broken(path: Path, repo: Path = REPO) -> list[str]:
    """What is wrong with each relative link of ``path``, as 'file:line: target: why'."""
    problems = []
    for number, target in links(path):
        if target.startswith(EXTERNAL):
            continue
        where = f"{path.relative_to(repo)}:{number}: {target}"
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if destination != repo and repo not in destination.parents:
            problems.append(f"{where}: points outside the repository")
        elif not destination.exists():
            problems.append(f"{where}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{where}: {destination.relative_to(repo)} has no heading with the anchor #{anchor}")
    return problems


def test_every_relative_link_resolves():
    problems = [problem for path in CHECKED for problem in broken(path)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_check_reads_the_links_it_should():
    # a parser that finds nothing would pass the test above vacuously
    relative = [(path, target) for path in CHECKED for _, target in links(path) if not target.startswith(EXTERNAL)]
    assert len(relative) >= 150, len(relative)
    assert sum("#" in target for _, target in relative) >= 50
    assert sum(target.endswith(".png") for _, target in relative) >= 14  # every screenshot and the chart
    assert all(any(p == path for p, _ in relative) for path in CHECKED), "a page without a single relative link"


def test_slugs_are_githubs():
    assert slug("The contract: OpenAPI, docs pages, schemathesis") == "the-contract-openapi-docs-pages-schemathesis"
    assert slug("Without a registry: `make images`") == "without-a-registry-make-images"
    assert slug("Consul 1.16.3, built from the Go module proxy") == "consul-1163-built-from-the-go-module-proxy"
    assert slug("What cluster.yml runs") == "what-clusteryml-runs"
    assert slug("snake_case and [a link](x.md)") == "snake_case-and-a-link"


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    (tmp_path / "README.md").write_text("# Top\n\nSee [the page](docs/page.md#a-section) and [gone](docs/gone.md).\n")
    page.write_text("# Page\n\nA paragraph.\n\n## A section\n\n[no such heading](../README.md#nowhere)\n"
                    "```\n[in code](ignored.md)\n```\n`[in a code span](ignored.md)` and [up](../../x.md)\n"
                    "[a link over\ntwo lines](../missing.md)\n")
    problems = broken(tmp_path / "README.md", tmp_path) + broken(page, tmp_path)
    assert [p.split(": ", 1)[0] for p in problems] == \
        ["README.md:3", "docs/page.md:7", "docs/page.md:11", "docs/page.md:12"], problems
    assert "no such file" in problems[0] and "#nowhere" in problems[1] and "outside" in problems[2]


def test_the_readme_stays_short():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the reference belongs in docs/"


def test_every_docs_page_opens_with_a_paragraph():
    for path in PAGES:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert lines[0].startswith("# "), f"{path.name} does not start with its # title"
        first = lines[1]
        assert not re.match(r"(#|\||[-*+] |\d+\. |```|~~~|!\[|>)", first), \
            f"{path.name}: after its title comes {first!r}, not a paragraph saying what the page covers"


def test_the_index_lists_every_page():
    pages_table, section = [], None
    for _, line in prose_lines(DOCS / "README.md"):
        section = line if line.startswith("## ") else section
        if section == "## The pages":
            pages_table += [target for target in LINK.findall(CODE_SPAN.sub("code", line))]
    missing = [path.name for path in PAGES if path.name != "README.md" and path.name not in pages_table]
    assert pages_table and not missing, f"docs/README.md's table of pages does not list {missing}"
