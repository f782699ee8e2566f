"""AWS IoT rule SQL: compile once when a rule is stored, evaluate per message.

`compile_sql(sql)` parses the statement with the grammar of `grammar.py` and
turns it into a tree of Python closures, so evaluating a message costs a few
function calls per expression and nothing is interpreted twice. Expressions
made only of literals and pure functions are folded at compile time.

What AWS does with payloads that are not JSON objects, and what this engine
does (see docs/iot.md):

* `SELECT * FROM ...` forwards the payload bytes unchanged, JSON or not.
* `encode(*, 'base64')` encodes the raw payload bytes.
* Field references on a payload that is not a JSON object are `Undefined`, so
  a WHERE clause that reads fields is not met.
* `SELECT *, <more>` needs a JSON object; for any other payload the message is
  skipped with a warning (AWS documents this combination as invalid).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from lark import Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from localcloud.iot.errors import RuleEvaluationError, SqlParseError
from localcloud.iot.functions import FUNCTIONS, UNSUPPORTED_FUNCTIONS
from localcloud.iot.grammar import parser
from localcloud.iot.message import BINARY, Message
from localcloud.iot.topics import validate_topic_filter
from localcloud.iot.values import (
    BINARY_OPERATORS,
    UNDEFINED,
    logical_not,
    negate,
    to_number,
    to_text,
)

SUPPORTED_SQL_VERSIONS: Final = ("2015-10-08", "2016-03-23")

Evaluate = Callable[[Message], Any]

_UNSUPPORTED_CLAUSES: Final = {"LIMIT", "ORDER", "GROUP", "HAVING", "JOIN", "SET"}


@dataclass(frozen=True, slots=True)
class Expression:
    evaluate: Evaluate
    name: str | None = None  # the output key when the SELECT item has no alias
    constant: bool = False
    reads_payload: bool = False


@dataclass(frozen=True, slots=True)
class SelectItem:
    expression: Expression | None  # None for `*`
    path: tuple[str, ...]  # output key; dotted aliases nest ("a.b" -> a: {b: })


@dataclass(slots=True)
class Statement:
    """A compiled rule query: `evaluate(message)` gives the action payload."""

    sql: str
    topic_filter: str
    items: list[SelectItem] = field(default_factory=list)
    value: Expression | None = None  # SELECT VALUE <expression>
    where: Expression | None = None
    passthrough: bool = False  # plain `SELECT *`: forward the payload bytes

    def matches(self, message: Message) -> bool:
        where = self.where
        return where is None or where.evaluate(message) is True

    def evaluate(self, message: Message) -> bytes | None:
        """The payload the actions receive, or None when WHERE is not met."""
        where = self.where
        if where is not None and where.evaluate(message) is not True:
            return None
        if self.passthrough:
            return message.payload
        if self.value is not None:
            return _serialize(self.value.evaluate(message))
        return _serialize(self._select(message))

    def _select(self, message: Message) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for item in self.items:
            expression = item.expression
            if expression is None:
                document = message.document
                if type(document) is not dict:
                    kind = "binary" if document is BINARY else "not a JSON object"
                    raise RuleEvaluationError(
                        f"`SELECT *` combined with other items needs a JSON object "
                        f"payload; the message on {message.topic!r} is {kind}. "
                        f"Select `*` alone, or `encode(*, 'base64') AS data`."
                    )
                result.update(document)
                continue
            value = expression.evaluate(message)
            if value is UNDEFINED:
                continue
            _assign(result, item.path, value)
        return result


def _assign(result: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    if len(path) == 1:
        result[path[0]] = value
        return
    target = result
    for key in path[:-1]:
        child = target.get(key)
        # Copy: the nested object may be the payload's own (from `*`).
        child = dict(child) if type(child) is dict else {}
        target[key] = child
        target = child
    target[path[-1]] = value


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _serialize(value: Any) -> bytes:
    if value is UNDEFINED:
        return b""  # AWS: Undefined serialized by itself is an empty string
    return _ENCODER.encode(value).encode()


def compile_sql(sql: str, version: str | None = None) -> Statement:
    """Compile a rule's SQL, or raise `SqlParseError` quoting what is wrong."""
    if version is not None and version not in SUPPORTED_SQL_VERSIONS:
        raise SqlParseError(
            f"awsIotSqlVersion {version!r} is not supported by the local cloud; "
            f"use one of {', '.join(SUPPORTED_SQL_VERSIONS)}"
        )
    try:
        tree = parser().parse(sql, start="start")
    except UnexpectedInput as error:
        raise SqlParseError(_describe_syntax_error(sql, error)) from error
    return _Compiler(sql).statement(tree)


