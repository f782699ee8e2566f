"""The AWS IoT SQL functions this engine runs.

Each function receives the message and its evaluated arguments, and returns
`UNDEFINED` for arguments of the wrong type, as AWS does. Functions that call
other AWS services from inside the SQL (`aws_lambda`, `get_thing_shadow`,
`get_dynamodb`, `get_secret`, `machinelearning_predict`, ...) and those whose
format strings follow Java's libraries (`parse_time`, `time_to_epoch`) are not
here: a rule that uses them is rejected when it is created, naming the function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from localcloud.iot.message import Message
from localcloud.iot.values import UNDEFINED, modulo, to_number, to_text

Function = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    call: Function  # (message, *arguments) -> value
    min_args: int
    max_args: int
    pure: bool = True  # same arguments, same result: folded when constant


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def _integer(value: Any) -> int | None:
    number = to_number(value)
    if number is None or (type(number) is float and not number.is_integer()):
        return None
    return int(number)


def _numeric(operation: Callable[[float], float]) -> Function:
    """A math function on Int, Decimal or numeric strings; Decimal result."""

    def call(_message: Message, value: Any) -> Any:
        number = to_number(value)
        if number is None:
            return UNDEFINED
        try:
            result = operation(float(number))
        except (ValueError, OverflowError):
            return UNDEFINED
        return result if math.isfinite(result) else UNDEFINED

    return call


def _integral(operation: Callable[[float], int]) -> Function:
    """ceil, floor, round: Int stays Int, Decimal becomes Int."""

    def call(_message: Message, value: Any) -> Any:
        if type(value) is int:
            return value
        number = to_number(value)
        if number is None:
            return UNDEFINED
        return operation(float(number))

    return call


def _round_half_up(number: float) -> int:
    """AWS rounds halves away from zero; Python's round() goes to even."""
    return math.floor(number + 0.5) if number >= 0 else -math.floor(-number + 0.5)


def _abs(_message: Message, value: Any) -> Any:
    if type(value) is int or type(value) is float:
        return abs(value)
    number = to_number(value)
    return UNDEFINED if number is None else abs(float(number))


def _sign(_message: Message, value: Any) -> Any:
    number = to_number(value)
    if number is None:
        return UNDEFINED
    return (number > 0) - (number < 0)


def _trunc(_message: Message, value: Any, places: Any) -> Any:
    number, digits = to_number(value), _integer(places)
    if number is None or digits is None:
        return UNDEFINED
    factor = 10.0**digits
    return math.trunc(float(number) * factor) / factor


def _mod(_message: Message, left: Any, right: Any) -> Any:
    return modulo(left, right)


def _power(_message: Message, base: Any, exponent: Any) -> Any:
    left, right = to_number(base), to_number(exponent)
    if left is None or right is None:
        return UNDEFINED
    try:
        result = math.pow(float(left), float(right))
    except (ValueError, OverflowError):
        return UNDEFINED
    return result if math.isfinite(result) else UNDEFINED


def _atan2(_message: Message, y: Any, x: Any) -> Any:
    left, right = to_number(y), to_number(x)
    if left is None or right is None:
        return UNDEFINED
    return math.atan2(float(left), float(right))


def _log(_message: Message, *arguments: Any) -> Any:
    """log(x) is base 10; log(base, x) any base."""
    numbers = [to_number(argument) for argument in arguments]
    if any(number is None or number <= 0 for number in numbers):
        return UNDEFINED
    if len(numbers) == 1:
        return math.log10(float(numbers[0]))  # type: ignore[arg-type]
    base, value = float(numbers[0]), float(numbers[1])  # type: ignore[arg-type]
    return UNDEFINED if base == 1 else math.log(value, base)


def _string_function(operation: Callable[[str], Any]) -> Function:
    def call(_message: Message, value: Any) -> Any:
        text = _text(value)
        return UNDEFINED if text is None else operation(text)

    return call


def _concat(_message: Message, *arguments: Any) -> Any:
    """Strings concatenate; arrays join; mixing converts to strings like `+`."""
    if all(type(argument) is list for argument in arguments):
        return [element for argument in arguments for element in argument]
    parts = [to_text(argument) for argument in arguments]
    if any(part is UNDEFINED for part in parts):
        return UNDEFINED
    return "".join(parts)  # type: ignore[arg-type]


def _length(_message: Message, value: Any) -> Any:
    if type(value) is str or type(value) is list:
        return len(value)
    return UNDEFINED


def _substring(_message: Message, value: Any, start: Any, end: Any = None) -> Any:
    text, first = _text(value), _integer(start)
    if text is None or first is None:
        return UNDEFINED
    last = len(text) if end is None else _integer(end)
    if last is None:
        return UNDEFINED
    first, last = max(first, 0), min(last, len(text))
    return text[first:last] if first <= last else ""


