"""Reading a topology file with every cost bounded by the input: bytes, time, nesting, values.

A topology is small (a few hundred YAML values), so anything far bigger is refused with one line
before it can cost seconds, memory or a RecursionError:

- the file: at most MAX_FILE_BYTES + 1 bytes are ever read, also from a device, a pipe or a /proc
  file whose size `stat` cannot tell (`-t /dev/zero` once hung), and a pipe that never ends is
  given up after READ_SECONDS;
- nesting deeper than MAX_DEPTH (5,000 brackets once ended in a RecursionError in PyYAML's
  recursive composer);
- more than MAX_VALUES values, counting an alias each time it is used ("billion laughs": a few
  lines of anchors that expand to 10**9 values), and an alias inside the value it names;
- a key repeated in one mapping, found while composing, so 100,000 copies of a key stop at the
  second (the constructor keeps its check for keys that differ in text but not in value, 1 / 0x1);
- numbers longer than MAX_NUMBER_CHARS (Python refuses to convert more than 4,300 digits, and
  sexagesimal `1:2:3:...` takes quadratic time).
"""

from __future__ import annotations

import os
import select
import stat
import time
from pathlib import Path
from typing import Any

import yaml

from lab.topology.errors import TopologyError

MAX_FILE_BYTES = 1 << 20
READ_SECONDS = 5.0  # a pipe or device that gives no end of file within this is given up
MAX_DEPTH = 32  # the deepest real path (vpcs[].security_groups[].ingress[].ports[]) is 9 levels
MAX_VALUES = 20_000  # benchmarks: 7,109 at N = 200 VPCs (the model allows 256: 9,069); shipped: <= 292
MAX_NUMBER_CHARS = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