def compile_expression(source: str, tree: Tree[Token] | Token) -> Expression:
    """Compile one parsed expression (a substitution template's body)."""
    return _Compiler(source).expression(tree)


def _describe_syntax_error(sql: str, error: UnexpectedInput) -> str:
    line, column = error.line, error.column
    if isinstance(error, UnexpectedEOF):
        return f"Incomplete SQL: it ends before the statement does: {sql!r}"
    position = getattr(error, "pos_in_stream", None) or 0
    rest = sql[position:].split("\n", 1)[0]
    excerpt = rest if len(rest) <= 40 else rest[:40] + "..."
    if isinstance(error, UnexpectedToken):
        word = str(error.token).upper()
        if word in _UNSUPPORTED_CLAUSES or word == "SELECT":
            what = "nested SELECT" if word == "SELECT" else f"{word} clause"
            return (
                f"Unsupported SQL at line {line}:{column}: the {what} in {excerpt!r} "
                f"is not supported by the local cloud's rules engine"
            )
        if error.token.type == "$END":
            return f"Incomplete SQL: it ends before the statement does: {sql!r}"
        expected = ", ".join(sorted(error.expected)[:8])
        return (
            f"Unsupported or invalid SQL at line {line}:{column}: unexpected "
            f"{str(error.token)!r} in {excerpt!r} (expected one of: {expected})"
        )
    if isinstance(error, UnexpectedCharacters):
        return (
            f"Unsupported or invalid SQL at line {line}:{column}: unexpected "
            f"character {error.char!r} in {excerpt!r}"
        )
    return f"Invalid SQL at line {line}:{column}: {excerpt!r}"  # pragma: no cover


