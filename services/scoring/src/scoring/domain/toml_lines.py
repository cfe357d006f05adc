"""Where each key and array element of a TOML document starts: the line numbers a model file's
refusal names (`tomllib` parses, but keeps no positions).

`key_lines(text)` maps key paths such as `("factors", 2, "levels", 1, "points")` to 1-based
line numbers. It expects text `tomllib` has already accepted, so it only has to follow the
structure: tables, arrays of tables, dotted keys, inline tables and arrays, and the four kinds
of string (whose brackets, quotes and newlines must not be mistaken for structure).
"""

from typing import Final

Path = tuple[str | int, ...]
_BARE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.tables: dict[Path, int] = {}  # array-of-tables path -> elements so far

    # --- characters ----------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> str:
        position = self.at + ahead
        return self.text[position] if position < len(self.text) else ""

    def take(self, count: int = 1) -> str:
        taken = self.text[self.at : self.at + count]
        self.line += taken.count("\n")
        self.at += count
        return taken

    def skip_blank(self, newlines: bool) -> None:
        """Spaces and tabs (and, with `newlines`, line ends and comments)."""
        while self.peek():
            char = self.peek()
            if char in " \t" or (newlines and char in "\r\n"):
                self.take()
            elif char == "#" and newlines:
                self.skip_comment()
            else:
                return

    def skip_comment(self) -> None:
        while self.peek() and self.peek() != "\n":
            self.take()

    def string(self) -> str:
        quote = self.peek()
        if self.text.startswith(quote * 3, self.at):
            self.take(3)
            end = self.text.find(quote * 3, self.at) if quote == "'" else self._basic_end(True)
            # A closing delimiter may be followed by up to two more quotes that belong to it.
            while self.text.startswith(quote * 4, end):
                end += 1
            value = self.take(end - self.at)
            self.take(3)
            return value
        self.take()
        end = self.text.find(quote, self.at) if quote == "'" else self._basic_end(False)
        value = self.take(end - self.at)
        self.take()
        return value  # escapes are left as written: a key that uses them falls back to its table

    def _basic_end(self, multiline: bool) -> int:
        position = self.at
        delimiter = '"""' if multiline else '"'
        while not self.text.startswith(delimiter, position):
            position += 2 if self.text[position] == "\\" else 1
        return position

    # --- structure -------------------------------------------------------------------------

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_blank(newlines=False)
            if self.peek() in "\"'":
                parts.append(self.string())
            else:
                start = self.at
                while self.peek() in _BARE and self.peek():
                    self.take()
                parts.append(self.text[start : self.at])
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.take()

    def resolve(self, parts: list[str]) -> Path:
        """A header's path, with each array of tables on the way at its latest element."""
        path: Path = ()
        for part in parts:
            path += (part,)
            if path in self.tables:
                path += (self.tables[path] - 1,)
        return path

    def document(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self.skip_blank(newlines=True)
            if not self.peek():
                return self.lines
            line = self.line
            if self.peek() == "[":
                array = self.peek(1) == "["
                self.take(2 if array else 1)
                parts = self.key()
                self.take(2 if array else 1)
                if array:
                    parent = (*self.resolve(parts[:-1]), parts[-1])
                    self.lines.setdefault(parent, line)
                    self.tables[parent] = self.tables.get(parent, 0) + 1
                    table = (*parent, self.tables[parent] - 1)
                else:
                    table = self.resolve(parts)
                self.lines[table] = line
            else:
                self.pair(table)

    def pair(self, within: Path) -> None:
        line = self.line
        path = (*within, *self.key())
        self.lines[path] = line
        self.take()  # "="
        self.skip_blank(newlines=False)
        self.value(path)

    def value(self, path: Path) -> None:
        char = self.peek()
        if char in "\"'":
            self.string()
        elif char == "[":
            self.take()
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.take()
                    return
                self.lines[(*path, index)] = self.line
                self.value((*path, index))
                index += 1
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.take()
        elif char == "{":
            self.take()
            while True:
                self.skip_blank(newlines=False)
                if self.peek() == "}":
                    self.take()
                    return
                self.pair(path)
                self.skip_blank(newlines=False)
                if self.peek() == ",":
                    self.take()
        else:  # a number, date, boolean: up to the next delimiter
            while self.peek() and self.peek() not in ",]}\r\n#":
                self.take()


def key_lines(text: str) -> dict[Path, int]:
    """Key path -> the line it starts on, for a document `tomllib` accepts."""
    return _Scanner(text).document()


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of `path`, or of its nearest ancestor that has one (a missing key: its table)."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
