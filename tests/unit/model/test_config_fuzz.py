"""Whatever a user feeds `blackfish validate`, it answers with a result or a clear error,
never a traceback: random YAML documents and random mutations of the example stack."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blackfish.cli import cli
from blackfish.cli.errors import run
from tests.conftest import EXAMPLE

EXAMPLE_DOC = yaml.safe_load(EXAMPLE.read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["192.168.56.7", "10.0.0.1/8", "::1", "vagrant", "-1", "0600"]),
)
# Mostly strings, sometimes what YAML writes as a bare number, boolean or null key.
keys = st.one_of(st.text(max_size=12), st.text(max_size=12), st.integers(-5, 5), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def _validate(text: str, tmp_path) -> tuple[int, str]:
    path = tmp_path / "nodes.yml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(cli, ["validate", "-f", str(path)], debug=False)
    return code, err.getvalue()


def _assert_clean(code: int, err: str) -> None:
    assert code in (0, 2), err
    assert "internal error" not in err and "Traceback" not in err, err
    if code == 2:
        assert err.strip(), "a failure must say why"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=values)
def test_random_documents_never_crash(doc, tmp_path):
    _assert_clean(*_validate(yaml.safe_dump(doc, sort_keys=False), tmp_path))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("stack: nodes-[]{}#&*!|>'\"\n\t 0123456789abc.,:")), max_size=120))
def test_random_text_never_crashes(text, tmp_path):
    _assert_clean(*_validate(text, tmp_path))


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _paths(value, prefix + (i,))


EXAMPLE_PATHS = [p for p in _paths(EXAMPLE_DOC) if p]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(st.sampled_from(EXAMPLE_PATHS), values), min_size=1, max_size=3))
def test_mutations_of_the_example_never_crash(mutations, tmp_path):
    import copy

    doc = copy.deepcopy(EXAMPLE_DOC)
    for path, value in mutations:
        target = doc
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    _assert_clean(*_validate(yaml.safe_dump(doc, sort_keys=False), tmp_path))