class _Compiler:
    """Turns Lark's parse tree into closures; quotes source text in errors."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def quote(self, node: Tree[Token] | Token) -> str:
        if isinstance(node, Token):
            start, end = node.start_pos, node.end_pos
        else:
            start, end = node.meta.start_pos, node.meta.end_pos
        return self.sql[start:end] if start is not None and end is not None else ""

    def statement(self, tree: Tree[Token]) -> Statement:
        select, topic_token, where = tree.children
        topic_filter = _unquote(str(topic_token))
        problem = validate_topic_filter(topic_filter)
        if problem:
            raise SqlParseError(
                f"Invalid topic filter in FROM {topic_token}: {problem}"
            )
        statement = Statement(sql=self.sql, topic_filter=topic_filter)
        if isinstance(where, Tree):
            statement.where = self.expression(where.children[0])
        assert isinstance(select, Tree)
        if select.data == "select_value":
            statement.value = self.expression(select.children[1])
            return statement
        for item in select.children:
            assert isinstance(item, Tree)
            if item.data == "star_item":
                statement.items.append(SelectItem(None, ("*",)))
                continue
            expression_node, alias = item.children
            expression = self.expression(expression_node)
            path = self.output_path(expression, alias, len(statement.items) + 1)
            statement.items.append(SelectItem(expression, path))
        statement.passthrough = (
            len(statement.items) == 1 and statement.items[0].expression is None
        )
        return statement

    def output_path(
        self, expression: Expression, alias: Any, position: int
    ) -> tuple[str, ...]:
        if isinstance(alias, Tree):
            return tuple(str(part) for part in alias.children)
        # AWS names an unaliased field after its last key; other expressions
        # get a positional name (see docs/iot.md).
        return (expression.name or f"_{position}",)

    def expression(self, node: Tree[Token] | Token | None) -> Expression:
        if not isinstance(node, Tree):
            raise SqlParseError(f"Unsupported SQL near {self.quote(node)!r}")  # type: ignore[arg-type]
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            raise SqlParseError(f"Unsupported SQL: {self.quote(node)!r}")
        return handler(node)  # type: ignore[no-any-return]

    # literals

    def _number(self, node: Tree[Token]) -> Expression:
        text = str(node.children[0])
        number: int | float = int(text) if text.isdigit() else float(text)
        return _constant(number)

    def _string(self, node: Tree[Token]) -> Expression:
        return _constant(_unquote(str(node.children[0])))

    def _true(self, node: Tree[Token]) -> Expression:
        return _constant(True)

    def _false(self, node: Tree[Token]) -> Expression:
        return _constant(False)

    def _null(self, node: Tree[Token]) -> Expression:
        return _constant(None)

    def _array(self, node: Tree[Token]) -> Expression:
        elements = [self.expression(child) for child in node.children if child]
        if all(element.constant for element in elements):
            return _constant([element.evaluate(_NO_MESSAGE) for element in elements])
        evaluators = [element.evaluate for element in elements]
        return Expression(
            lambda message: [
                value
                for value in (evaluate(message) for evaluate in evaluators)
                if value is not UNDEFINED
            ],
            reads_payload=any(element.reads_payload for element in elements),
        )

    def _object(self, node: Tree[Token]) -> Expression:
        pairs: list[tuple[str, Expression]] = []
        for pair in node.children:
            if isinstance(pair, Tree):
                key, value = pair.children
                pairs.append((_unquote(str(key)), self.expression(value)))

        def build(message: Message) -> Any:
            result = {}
            for key, expression in pairs:
                value = expression.evaluate(message)
                if value is not UNDEFINED:
                    result[key] = value
            return result

        return Expression(
            build, reads_payload=any(value.reads_payload for _, value in pairs)
        )

    # references

    def _field(self, node: Tree[Token]) -> Expression:
        name = str(node.children[0])

        def field(message: Message) -> Any:
            document = message.document
            if type(document) is dict:
                return document.get(name, UNDEFINED)
            return UNDEFINED

        return Expression(field, name=name, reads_payload=True)

    def _member(self, node: Tree[Token]) -> Expression:
        parent = self.expression(node.children[0])
        name = str(node.children[1])
        outer = parent.evaluate

        def member(message: Message) -> Any:
            value = outer(message)
            if type(value) is dict:
                return value.get(name, UNDEFINED)
            return UNDEFINED

        return Expression(member, name=name, reads_payload=parent.reads_payload)

    # operators

    def _binary(self, node: Tree[Token]) -> Expression:
        left_node, operator_token, right_node = node.children
        operator = BINARY_OPERATORS[str(operator_token).upper()]
        left, right = self.expression(left_node), self.expression(right_node)
        if left.constant and right.constant:
            return _constant(
                operator(left.evaluate(_NO_MESSAGE), right.evaluate(_NO_MESSAGE))
            )
        first, second = left.evaluate, right.evaluate
        return Expression(
            lambda message: operator(first(message), second(message)),
            reads_payload=left.reads_payload or right.reads_payload,
        )

    def _unary(self, node: Tree[Token], operation: Callable[[Any], Any]) -> Expression:
        inner = self.expression(node.children[0])
        if inner.constant:
            return _constant(operation(inner.evaluate(_NO_MESSAGE)))
        evaluate = inner.evaluate
        return Expression(
            lambda message: operation(evaluate(message)),
            reads_payload=inner.reads_payload,
        )

    def _negative(self, node: Tree[Token]) -> Expression:
        return self._unary(node, negate)

    def _not_(self, node: Tree[Token]) -> Expression:
        return self._unary(node, logical_not)

    def _is_null(self, node: Tree[Token]) -> Expression:
        return self._unary(node, lambda value: value is None)

    def _is_not_null(self, node: Tree[Token]) -> Expression:
        # Undefined is not null either: `x IS NOT NULL` means "x has a value".
        return self._unary(
            node, lambda value: value is not None and value is not UNDEFINED
        )

    def _is_undefined(self, node: Tree[Token]) -> Expression:
        return self._unary(node, lambda value: value is UNDEFINED)

    def _is_not_undefined(self, node: Tree[Token]) -> Expression:
        return self._unary(node, lambda value: value is not UNDEFINED)

    def _case(self, node: Tree[Token]) -> Expression:
        subject_node, *whens, default_node = node.children
        subject = None if subject_node is None else self.expression(subject_node)
        branches: list[tuple[Evaluate, Evaluate]] = []
        parts: list[Expression] = [] if subject is None else [subject]
        for when in whens:
            assert isinstance(when, Tree)
            condition, outcome = (self.expression(child) for child in when.children)
            branches.append((condition.evaluate, outcome.evaluate))
            parts += [condition, outcome]
        default = None if default_node is None else self.expression(default_node)
        if default is not None:
            parts.append(default)
        matched = BINARY_OPERATORS["="]

        def case(message: Message) -> Any:
            value = None if subject is None else subject.evaluate(message)
            for condition, outcome in branches:
                test = condition(message)
                hit = test is True if subject is None else matched(value, test) is True
                if hit:
                    return outcome(message)
            return UNDEFINED if default is None else default.evaluate(message)

        return Expression(case, reads_payload=any(p.reads_payload for p in parts))

    # functions

    def _star_argument(self, node: Tree[Token]) -> Expression:
        return Expression(lambda message: message.payload, reads_payload=False)

    def _cast(self, node: Tree[Token]) -> Expression:
        inner_node, type_token = node.children
        type_name = str(type_token).lower()
        conversion = _CASTS.get(type_name)
        if conversion is None:
            raise SqlParseError(
                f"Unsupported cast type in {self.quote(node)!r}: use Int, Decimal, "
                f"String or Boolean"
            )
        return self._unary(Tree("cast", [inner_node], node.meta), conversion)

    def _call(self, node: Tree[Token]) -> Expression:
        name_token, *argument_nodes = node.children
        name = str(name_token)
        if argument_nodes == [None]:
            argument_nodes = []
        spec = FUNCTIONS.get(name.lower())
        if spec is None:
            reason = UNSUPPORTED_FUNCTIONS.get(name.lower())
            detail = f": {reason}" if reason else " (no such AWS IoT SQL function)"
            raise SqlParseError(
                f"Unsupported function {name}() in {self.quote(node)!r}{detail}. "
                f"See the local cloud's docs/iot.md for the supported functions."
            )
        if not spec.min_args <= len(argument_nodes) <= spec.max_args:
            expected = (
                str(spec.min_args)
                if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}"
            )
            raise SqlParseError(
                f"{spec.name}() takes {expected} argument(s), got "
                f"{len(argument_nodes)} in {self.quote(node)!r}"
            )
        arguments = [self.expression(child) for child in argument_nodes]
        call = spec.call
        reads = any(argument.reads_payload for argument in arguments)
        if spec.pure and all(argument.constant for argument in arguments):
            values = [argument.evaluate(_NO_MESSAGE) for argument in arguments]
            return _constant(call(_NO_MESSAGE, *values), name=name)
        if spec.name == "topic" and arguments and arguments[0].constant:
            return _topic_level(arguments[0].evaluate(_NO_MESSAGE), name)
        evaluators = [argument.evaluate for argument in arguments]
        if not evaluators:
            return Expression(lambda message: call(message), name=name)
        if len(evaluators) == 1:
            only = evaluators[0]
            return Expression(
                lambda message: call(message, only(message)),
                name=name,
                reads_payload=reads,
            )
        return Expression(
            lambda message: call(
                message, *[evaluate(message) for evaluate in evaluators]
            ),
            name=name,
            reads_payload=reads,
        )


def _topic_level(index: Any, name: str) -> Expression:
    """topic(n) with a literal n, the most common function in rules."""
    if type(index) is float and index.is_integer():
        index = int(index)
    if type(index) is not int or index < 1:
        return _constant(UNDEFINED, name=name)
    position = index - 1

    def level(message: Message) -> Any:
        levels = message.levels
        return levels[position] if position < len(levels) else UNDEFINED

    return Expression(level, name=name)


def _constant(value: Any, name: str | None = None) -> Expression:
    return Expression(lambda _message: value, name=name, constant=True)


def _unquote(literal: str) -> str:
    quote, body = literal[0], literal[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    if "\\" not in body:
        return body
    return body.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _cast_int(value: Any) -> Any:
    if type(value) is bool:
        return int(value)
    number = to_number(value)
    if number is None:
        return UNDEFINED
    return int(number)


def _cast_decimal(value: Any) -> Any:
    if type(value) is bool:
        return 1.0 if value else 0.0
    number = to_number(value)
    return UNDEFINED if number is None else float(number)


def _cast_boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    if type(value) is int or type(value) is float:
        return value != 0
    if type(value) is str and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return UNDEFINED


_CASTS: Final[dict[str, Callable[[Any], Any]]] = {
    "int": _cast_int,
    "decimal": _cast_decimal,
    "string": to_text,
    "boolean": _cast_boolean,
}

# Constant folding evaluates pure expressions without a message.
_NO_MESSAGE: Final = Message("", b"", timestamp_ms=0)
