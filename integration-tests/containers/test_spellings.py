"""An intention's deny holds however the path is spelled, in containers (spellings.py): each denied
path and its spellings, sent from inside the source's app container through its own sidecar, are
refused by the destination's sidecar (403, 400) or its app (400), never answered 2xx."""

import pytest

import spellings
from compose_stack import container


@pytest.mark.parametrize("source, destination, method, denied, reads_as", spellings.DENIED)
def test_no_spelling_of_a_denied_path_gets_through_the_mesh(stack, source, destination, method, denied, reads_as):
    plain, rows = spellings.through_the_mesh(container(source), source, destination, method,
                                             denied.format(rid="spelled-1"))
    assert plain[2] == 403 and "RBAC" in plain[3], plain
    failed = spellings.failures(rows, reads_as)
    assert not failed, spellings.table(failed)


def test_the_allowed_calls_still_go_through(stack):
    plain, _ = spellings.through_the_mesh(container("frontend"), "frontend", "products", "GET", "/products", spell=False)
    assert plain[2] == 200, plain
    plain, _ = spellings.through_the_mesh(container("orders"), "orders", "users", "GET", "/api/users/1", spell=False)
    assert plain[2] in (200, 404) and "RBAC" not in plain[3], plain
