"""Substitution templates in rule actions: `republish` to `alerts/${topic(2)}`.

AWS evaluates each `${expression}` against the incoming message (its topic,
payload and metadata), not against the SELECT result; so does this engine.
An expression that is Undefined becomes an empty string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lark.exceptions import UnexpectedInput

from localcloud.iot.errors import SqlParseError
from localcloud.iot.grammar import parser
from localcloud.iot.message import Message
from localcloud.iot.sql import Evaluate, compile_expression
from localcloud.iot.values import to_text

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    parts: tuple[str | Evaluate, ...]

    @property
    def is_static(self) -> bool:
        return all(isinstance(part, str) for part in self.parts)

    def render(self, message: Message) -> str:
        rendered: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                rendered.append(part)
                continue
            value: Any = to_text(part(message))
            rendered.append(value if isinstance(value, str) else "")
        return "".join(rendered)


def compile_template(text: str) -> Template:
    """Compile `a/${topic(2)}/b`; raises `SqlParseError` quoting a bad `${...}`."""
    parts: list[str | Evaluate] = []
    position = 0
    for found in _PLACEHOLDER.finditer(text):
        if found.start() > position:
            parts.append(text[position : found.start()])
        source = found.group(1)
        try:
            tree = parser().parse(source, start="template")
        except UnexpectedInput as error:
            raise SqlParseError(
                f"Invalid substitution template {found.group(0)!r} in {text!r}"
            ) from error
        parts.append(compile_expression(source, tree.children[0]).evaluate)
        position = found.end()
    if position < len(text):
        parts.append(text[position:])
    return Template(text, tuple(parts))
