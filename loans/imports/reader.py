"""Reading a CSV file's records: bytes read in blocks, decoded line by line so that a decoding
error names its line, and the csv reader run over those lines."""

import codecs
import csv
from collections.abc import Iterator
from typing import BinaryIO

READ_BLOCK = 64 * 1024


class Undecodable(Exception):
    """The bytes of `line` are not valid in the file's encoding."""

    def __init__(self, line: int, error: UnicodeDecodeError):
        super().__init__(line, error)
        self.line = line
        self.error = error


def resolve_encoding(encoding: str, head: bytes) -> str:
    """The codec to read the file with. "auto" picks UTF-8 (a BOM is dropped) when the first
    bytes decode as UTF-8, GB18030 (a superset of GBK, what Chinese Excel writes) otherwise.
    UTF-8 always drops a BOM and GBK/GB2312 read as GB18030. LookupError for unknown names."""
    if encoding == "auto":
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            return "gb18030"
        return "utf-8-sig"
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        return "utf-8-sig"
    if name in ("gbk", "gb2312"):
        return "gb18030"
    return name


class _Lines:
    """The file's lines decoded one at a time, counting lines and bytes as it goes."""

    def __init__(self, stream: BinaryIO, head: bytes, encoding: str):
        self.stream = stream
        self.head = head
        self.encoding = encoding
        self.line = 0
        self.bytes_read = 0

    def _byte_lines(self) -> Iterator[bytes]:
        # Splitting the bytes on LF is safe for UTF-8 and GB18030: neither uses the byte 0x0A
        # inside a character.
        pending = self.head
        while True:
            start = 0
            while (end := pending.find(b"\n", start)) != -1:
                yield pending[start : end + 1]
                start = end + 1
            pending = pending[start:]
            block = self.stream.read(READ_BLOCK)
            if not block:
                break
            pending += block
        if pending:
            yield pending

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        for raw in self._byte_lines():
            self.line += 1
            self.bytes_read += len(raw)
            try:
                yield decoder.decode(raw, final=False)
            except UnicodeDecodeError as error:
                raise Undecodable(self.line, error) from error
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
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
