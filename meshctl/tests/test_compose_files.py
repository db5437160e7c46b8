"""The Compose files keep to what Compose 2.40 (compose-go 2.9) merges the same way every time.

cluster.yml takes every service from services.yml with `extends` and states what differs, some of
it with `!reset` / `!override`. That Compose drops a tag reached through a YAML alias (the anchor's
node loses it at its first visit), and applies the tags of a service that another service in the
same file extends only when map order happens to resolve that one first. Either way
`docker compose config` gives another model than the file says, the second only on some runs.
"""

import pytest
import yaml

from meshctl.tests.conftest import REPO

TAGS = ("!reset", "!override")


def children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def tags(node: yaml.Node) -> list[int]:
    """The lines where ``node`` or anything below it carries !reset or !override."""
    return [node.start_mark.line + 1] * (node.tag in TAGS) + [line for c in children(node) for line in tags(c)]


def aliased_tags(text: str) -> list[int]:
    """Lines of tags inside a node that aliases reach (an anchored mapping or sequence)."""
    reached: dict[int, int] = {}
    aliased = []

    def walk(node: yaml.Node) -> None:
        reached[id(node)] = reached.get(id(node), 0) + 1
        if reached[id(node)] == 2 and children(node):
            aliased.append(node)
        if reached[id(node)] == 1:
            for child in children(node):
                walk(child)
    walk(yaml.compose(text))
    return sorted(line for node in aliased for line in tags(node))


def tagged_bases(text: str) -> dict[str, list[int]]:
    """{service: lines of its tags} for each service that another service in the file extends."""
    def fields(node: yaml.MappingNode) -> dict[str, yaml.Node]:
        own = {key.value: value for key, value in node.value}
        merged = own.pop("<<", None)  # a fragment merged in may bring the `extends`
        return (fields(merged) if isinstance(merged, yaml.MappingNode) else {}) | own

    services = fields(fields(yaml.compose(text))["services"])
    bases = set()
    for service in services.values():
        extends = fields(service).get("extends")
        if isinstance(extends, yaml.ScalarNode):
            bases.add(extends.value)
        elif isinstance(extends, yaml.MappingNode) and "file" not in fields(extends):
            bases.add(fields(extends)["service"].value)
    return {base: tags(services[base]) for base in sorted(bases) if tags(services[base])}


@pytest.mark.parametrize("name", ["services.yml", "cluster.yml", "dc2.yml"])
def test_the_compose_files_keep_their_tags_where_compose_applies_them(name):
    text = (REPO / name).read_text()
    assert aliased_tags(text) == [], f"{name}: a tag inside an anchor reaches no alias of it"
    assert tagged_bases(text) == {}, f"{name}: a service extended in its own file carries a tag"


def test_both_mistakes_are_seen():
    text = """
x-agent: &agent
  image: a
  ports: !reset []
services:
  one: { <<: *agent }
  two: { extends: { service: one }, build: !reset null }
  three: { extends: two }
  four: { extends: { file: services.yml, service: users }, ports: !reset [] }
"""
    assert aliased_tags(text) == [4]
    assert tagged_bases(text) == {"one": [4], "two": [7]}
