"""A flame graph of collapsed stacks (``frame;frame;… count``) as one SVG file: each frame a box as
wide as the samples under it, its callers below it, hovering a box shows its name, samples and share.
Boxes narrower than ``MIN_WIDTH`` pixels are left out (their samples still widen their callers)."""

import zlib
from collections import Counter
from html import escape
from pathlib import Path

WIDTH, ROW, MIN_WIDTH, FONT = 1200, 16, 0.5, 11


class _Node:
    __slots__ = ("children", "samples")

    def __init__(self):
        self.samples = 0
        self.children: dict[str, "_Node"] = {}


def _tree(stacks: Counter) -> _Node:
    root = _Node()
    for stack, n in stacks.items():
        node = root
        node.samples += n
        for frame in stack.split(";"):
            node = node.children.setdefault(frame, _Node())
            node.samples += n
    return root


def _depth(node: _Node) -> int:
    return 1 + max((_depth(child) for child in node.children.values()), default=0)


def _colour(frame: str) -> str:
    """Warm colours, the same for the same function everywhere in the graph."""
    h = zlib.crc32(frame.split(" (")[0].encode())
    return f"rgb({205 + h % 50},{80 + (h >> 8) % 120},{30 + (h >> 16) % 50})"


def write(stacks: Counter, path: Path, title: str) -> None:
    root = _tree(stacks)
    total = root.samples or 1
    height = (_depth(root) + 2) * ROW
    scale = WIDTH / total
    boxes: list[str] = []

    def draw(name: str, node: _Node, x: float, level: int) -> None:
        width = node.samples * scale
        if width < MIN_WIDTH:
            return
        y = height - (level + 1) * ROW
        label = escape(name)
        tip = f"{label}: {node.samples} samples, {100 * node.samples / total:.1f}%"
        text = ""
        chars = int(width / (FONT * 0.6))
        if chars >= 4:
            shown = name if len(name) <= chars else name[:chars - 2] + ".."
            text = f'<text x="{x + 3:.1f}" y="{y + ROW - 4}">{escape(shown)}</text>'
        boxes.append(f'<g><title>{tip}</title><rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 1}" '
                     f'fill="{_colour(name)}"/>{text}</g>')
        offset = x
        for child_name, child in sorted(node.children.items()):
            draw(child_name, child, offset, level + 1)
            offset += child.samples * scale

    draw(f"all ({root.samples} samples)", root, 0.0, 0)
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="monospace" '
        f'font-size="{FONT}">\n<rect width="100%" height="100%" fill="#fafafa"/>\n'
        f'<text x="4" y="{ROW - 3}" font-size="{FONT + 2}">{escape(title)}</text>\n' + "\n".join(boxes) + "\n</svg>\n")
