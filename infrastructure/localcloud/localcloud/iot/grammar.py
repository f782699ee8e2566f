"""The grammar of AWS IoT SQL (version 2016-03-23) as this engine accepts it.

Written for Lark (LALR(1) with its contextual lexer): the grammar is data, so
what the engine accepts can be read in one place, and Lark's errors carry the
line, column and offending token that `SqlParseError` quotes. Everything the
grammar does not describe (nested `SELECT`s, `SET`, `LIMIT`, array indexing
with brackets, ...) is rejected when a rule is created.

Keywords are case-insensitive and reserved: a JSON key spelled like one is read
with `get(*, ...)`-free workarounds only (as in AWS, where `get()` exists for
keys that dot notation cannot reach). `VALUE` is a keyword only right after
`SELECT` and only when an expression follows, so a field named `value` works.
"""

from __future__ import annotations

from functools import cache

from lark import Lark

RESERVED_WORDS = (
    "select", "from", "where", "and", "or", "not", "is", "null", "true", "false",
    "as", "in", "case", "when", "then", "else", "end", "cast", "undefined",
)  # fmt: skip

GRAMMAR = r"""
start: "SELECT"i select_clause "FROM"i STRING [where_clause]

where_clause: "WHERE"i expr

// ${...} substitution templates in rule actions hold one expression
template: expr

select_clause: VALUE_KW expr                  -> select_value
             | select_item ("," select_item)*  -> select_items

select_item: "*"                 -> star_item
           | expr ["AS"i alias] -> expr_item

alias: NAME ("." NAME)*

?expr: or_test

?or_test: and_test
        | or_test OR and_test        -> binary

?and_test: not_test
         | and_test AND not_test     -> binary

?not_test: predicate
         | "NOT"i not_test           -> not_

?predicate: sum
          | sum COMPARE sum                -> binary
          | sum IN sum                     -> binary
          | sum "IS"i "NULL"i              -> is_null
          | sum "IS"i "NOT"i "NULL"i       -> is_not_null
          | sum "IS"i "UNDEFINED"i         -> is_undefined
          | sum "IS"i "NOT"i "UNDEFINED"i  -> is_not_undefined

?sum: term
    | sum ADD term                   -> binary

?term: factor
     | term MUL factor               -> binary

?factor: postfix
       | "-" factor                  -> negative
       | "+" factor

?postfix: atom
        | postfix "." NAME           -> member

?atom: NUMBER                                  -> number
     | STRING                                  -> string
     | "TRUE"i                                 -> true
     | "FALSE"i                                -> false
     | "NULL"i                                 -> null
     | NAME                                    -> field
     | NAME "(" [argument ("," argument)*] ")" -> call
     | "CAST"i "(" expr "AS"i NAME ")"         -> cast
     | "CASE"i [expr] when+ ["ELSE"i expr] "END"i -> case
     | "[" [expr ("," expr)*] "]"              -> array
     | "{" [pair ("," pair)*] "}"              -> object
     | "(" expr ")"

?argument: expr
         | "*"                       -> star_argument

when: "WHEN"i expr "THEN"i expr

pair: STRING ":" expr

OR: "OR"i
AND: "AND"i
IN: "IN"i
COMPARE: "<>" | "!=" | "<=" | ">=" | "=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/" | "%"
VALUE_KW.2: /value(?=\s+(?!(?:from|as)\b)[^\s,=<>!+\-*\/%.)])/i
NAME: /(?!(?:__RESERVED__)\b)[a-z_][a-z0-9_]*/i
STRING: /'(?:[^'\\]|\\.|'')*'/ | /"(?:[^"\\]|\\.)*"/
NUMBER: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/

%import common.WS
%ignore WS
""".replace("__RESERVED__", "|".join(RESERVED_WORDS))


@cache
def parser() -> Lark:
    """Built once per process: constructing the LALR tables takes milliseconds."""
    return Lark(
        GRAMMAR,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "template"],
    )
