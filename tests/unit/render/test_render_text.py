"""The text helpers of the templates: YAML blocks and systemd arguments that read back exactly."""

from __future__ import annotations

import shlex

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from blackfish.render import systemd_arg, yaml_block, yaml_str

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def read_back(text: str, indent: int = 6) -> str:
    """Put `text` where the templates put file contents (a key two columns left of the block)."""
    document = f"write_files:\n  - path: /x\n    content: {yaml_block(text, indent)}\n    permissions: \"0644\"\n"
    loaded = yaml.safe_load(document)["write_files"][0]
    assert loaded["permissions"] == "0644"  # the block did not swallow the next key
    return loaded["content"]


def test_a_pem_is_a_literal_block():
    block = yaml_block(PEM, 6)
    assert block.startswith("|\n      -----BEGIN CERTIFICATE-----\n")
    assert read_back(PEM) == PEM


def test_trailing_newlines_leading_spaces_and_no_final_newline_survive():
    for text in ["a", "a\n\n\n", "  indented first\nsecond\n", "\n\nafter blank lines\n", "tab\there\n", "x: y\n- z\n"]:
        assert read_back(text) == text, repr(text)


def test_text_a_block_cannot_carry_becomes_a_quoted_string():
    for text in ["", "\n\n", "carriage\r\nreturn", "bell\x07", "line\u2028separator", "  \nspaces only line"]:
        assert yaml_block(text, 6).startswith('"')
        assert read_back(text) == text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_text_reads_back_byte_for_byte(text):
    assert read_back(text) == text


@given(st.text(max_size=50))
def test_yaml_str_reads_back(text):
    assert yaml.safe_load(f"k: {yaml_str(text)}")["k"] == text


def test_systemd_arguments_keep_specifiers_and_variables_literal():
    assert systemd_arg("/etc/docker/tls:/tls:ro") == "/etc/docker/tls:/tls:ro"
    assert systemd_arg("SERVICE_NAME=registry") == "SERVICE_NAME=registry"
    assert systemd_arg("50%") == "50%%"
    assert systemd_arg("$HOME") == '"$$HOME"'
    quoted = systemd_arg('say "hi" there')
    assert quoted == '"say \\"hi\\" there"'
    # systemd unquotes like a shell for this subset.
    assert shlex.split(quoted) == ['say "hi" there']


def test_compact_drops_comment_and_blank_lines_but_keeps_the_shebang_and_the_code():
    from blackfish.render import compact

    script = "#!/bin/sh\n# why\n\nset -eu\n  # indented why\necho '# not a comment' # trailing\n"
    assert compact(script) == "#!/bin/sh\nset -eu\necho '# not a comment' # trailing\n"
    unit = "# Blackfish: why\n[Unit]\nDescription=x\n\n[Service]\n  # more why\nExecStart=/bin/true\n"
    assert compact(unit) == "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n"
