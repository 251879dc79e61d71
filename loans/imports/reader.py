"""Reading a CSV file's records: bytes read in blocks, decoded line by line so that a decoding
error names its line, and the csv reader run over those lines."""

import codecs
import csv
from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings

READ_BLOCK = 64 * 1024


class Undecodable(Exception):
    """The bytes of `line` cannot be read in the file's encoding. `error` is what the codec raised:
    a UnicodeDecodeError for a byte that is not valid there, or (a codec that fails otherwise)
    any UnicodeError, ValueError or LookupError."""

    def __init__(self, line: int, error: Exception):
        super().__init__(line, error)
        self.line = line
        self.error = error


class LineTooLong(Exception):
    """Line `line` is longer than `limit` bytes: refused before it is read whole."""

    def __init__(self, line: int, limit: int):
        super().__init__(line, limit)
        self.line = line
        self.limit = limit


class UnsupportedEncoding(LookupError):
    """A codec that exists but cannot read a CSV file: one that is not a text encoding (zlib,
    hex, rot13, base64) or one in which a line break or a comma is not the byte it is in ASCII
    (UTF-16, UTF-32, EBCDIC), which the line reader and the csv module rely on."""


# What a CSV file's structure is made of, and must read as the same bytes in its encoding.
_CSV_PUNCTUATION = '"a,b"\r\n'


def resolve_encoding(encoding: str, head: bytes) -> str:
    """The codec to read the file with. "auto" picks UTF-8 (a BOM is dropped) when the first
    bytes decode as UTF-8, GB18030 (a superset of GBK, what Chinese Excel writes) otherwise.
    UTF-8 always drops a BOM and GBK/GB2312 read as GB18030. LookupError for unknown names,
    UnsupportedEncoding (a LookupError) for codecs that cannot read a CSV file."""
    if encoding == "auto":
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            return "gb18030"
        return "utf-8-sig"
    info = codecs.lookup(encoding)
    name = info.name
    if name in ("utf-8", "utf-8-sig"):
        return "utf-8-sig"
    if name in ("gbk", "gb2312"):
        return "gb18030"
    if not getattr(info, "_is_text_encoding", True):
        raise UnsupportedEncoding(encoding)
    try:
        ascii_compatible = _CSV_PUNCTUATION.encode(name) == _CSV_PUNCTUATION.encode("ascii")
    except (UnicodeError, ValueError, LookupError):
        ascii_compatible = False
    if not ascii_compatible:
        raise UnsupportedEncoding(encoding)
    return name


def max_line_bytes() -> int:
    return settings.DESK_IMPORT_MAX_LINE_BYTES


class _Lines:
    """The file's lines decoded one at a time, counting lines and bytes as it goes. A line longer
    than `max_line` bytes is LineTooLong as soon as that many bytes of it are read."""

    def __init__(self, stream: BinaryIO, head: bytes, encoding: str, *, max_line: int | None = None):
        self.stream = stream
        self.head = head
        self.encoding = encoding
        self.max_line = max_line if max_line is not None else max_line_bytes()
        self.line = 0
        self.bytes_read = 0

    def _byte_lines(self) -> Iterator[bytes]:
        # Splitting the bytes on LF is safe for the encodings resolve_encoding lets through: none
        # uses the byte 0x0A inside a character.
        pending = bytearray(self.head)
        # Where the search for the next LF resumes: the bytes before it were searched already, so
        # a long line is searched once, not once per block read (which made it quadratic).
        searched = 0
        while True:
            start = 0
            while (end := pending.find(b"\n", searched)) != -1:
                if end + 1 - start > self.max_line:
                    raise LineTooLong(self.line + 1, self.max_line)
                self.line += 1
                self.bytes_read += end + 1 - start
                yield bytes(pending[start : end + 1])
                start = searched = end + 1
            del pending[:start]
            searched = len(pending)
            if len(pending) > self.max_line:
                raise LineTooLong(self.line + 1, self.max_line)
            block = self.stream.read(READ_BLOCK)
            if not block:
                break
            pending += block
        if pending:
            self.line += 1
            self.bytes_read += len(pending)
            yield bytes(pending)

    def __iter__(self) -> Iterator[str]:
        try:
            decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        except (LookupError, TypeError, ValueError) as error:
            raise Undecodable(1, LookupError(str(error))) from error
        for raw in self._byte_lines():
            try:
                yield decoder.decode(raw, final=False)
            except (UnicodeError, ValueError, LookupError, TypeError) as error:
                raise Undecodable(self.line, error) from error
        try:
            tail = decoder.decode(b"", final=True)
        except (UnicodeError, ValueError, LookupError, TypeError) as error:
            raise Undecodable(self.line, error) from error
        if tail:
            yield tail


def _records(lines: _Lines) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, its fields), blank lines left out. csv.Error and Undecodable
    propagate with the line they happened on."""
    reader = csv.reader(lines, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _BadRecord(reader.line_num or start, str(error)) from error
        if record and any(value.strip() for value in record):
            yield start, record


class _BadRecord(Exception):
    """The record starting on `line` is not valid CSV."""

    def __init__(self, line: int, reason: str):
        super().__init__(line, reason)
        self.line = line
        self.reason = reason
