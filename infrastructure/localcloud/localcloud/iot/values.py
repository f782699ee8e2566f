"""AWS IoT SQL values and operators (SQL version 2016-03-23).

Values are plain Python objects, as `json.loads` gives them: `int` (AWS `Int`),
`float` (AWS `Decimal`, here with double precision rather than 34 digits),
`str`, `bool`, `list`, `dict`, `None` (JSON `null`), plus `UNDEFINED` for
AWS's `Undefined`: what a missing key, a wrong argument or an impossible
operation yields. `Undefined` keys are left out of the output object.

The operators follow the tables of AWS's "Operators" page: `+` concatenates
as soon as one side is a string, arithmetic accepts strings that convert to
numbers, comparisons convert both sides to numbers, `=` between mismatched
types is false, and anything involving `Undefined` is `Undefined`.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final


class _Undefined:
    """AWS IoT SQL's `Undefined`: a non-value that disappears from output."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def to_number(value: Any) -> int | float | None:
    """A number for arithmetic and comparisons, or None when there is none.

    Strings convert when they hold a number (AWS: "If all strings convert to
    decimals correctly"); booleans, null, arrays and objects never do.
    """
    kind = type(value)
    if kind is int or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is str:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def to_boolean(value: Any) -> bool | None:
    """AND, OR and NOT accept booleans and the strings "true"/"false"."""
    if type(value) is bool:
        return bool(value)
    if type(value) is str:
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def to_text(value: Any) -> str | _Undefined:
    """The string form AWS uses when `+` concatenates or `cast` makes a String."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return repr(value)
    if value is None:
        return "null"
    if kind is list or kind is dict:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return UNDEFINED


def _finite(number: float) -> float | _Undefined:
    return number if math.isfinite(number) else UNDEFINED


def add(left: Any, right: Any) -> Any:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if type(left) is str or type(right) is str:
        left_text, right_text = to_text(left), to_text(right)
        if left_text is UNDEFINED or right_text is UNDEFINED:
            return UNDEFINED
        return f"{left_text}{right_text}"
    if type(left) is int and type(right) is int:
        return left + right
    if is_number(left) and is_number(right):
        return _finite(float(left) + float(right))
    return UNDEFINED


def _numeric_operands(left: Any, right: Any) -> tuple[Any, Any] | None:
    if type(left) is int and type(right) is int:
        return left, right
    left_number, right_number = to_number(left), to_number(right)
    if left_number is None or right_number is None:
        return None
    return float(left_number), float(right_number)


def subtract(left: Any, right: Any) -> Any:
    operands = _numeric_operands(left, right)
    if operands is None:
        return UNDEFINED
    result = operands[0] - operands[1]
    return result if type(result) is int else _finite(result)


def multiply(left: Any, right: Any) -> Any:
    operands = _numeric_operands(left, right)
    if operands is None:
        return UNDEFINED
    result = operands[0] * operands[1]
    return result if type(result) is int else _finite(result)


def divide(left: Any, right: Any) -> Any:
    """Int / Int stays an Int, truncated towards zero like Java's division."""
    operands = _numeric_operands(left, right)
    if operands is None or operands[1] == 0:
        return UNDEFINED
    dividend, divisor = operands
    if type(dividend) is int and type(divisor) is int:
        quotient = abs(dividend) // abs(divisor)
        return quotient if (dividend < 0) == (divisor < 0) else -quotient
    return _finite(dividend / divisor)


def modulo(left: Any, right: Any) -> Any:
    """The remainder takes the dividend's sign, like Java's `%`."""
    operands = _numeric_operands(left, right)
    if operands is None or operands[1] == 0:
        return UNDEFINED
    dividend, divisor = operands
    if type(dividend) is int and type(divisor) is int:
        return int(math.fmod(dividend, divisor))
    return _finite(math.fmod(dividend, divisor))


def negate(value: Any) -> Any:
    if type(value) is int or type(value) is float:
        return -value
    number = to_number(value)
    return UNDEFINED if number is None else -float(number)


def _category(value: Any) -> type:
    kind = type(value)
    return float if kind is int else kind


def equals(left: Any, right: Any) -> Any:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if _category(left) is not _category(right):
        return False
    return bool(left == right)


def not_equals(left: Any, right: Any) -> Any:
    result = equals(left, right)
    return result if result is UNDEFINED else not result


def _compare_operands(left: Any, right: Any) -> tuple[Any, Any] | None:
    if is_number(left) and is_number(right):
        return left, right
    left_number, right_number = to_number(left), to_number(right)
    if left_number is None or right_number is None:
        return None
    return left_number, right_number


def less(left: Any, right: Any) -> Any:
    operands = _compare_operands(left, right)
    return UNDEFINED if operands is None else operands[0] < operands[1]


def less_equal(left: Any, right: Any) -> Any:
    operands = _compare_operands(left, right)
    return UNDEFINED if operands is None else operands[0] <= operands[1]


def greater(left: Any, right: Any) -> Any:
    operands = _compare_operands(left, right)
    return UNDEFINED if operands is None else operands[0] > operands[1]


def greater_equal(left: Any, right: Any) -> Any:
    operands = _compare_operands(left, right)
    return UNDEFINED if operands is None else operands[0] >= operands[1]


def logical_and(left: Any, right: Any) -> Any:
    left_bool, right_bool = to_boolean(left), to_boolean(right)
    if left_bool is None or right_bool is None:
        return UNDEFINED
    return left_bool and right_bool


def logical_or(left: Any, right: Any) -> Any:
    left_bool, right_bool = to_boolean(left), to_boolean(right)
    if left_bool is None or right_bool is None:
        return UNDEFINED
    return left_bool or right_bool


def logical_not(value: Any) -> Any:
    boolean = to_boolean(value)
    return UNDEFINED if boolean is None else not boolean


def contained_in(item: Any, collection: Any) -> Any:
    """`x IN array`: true when an element of the array equals x."""
    if item is UNDEFINED or type(collection) is not list:
        return UNDEFINED
    return any(equals(item, element) is True for element in collection)


BINARY_OPERATORS: Final = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": modulo,
    "=": equals,
    "<>": not_equals,
    "!=": not_equals,
    "<": less,
    "<=": less_equal,
    ">": greater,
    ">=": greater_equal,
    "AND": logical_and,
    "OR": logical_or,
    "IN": contained_in,
}