def read_bounded(path: Path) -> bytes:
    """The file's bytes, refusing more than MAX_FILE_BYTES without reading more than one byte past it."""
    where = str(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise _unreadable(where, err) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_FILE_BYTES:
            raise TopologyError(where, f"file is {info.st_size} bytes, over the 1 MiB limit", "split or shrink the topology")
        return _read_at_most(fd, where, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def _read_at_most(fd: int, where: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    deadline = time.monotonic() + READ_SECONDS
    while total < limit:
        try:
            chunk = os.read(fd, limit - total)
        except BlockingIOError:  # a pipe or terminal with nothing to read yet
            chunk = None
        except OSError as err:  # a directory: EISDIR on read
            raise _unreadable(where, err) from None
        if chunk == b"":
            break
        if chunk:
            chunks.append(chunk)
            total += len(chunk)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (chunk is None and not select.select([fd], [], [], remaining)[0]):
            raise TopologyError(where, f"gave no end of file within {READ_SECONDS:g} s ({total} bytes read)",
                                "give the path of a YAML file, or close the pipe's writing end")
    if total >= limit:
        raise TopologyError(where, f"gives more than {MAX_FILE_BYTES} bytes (not a regular file, or it grew), "
                            "over the 1 MiB limit", "give the path of a YAML file of at most 1 MiB")
    return b"".join(chunks)


def _unreadable(where: str, err: OSError) -> TopologyError:
    return TopologyError(where, f"cannot be read ({err.strerror})", "give the path of a readable YAML file")


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}"


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with the bounds above; its errors are TopologyErrors at `line N`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0
        self._sizes: dict[str, int] = {}  # anchor -> how many values it expands to, once composed

    def _count(self, values: int, mark: Any) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise TopologyError(_at(mark), f"the file has more than {MAX_VALUES:,} values (an alias counts each time "
                                "it is used)", "a topology needs far fewer: remove repeated or generated content")

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        """Refuse deep brackets while scanning: the scanner keeps a possible key per open bracket
        and walks them all for every token, so 1,000 open brackets cost it half a second."""
        if self.flow_level >= MAX_DEPTH:
            raise _too_deep(self.get_mark())
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.anchors:  # (an undefined alias is PyYAML's own error)
                size = self._sizes.get(event.anchor)
                if size is None:
                    raise TopologyError(_at(event.start_mark), f"alias *{_cut(event.anchor)} is used inside the "
                                        "value it names, which would never end", "remove that alias")
                self._count(size, event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _too_deep(event.start_mark)
        first = self._values
        self._count(1, event.start_mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if event.anchor is not None:
            self._sizes[event.anchor] = self._values - first
        return node

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        """PyYAML's own, plus: a plain-text key seen twice stops here, before the rest is read."""
        start_event = self.get_event()
        tag = start_event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.MappingNode, None, start_event.implicit)
        node = yaml.MappingNode(tag, [], start_event.start_mark, None, flow_style=start_event.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        seen: set[str] = set()
        while not self.check_event(yaml.MappingEndEvent):
            key = self.compose_node(node, None)
            if isinstance(key, yaml.ScalarNode) and key.tag == _STR_TAG:
                if key.value in seen:
                    raise _duplicate(key.value, key)
                seen.add(key.value)
            value = self.compose_node(node, key)
            node.value.append((key, value))
        node.end_mark = self.get_event().end_mark
        return node


def _too_deep(mark: Any) -> TopologyError:
    return TopologyError(_at(mark), f"nested deeper than {MAX_DEPTH} levels",
                         "a topology nests about 10 levels deep: remove the extra brackets or indentation")


def _duplicate(key: Any, node: yaml.Node) -> TopologyError:
    return TopologyError(_at(node.start_mark), f"key {_cut(repr(key))} appears twice in one mapping",
                         "keep only one of them")


def _construct_mapping(loader: BoundedLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """Refuse duplicate keys (PyYAML keeps the last one silently, hiding typos); `<<` merges are not keys."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise _duplicate(key, key_node)
            seen.add(key)
        except TypeError:  # a list or mapping as a key: SafeConstructor's own "unhashable key" error follows
            break
    return loader.construct_mapping(node, deep=deep)


def _bounded_scalar(base: Any) -> Any:
    """A number (or date) constructor that refuses what would be slow or would crash in Python."""
    def construct(loader: BoundedLoader, node: yaml.ScalarNode) -> Any:
        if len(node.value) > MAX_NUMBER_CHARS:
            raise TopologyError(_at(node.start_mark), f"a number {len(node.value)} characters long",
                                "numbers here are ports, counts and seconds: shorten it, or quote it to make it a string")
        try:
            return base(loader, node)
        except (ValueError, OverflowError, AttributeError):  # `!!int abc`, `!!timestamp x`
            kind = node.tag.rsplit(":", 1)[-1]
            raise TopologyError(_at(node.start_mark), f"{_cut(repr(node.value))} is not a valid !!{kind}",
                                f"write a valid {kind} there, or remove the !!{kind} tag") from None
    return construct


BoundedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
for _kind in ("int", "float", "timestamp"):
    _tag = f"tag:yaml.org,2002:{_kind}"
    BoundedLoader.add_constructor(_tag, _bounded_scalar(yaml.SafeLoader.yaml_constructors[_tag]))


def load_yaml(text: str, source: str) -> Any:
    """The single document in `text`, or a TopologyError naming `source` and where in it."""
    try:
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except TopologyError as err:  # raised by the loader itself: say which file
        raise TopologyError(f"{source}: {err.path}", err.problem, err.fix) from None
    except yaml.reader.ReaderError as err:  # a control character; PyYAML's text spans two lines
        line = text.count("\n", 0, err.position) + 1
        char = f"#x{err.character:04x}" if isinstance(err.character, int) else repr(err.character)
        raise TopologyError(f"{source}: line {line}", f"not valid YAML (character {char} is not allowed)",
                            "remove it: YAML text is printable characters, tabs and newlines") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"{source}: line {mark.line + 1}, column {mark.column + 1}" if mark else source
        if err.context == "expected a single document in the stream":
            raise TopologyError(where, "a second YAML document starts here", "keep one document (no second ---) "
                                "in a topology file") from None
        if err.problem == "found unhashable key":
            raise TopologyError(where, "a list or mapping is used as a key", "write a plain name before the ':'") from None
        # A duplicate anchor's problem is just "second occurrence"; its context names the anchor.
        problem = (err.context or "").split(";")[0] if err.problem == "second occurrence" else err.problem
        raise TopologyError(where, f"not valid YAML ({_one_line(problem or '')})", "check indentation and quoting there") from None
    except yaml.YAMLError as err:
        raise TopologyError(source, f"not valid YAML ({_one_line(str(err))})", "check the file's syntax") from None
    except RecursionError:  # a safety net: MAX_DEPTH should make this unreachable
        raise TopologyError(source, "nested too deeply", "remove the extra brackets or indentation") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int = 60) -> str:
    """User text inside a message: one line, and short (a 1 MiB key must not make a 1 MiB message)."""
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
