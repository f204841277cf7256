"""Many nodes' user-data render in forked children (render/parallel.py); what a user sees must
not change: the same bytes, in the same order, and a template's error raised as a serial
render raises it."""

from __future__ import annotations

import functools
import os

import pytest

from blackfish.errors import UsageError
from blackfish.render import parallel, render_stack
from tests.support.rendered import render_yaml

JOBS = 4 * parallel.MIN_SHARE


def whose(i: int) -> tuple[int, int]:
    return i, os.getpid()


def fails_at(bad: int, i: int) -> int:
    if i == bad:
        raise ValueError(f"job {i} failed")
    return i


def child_dies_at(bad: int, parent: int, i: int) -> int:
    if i == bad and os.getpid() != parent:
        os._exit(7)
    return i


@pytest.fixture(autouse=True)
def two_cores():
    if parallel.usable_cores() < 2:
        pytest.skip("this machine gives the process one core: nothing to share the work with")


def test_many_jobs_run_in_several_processes_and_come_back_in_order():
    results = parallel.run_all([functools.partial(whose, i) for i in range(JOBS)])
    assert [i for i, _ in results] == list(range(JOBS))
    pids = {pid for _, pid in results}
    assert os.getpid() in pids and len(pids) >= 2


def test_few_jobs_stay_in_this_process():
    results = parallel.run_all([functools.partial(whose, i) for i in range(parallel.MIN_SHARE)])
    assert {pid for _, pid in results} == {os.getpid()}


def test_a_job_that_fails_in_a_child_raises_here_as_it_would_serially():
    with pytest.raises(ValueError, match=f"job {JOBS - 1} failed"):
        parallel.run_all([functools.partial(fails_at, JOBS - 1, i) for i in range(JOBS)])


def test_a_child_that_dies_has_its_share_run_here():
    jobs = [functools.partial(child_dies_at, JOBS - 1, os.getpid(), i) for i in range(JOBS)]
    assert parallel.run_all(jobs) == list(range(JOBS))


def big_stack(count: int) -> str:
    lines = "\n".join(f"      - ip: 10.242.{1 + i // 200}.{10 + i % 200}" for i in range(count))
    return f"""
    stack: big
    provider: docker
    admin-network: 10.242.0.0/16
    nodes:
{lines}
"""


def test_a_big_stack_renders_the_same_bytes_in_parallel_as_serially(tmp_path, monkeypatch):
    stack, state, nodes = render_yaml(big_stack(JOBS), tmp_path)
    in_parallel = [n.path.read_bytes() for n in nodes]
    for n in nodes:
        n.path.unlink()
    monkeypatch.setattr(parallel, "MIN_SHARE", 10 * JOBS)  # one process
    serially = [n.path.read_bytes() for n in render_stack(stack, state)]
    assert in_parallel == serially
    assert all(n.node.name.encode() in data for n, data in zip(nodes, in_parallel))


def test_a_template_error_in_a_childs_share_names_its_node(tmp_path):
    templates = tmp_path / "mine"
    (templates / "files").mkdir(parents=True)
    last_ip = f"10.242.{1 + (JOBS - 1) // 200}.{10 + (JOBS - 1) % 200}"
    (templates / "files/hosts.j2").write_text(f"{{% if node.ip == '{last_ip}' %}}{{{{ node.nickname }}}}{{% endif %}}ok\n")
    with pytest.raises(UsageError, match=r"files/hosts\.j2:1: rendering the user-data of big-\d+: .*'nickname'"):
        render_yaml(big_stack(JOBS), tmp_path, templates=templates)
