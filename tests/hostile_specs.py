"""Hostile BridgedApp specs, generated from the CRD's own schema (crd.spec_schema), for hypothesis.

Every value is drawn from what the schema allows (types, enums, patterns, bounds), with odd content where
the schema is free (unicode, control characters, newlines, `=`, `:`, `${`, huge strings up to the bound),
and, now and then, a value the schema forbids (out of range, too long, the wrong type, an unknown field, an
enum outside its set, a string breaking its pattern). Driven by the schema, it follows the models as they
change; nothing here knows the spec's field names.
"""

from __future__ import annotations

from typing import Any

from bridgedapp.crd import spec_schema
from hypothesis import strategies as st

# Text a property file or a YAML dump could trip on, as keys and values.
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "a=b",
        "a:b",
        "x\ny=z",
        "x\r\nkafka.security.protocol=PLAINTEXT",
        "\\",
        "#comment",
        "!bang",
        "${strimzidir:/opt/strimzi/bridge-certs:user.key}",
        "${env:HOME}",
        "ünïcødé ✓ 🚀",
        "\x00\x07\x1b[31m",
        "\u2028\u2029",
        "ssl.keystore.location",
        "config.providers",
        "security.protocol",
        "bootstrap.servers",
    ]
)
ODD_TEXT = st.one_of(TRICKY, st.text(st.characters(exclude_categories=("Cs",)), max_size=24))
UNKNOWN_FIELD = "unknownField"


def _bounded_text(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 64)
    text = ODD_TEXT.filter(lambda s: low <= len(s) <= high)
    at_bound = st.just("x" * high) if high else st.just("")
    return st.one_of(text, at_bound) if high >= low else text


def _valid(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(-(2**31), 2**31), _bounded_text(schema))
    kind = schema.get("type")
    if kind == "string":
        if "pattern" in schema:
            high = schema.get("maxLength", 253)
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) <= high)
        return _bounded_text(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        most = min(schema.get("maxItems", 3), 3 if depth < 3 else 1)
        return st.lists(value(schema["items"], depth + 1), max_size=most)
    if kind == "object":
        if "properties" in schema:
            required = set(schema.get("required", []))
            props = {k: value(v, depth + 1) for k, v in schema["properties"].items()}
            return st.fixed_dictionaries(
                {k: s for k, s in props.items() if k in required},
                optional={k: s for k, s in props.items() if k not in required},
            )
        if isinstance(schema.get("additionalProperties"), dict):
            most = min(schema.get("maxProperties", 4), 4)
            return st.dictionaries(ODD_TEXT, value(schema["additionalProperties"], depth + 1), max_size=most)
        return st.just({})
    return st.just(None)


def _invalid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value the schema forbids at this place (or, where nothing is forbidden, a valid one)."""
    options: list[st.SearchStrategy[Any]] = []
    kind = schema.get("type")
    if "enum" in schema:
        options.append(st.just("NotInTheEnum"))
    if kind == "string" or schema.get("x-kubernetes-int-or-string"):
        if "maxLength" in schema:
            options.append(st.just("y" * (schema["maxLength"] + 1)))
        if "pattern" in schema:
            options.append(st.sampled_from(["Has Upper Case", " leading", "trailing ", "new\nline", "-"]))
        options.append(st.just(["a", "list"]))
    if kind == "integer":
        if "maximum" in schema:
            options.append(st.just(schema["maximum"] + 1))
        if "minimum" in schema:
            options.append(st.just(schema["minimum"] - 1))
        options.append(st.sampled_from(["3", 2.5, True]))
    if kind == "boolean":
        options.append(st.sampled_from(["true", 1]))
    if kind == "array":
        options.append(st.just({"not": "a list"}))
        if "maxItems" in schema:
            options.append(st.just([None] * (schema["maxItems"] + 1)))
    if kind == "object":
        options.append(st.just("not an object"))
        if "properties" in schema:
            options.append(st.just({UNKNOWN_FIELD: 1}))
    return st.one_of(*options) if options else _valid(schema, 9)


def value(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly valid, one time in twenty-five invalid, at every place of the schema."""
    return st.integers(0, 24).flatmap(lambda n: _invalid(schema) if n == 0 else _valid(schema, depth))


def specs() -> st.SearchStrategy[dict[str, Any]]:
    """Whole `spec` objects of a BridgedApp."""
    return value(spec_schema())
