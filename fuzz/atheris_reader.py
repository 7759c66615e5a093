"""Coverage-guided fuzzing of the event reader with atheris (libFuzzer for Python).

It drives the target of the hypothesis suite (tests/fuzz/test_fuzz_reader.py),
:func:`engage_rules.testing.reader_fuzz.check_reader`: the input is read as a JSON Lines
file, and any exception — an AssertionError from a broken invariant, or anything the
reader raised — is a finding.  See fuzz/README.md for how to run it.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from engage_rules.testing.reader_fuzz import check_reader


def test_one_input(data: bytes) -> None:
    check_reader(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