def _replace(_message: Message, value: Any, old: Any, new: Any) -> Any:
    text, before, after = _text(value), _text(old), _text(new)
    if text is None or before is None or after is None:
        return UNDEFINED
    return text.replace(before, after)


def _pad(left: bool) -> Function:
    def call(_message: Message, value: Any, width: Any) -> Any:
        text, count = _text(value), _integer(width)
        if text is None or count is None or count < 0:
            return UNDEFINED
        return " " * count + text if left else text + " " * count

    return call


def _indexof(_message: Message, value: Any, part: Any) -> Any:
    text, needle = _text(value), _text(part)
    if text is None or needle is None:
        return UNDEFINED
    return text.find(needle)


def _startswith(_message: Message, value: Any, prefix: Any) -> Any:
    text, start = _text(value), _text(prefix)
    if text is None or start is None:
        return UNDEFINED
    return text.startswith(start)


def _endswith(_message: Message, value: Any, suffix: Any) -> Any:
    text, end = _text(value), _text(suffix)
    if text is None or end is None:
        return UNDEFINED
    return text.endswith(end)


@lru_cache(maxsize=256)
def _pattern(expression: str) -> re.Pattern[str] | None:
    try:
        return re.compile(expression)
    except re.error:
        return None


def _regexp_matches(_message: Message, value: Any, expression: Any) -> Any:
    text, source = _text(value), _text(expression)
    pattern = None if source is None else _pattern(source)
    if text is None or pattern is None:
        return UNDEFINED
    return pattern.search(text) is not None


def _regexp_replace(
    _message: Message, value: Any, expression: Any, replacement: Any
) -> Any:
    text, source, new = _text(value), _text(expression), _text(replacement)
    pattern = None if source is None else _pattern(source)
    if text is None or pattern is None or new is None:
        return UNDEFINED
    # AWS uses Java's "$1" group references; Python spells them "\1".
    return pattern.sub(re.sub(r"\$(\d+)", r"\\\1", new), text)


def _regexp_substr(_message: Message, value: Any, expression: Any) -> Any:
    text, source = _text(value), _text(expression)
    pattern = None if source is None else _pattern(source)
    if text is None or pattern is None:
        return UNDEFINED
    found = pattern.search(text)
    return "" if found is None else found.group(0)


def _encode(_message: Message, value: Any, encoding: Any) -> Any:
    """encode(*, 'base64') encodes the raw payload; strings encode as UTF-8."""
    if _text(encoding) != "base64":
        return UNDEFINED
    if type(value) is bytes:
        data = value
    else:
        text = to_text(value)
        if text is UNDEFINED:
            return UNDEFINED
        data = text.encode()  # type: ignore[union-attr]
    return base64.b64encode(data).decode("ascii")


def _decode(_message: Message, value: Any, encoding: Any) -> Any:
    text = _text(value)
    if text is None or _text(encoding) != "base64":
        return UNDEFINED
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return UNDEFINED


def _digest(algorithm: str) -> Function:
    def call(_message: Message, value: Any) -> Any:
        text = to_text(value)
        if text is UNDEFINED or value is None:
            return UNDEFINED
        return hashlib.new(algorithm, text.encode()).hexdigest()  # type: ignore[union-attr]

    return call


def _get(_message: Message, container: Any, key: Any) -> Any:
    """get(array, index) or get(object, key): reaches keys '.' cannot."""
    if type(container) is list:
        index = _integer(key)
        if index is None or not 0 <= index < len(container):
            return UNDEFINED
        return container[index]
    if type(container) is dict and type(key) is str:
        return container.get(key, UNDEFINED)
    return UNDEFINED


def _is_null(_message: Message, value: Any) -> Any:
    return value is None


def _is_undefined(_message: Message, value: Any) -> Any:
    return value is UNDEFINED


def _nanvl(_message: Message, value: Any, fallback: Any) -> Any:
    if type(value) is float and math.isnan(value):
        return fallback
    return value if value is not UNDEFINED else fallback


def _chr(_message: Message, value: Any) -> Any:
    code = _integer(value)
    if code is None or not 0 <= code <= 0x10FFFF:
        return UNDEFINED
    return chr(code)


def _numbytes(_message: Message, value: Any) -> Any:
    text = _text(value)
    return UNDEFINED if text is None else len(text.encode())


def _bitwise(operation: Callable[[int, int], int]) -> Function:
    def call(_message: Message, left: Any, right: Any) -> Any:
        if type(left) is not int or type(right) is not int:
            return UNDEFINED
        return operation(left, right)

    return call


def _bitnot(_message: Message, value: Any) -> Any:
    return ~value if type(value) is int else UNDEFINED


