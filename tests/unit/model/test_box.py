"""`blackfish box images`: the images a box pre-pulls, and the file packer/ reads them from."""

from __future__ import annotations

import json

from blackfish.model import box
from blackfish.model.images import PINNED
from tests.conftest import EXAMPLE, REPO, assert_no_traceback, blackfish


def test_box_images_prints_one_pinned_image_a_line():
    result = blackfish("box", "images")
    assert result.returncode == 0, result.err
    assert result.out.splitlines() == list(dict.fromkeys(PINNED.values()))


def test_box_images_json_maps_each_service_to_its_image():
    result = blackfish("box", "images", "--format", "json")
    assert result.returncode == 0, result.err
    assert json.loads(result.out) == PINNED


def test_shipped_packer_image_list_is_generated_from_the_pins():
    shipped = (REPO / box.PACKER_IMAGES_FILE).read_text()
    generated = blackfish("box", "images", "--format", "json").out
    assert shipped == generated, (
        f"{box.PACKER_IMAGES_FILE} is out of date with blackfish/model/images.py PINNED; regenerate it with\n"
        f"  blackfish box images --format json > {box.PACKER_IMAGES_FILE}"
    )


def test_box_images_applies_a_stacks_image_overrides(tmp_path):
    nodes = tmp_path / "nodes.yml"
    nodes.write_text(EXAMPLE.read_text() + "images:\n  consul: registry.example/consul:9.9.9\n")

    result = blackfish("box", "images", "-f", str(nodes), "--format", "json")

    assert result.returncode == 0, result.err
    assert json.loads(result.out) == {**PINNED, "consul": "registry.example/consul:9.9.9"}


def test_box_images_rejects_an_unknown_format():
    result = blackfish("box", "images", "--format", "yaml")
    assert result.returncode == 2
    assert "'yaml' is not one of 'text', 'json'" in result.err
    assert_no_traceback(result)


def test_box_images_names_a_missing_nodes_file(tmp_path):
    result = blackfish("box", "images", "-f", str(tmp_path / "absent.yml"))
    assert result.returncode == 2
    assert "absent.yml: no such file" in result.err
    assert_no_traceback(result)


def test_text_lists_an_image_shared_by_two_services_once():
    assert box.render({"a": "x:1", "b": "x:1", "c": "y:2"}, "text") == "x:1\ny:2\n"
