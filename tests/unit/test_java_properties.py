"""The Python port of Properties.load (tests/java_properties.py) agrees with the JDK's own parser, and what
the operator writes into application.properties reads back, key for key, as it was meant: no spec value or
key can start a property of its own."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from bridgedapp.builders.bridge import _line

from tests import java_properties

PROGRAM = Path(__file__).resolve().parents[2] / "testbed" / "java" / "PropertiesDump.java"
TRICKY = [
    "plain",
    "",
    " lead",
    "trail ",
    "a=b",
    "a:b",
    "a b",
    "x\ny=z",
    "x\r\nkafka.security.protocol=PLAINTEXT",
    "x\rz",
    "back\\",
    "back\\\\",
    "\\u0041",
    "#not a comment",
    "!bang",
    "${strimzidir:/opt/strimzi/bridge-certs:user.key}",
    "ünïcødé ✓ 🚀",
    "\x00\x07\x1b[31m\x7f",
    "\u2028\u2029",
    "\t\f",
]
RAW = [
    "a=1\nb = 2\n  c:3\nd 4\n",
    "# comment\n! other\n  # indented comment\\\nnext=1\n",
    "cont=one\\\n    two\\\n  three\n",
    "even=one\\\\\nodd=two\n",
    "key\\ with\\ spaces=v\n",
    "k1==v\nk2::v\nk3 = = v\nk4\t:\tv\n",
    "\\u0041\\u00e9=\\u20ac\n",
    "dangling=end\\",
    "\r\nwin=1\r\nmac=2\rlast=3",
    "empty=\nonlykey\n=onlyvalue\n",
]


def java_load(paths: list[Path]) -> list[dict[str, str]]:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH")
    done = subprocess.run([java, str(PROGRAM), *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_port_reads_exactly_as_the_jdk_does(tmp_path: Path) -> None:
    texts = [*RAW, *(f"{_line(k, v)}\n" for k in TRICKY for v in TRICKY[:8])]
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.properties"
        path.write_bytes(text.encode("iso-8859-1", errors="replace"))
        paths.append(path)
    expected = java_load(paths)
    for path, java in zip(paths, expected, strict=True):
        assert java_properties.load(path.read_bytes()) == java, path.read_bytes()


@pytest.mark.parametrize("key", TRICKY[:1] + [k for k in TRICKY if k])
def test_every_key_and_value_the_operator_writes_reads_back_alone(key: str) -> None:
    lines = "".join(f"{_line(key, value)}\n" for value in TRICKY)
    for value in TRICKY:
        assert java_properties.load(f"{_line(key, value)}\n{_line('next', 'n')}\n".encode("iso-8859-1")) == {
            key: value,
            "next": "n",
        }
    assert len(java_properties.load(lines.encode("iso-8859-1"))) == 1