def _topic(message: Message, index: Any = None) -> Any:
    """topic() is the whole topic; topic(n) its n-th level, counted from 1."""
    if index is None:
        return message.topic
    position = _integer(index)
    levels = message.levels
    if position is None or not 1 <= position <= len(levels):
        return UNDEFINED
    return levels[position - 1]


def _timestamp(message: Message) -> Any:
    return message.timestamp_ms


def _clientid(message: Message) -> Any:
    return message.client_id


def _accountid(message: Message) -> Any:
    return message.account_id


def _traceid(message: Message) -> Any:
    if message.trace_id is None:
        message.trace_id = str(uuid.uuid4())
    return message.trace_id


def _newuuid(_message: Message) -> Any:
    return str(uuid.uuid4())


def _rand(_message: Message) -> Any:
    return random.random()


def _spec(name: str, call: Function, low: int, high: int, pure: bool = True) -> None:
    FUNCTIONS[name.lower()] = FunctionSpec(name, call, low, high, pure)


FUNCTIONS: Final[dict[str, FunctionSpec]] = {}

for _name, _operation in {
    "acos": math.acos,
    "asin": math.asin,
    "atan": math.atan,
    "cos": math.cos,
    "cosh": math.cosh,
    "exp": math.exp,
    "ln": math.log,
    "sin": math.sin,
    "sinh": math.sinh,
    "sqrt": math.sqrt,
    "tan": math.tan,
    "tanh": math.tanh,
}.items():
    _spec(_name, _numeric(_operation), 1, 1)

_spec("ceil", _integral(math.ceil), 1, 1)
_spec("floor", _integral(math.floor), 1, 1)
_spec("round", _integral(_round_half_up), 1, 1)
_spec("abs", _abs, 1, 1)
_spec("sign", _sign, 1, 1)
_spec("trunc", _trunc, 2, 2)
_spec("mod", _mod, 2, 2)
_spec("power", _power, 2, 2)
_spec("atan2", _atan2, 2, 2)
_spec("log", _log, 1, 2)
_spec("lower", _string_function(str.lower), 1, 1)
_spec("upper", _string_function(str.upper), 1, 1)
_spec("trim", _string_function(str.strip), 1, 1)
_spec("ltrim", _string_function(str.lstrip), 1, 1)
_spec("rtrim", _string_function(str.rstrip), 1, 1)
_spec("concat", _concat, 2, 100)
_spec("length", _length, 1, 1)
_spec("substring", _substring, 2, 3)
_spec("replace", _replace, 3, 3)
_spec("lpad", _pad(left=True), 2, 2)
_spec("rpad", _pad(left=False), 2, 2)
_spec("indexof", _indexof, 2, 2)
_spec("startswith", _startswith, 2, 2)
_spec("endswith", _endswith, 2, 2)
_spec("regexp_matches", _regexp_matches, 2, 2)
_spec("regexp_replace", _regexp_replace, 3, 3)
_spec("regexp_substr", _regexp_substr, 2, 2)
_spec("encode", _encode, 2, 2)
_spec("decode", _decode, 2, 2)
for _algorithm in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
    _spec(_algorithm, _digest(_algorithm), 1, 1)
_spec("get", _get, 2, 2)
_spec("isNull", _is_null, 1, 1)
_spec("isUndefined", _is_undefined, 1, 1)
_spec("nanvl", _nanvl, 2, 2)
_spec("chr", _chr, 1, 1)
_spec("numbytes", _numbytes, 1, 1)
_spec("bitand", _bitwise(lambda left, right: left & right), 2, 2)
_spec("bitor", _bitwise(lambda left, right: left | right), 2, 2)
_spec("bitxor", _bitwise(lambda left, right: left ^ right), 2, 2)
_spec("bitnot", _bitnot, 1, 1)
_spec("topic", _topic, 0, 1, pure=False)
_spec("timestamp", _timestamp, 0, 0, pure=False)
_spec("clientid", _clientid, 0, 0, pure=False)
_spec("accountid", _accountid, 0, 0, pure=False)
_spec("traceid", _traceid, 0, 0, pure=False)
_spec("newuuid", _newuuid, 0, 0, pure=False)
_spec("rand", _rand, 0, 0, pure=False)

# Functions AWS has that this engine refuses, with the reason given to the user.
UNSUPPORTED_FUNCTIONS: Final = (
    {
        name: "it calls another AWS service from inside the SQL"
        for name in (
            "aws_lambda",
            "get_thing_shadow",
            "get_dynamodb",
            "get_secret",
            "get_registry_data",
            "machinelearning_predict",
        )
    }
    | {
        name: "Mosquitto does not tell subscribers who published a message"
        for name in (
            "principal",
            "sourceip",
            "get_mqtt_property",
            "get_user_properties",
        )
    }
    | {
        name: "its format follows Java's date library, which is not reproduced"
        for name in ("parse_time", "time_to_epoch")
    }
)
