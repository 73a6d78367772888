"""Merkle trees, inclusion proofs and consistency proofs as RFC 9162 section 2.1 defines them.

This is the pure half of Hallmark's log (DESIGN.md, Architecture): hashes in, hashes out, no
database. The storage layer keeps every *complete perfect subtree* of the log in one table keyed
by ``(level, index)`` (a :data:`NodeId`), so the API here is two-phase:

1. ``*_nodes(...)`` says which stored nodes a root or proof needs, so the caller can fetch them
   all in one batched query;
2. the matching function turns the fetched ``{NodeId: hash}`` mapping into the root or proof.

A subtree hash that RFC 9162 needs but that is not a perfect aligned subtree is always a range
that ends at the tree's right edge; it is folded from that range's decomposition into perfect
subtrees, so a proof never needs more than a few dozen stored nodes.

Appends go through :class:`CompactRange`, the right frontier of the tree (one hash per set bit
of the size); each append reports the nodes it completed, which are exactly the rows to insert.

References:

- RFC 9162 section 2.1.1 (MTH), 2.1.3 (inclusion proofs), 2.1.4 (consistency proofs):
  https://www.rfc-editor.org/rfc/rfc9162#section-2.1
- Compact ranges as used by the transparency-dev tooling: the frontier of perfect subtrees
  covering ``[0, size)``.

Hashes are raw 32-byte ``bytes`` everywhere in this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from hallmark.errors import LedgerError, ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MemoryTree",
    "NodeId",
    "consistency_nodes",
    "consistency_proof",
    "inclusion_nodes",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_nodes",
    "verify_consistency",
    "verify_inclusion",
]

#: ``(level, index)``: the hash of the perfect subtree over leaves
#: ``[index * 2**level, (index + 1) * 2**level)``. Level 0 holds the leaf hashes.
NodeId = tuple[int, int]

HASH_SIZE: Final = 32

#: MTH({}) = SHA-256() (RFC 9162 section 2.1.1): the root of the empty log.
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d0}) = SHA-256(0x00 || d0), the hash of one log entry."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right), the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


# --- Ranges and the nodes that cover them --------------------------------------------------------


def _split(width: int) -> int:
    """The largest power of two smaller than ``width`` (RFC 9162's ``k``); ``width`` > 1."""
    return 1 << ((width - 1).bit_length() - 1)


def _range_ids(start: int, end: int) -> list[NodeId]:
    """The perfect aligned subtrees whose union is ``[start, end)``, largest first.

    RFC 9162 splits a range at the largest power of two below its width, so MTH of a range that
    starts on a boundary of its own top power of two is the right fold of exactly these
    subtrees. Every range a proof asks for starts on such a boundary; a range that does not
    would have a different MTH, so it is refused rather than silently answered wrongly.
    """
    width = end - start
    if width <= 0:
        return []
    level = width.bit_length() - 1
    if start & ((1 << level) - 1):
        raise LedgerError(f"The leaf range [{start}, {end}) is not aligned to a subtree boundary.")
    ids: list[NodeId] = []
    position = start
    while level >= 0:
        if (width >> level) & 1:
            ids.append((level, position >> level))
            position += 1 << level
        level -= 1
    return ids


def _lookup(nodes: Mapping[NodeId, bytes], node: NodeId) -> bytes:
    try:
        return nodes[node]
    except KeyError:
        level, index = node
        raise LedgerError(
            f"The log store has no node at level {level}, index {index}; "
            "it was not fetched, or the stored tree is incomplete."
        ) from None


def _fold(ids: Sequence[NodeId], nodes: Mapping[NodeId, bytes]) -> bytes:
    """Fold subtree hashes right to left, the order RFC 9162's recursion combines them in."""
    value = _lookup(nodes, ids[-1])
    for node in reversed(ids[:-1]):
        value = node_hash(_lookup(nodes, node), value)
    return value


def _range_hash(start: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    return _fold(_range_ids(start, end), nodes)


def _ids_of(ranges: Iterable[tuple[int, int]]) -> set[NodeId]:
    ids: set[NodeId] = set()
    for start, end in ranges:
        ids.update(_range_ids(start, end))
    return ids


def _check_size(size: int, what: str = "tree size") -> None:
    # bool is an int subclass; a True size is a bug in the caller, not a tree of one leaf.
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise LedgerError(f"The {what} must be a whole number of leaves, not {size!r}.")


# --- Roots ----------------------------------------------------------------------------------------


def root_nodes(size: int) -> list[NodeId]:
    """The stored nodes whose fold is the root of the first ``size`` leaves, largest first."""
    _check_size(size)
    return _range_ids(0, size)


def root(size: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[0:size]) from the nodes listed by :func:`root_nodes`."""
    ids = root_nodes(size)
    if not ids:
        return EMPTY_ROOT
    return _fold(ids, nodes)


# --- Inclusion proofs (RFC 9162 section 2.1.3) ----------------------------------------------------


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PATH(index, D[size]), leaf to root.

    The recursion of section 2.1.3.1 unrolled: at each step the sibling of the half holding
    the leaf joins the path. It is built root first, so it is reversed at the end.
    """
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _check_index(index: int, size: int) -> None:
    _check_size(size)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise LedgerError(f"A leaf index must be a whole number, not {index!r}.")
    if index >= size:
        raise LedgerError(
            f"Leaf {index} is not in a tree of {size} leaves (leaves are numbered from 0)."
        )


def inclusion_nodes(index: int, size: int) -> set[NodeId]:
    """The stored nodes :func:`inclusion_proof` needs for leaf ``index`` in a tree of ``size``."""
    _check_index(index, size)
    return _ids_of(_inclusion_ranges(index, size))


def inclusion_proof(index: int, size: int, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, ordered from the leaf to the root."""
    _check_index(index, size)
    return [_range_hash(start, end, nodes) for start, end in _inclusion_ranges(index, size)]


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"The {what} is not a {HASH_SIZE}-byte SHA-256 hash.")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    The algorithm of RFC 9162 section 2.1.3.2. Returns nothing; raises :class:`ProofError`
    saying in plain words what does not match.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProofError(f"The tree size {size!r} is not a whole number of leaves.")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ProofError(f"The leaf index {index!r} is not a whole number.")
    if index >= size:
        raise ProofError(
            f"Leaf {index} cannot be in a tree of {size} leaves (leaves are numbered from 0)."
        )
    _check_hash(leaf_hash, "entry hash")
    _check_hash(root, "root hash")
    for position, element in enumerate(proof):
        _check_hash(element, f"proof hash number {position + 1}")
    expected = len(_inclusion_ranges(index, size))
    if len(proof) != expected:
        raise ProofError(
            f"The inclusion proof has {len(proof)} hashes, but leaf {index} in a tree of "
            f"{size} leaves needs exactly {expected}."
        )

    # The depth checks on ``sn`` below are kept exactly as RFC 9162 writes the algorithm, so it
    # can be audited line by line; the length check above already makes them unreachable.
    fn, sn = index, size - 1
    value = leaf_hash
    for element in proof:
        if sn == 0:
            raise ProofError("The inclusion proof is longer than the tree is deep.")
        if fn & 1 or fn == sn:
            value = node_hash(element, value)
            # Along the right edge the tree skips levels (RFC 9162 2.1.3.2 step 4.b).
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            value = node_hash(value, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("The inclusion proof is shorter than the tree is deep.")
    if value != root:
        raise ProofError(
            f"The inclusion proof does not lead to the log's root hash: this entry is not "
            f"leaf {index} of the log at size {size}."
        )


# --- Consistency proofs (RFC 9162 section 2.1.4) --------------------------------------------------


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PROOF(old, D[new]) of section 2.1.4.1.

    SUBPROOF unrolled for 0 < old < new. ``complete`` is the recursion's flag ``b``: it stays
    true while the old tree is still a whole left subtree, whose hash the verifier already has.
    """
    ranges: list[tuple[int, int]] = []
    start, m, n, complete = 0, old, new, True
    while m != n:
        k = _split(n)
        if m <= k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            n -= k
            complete = False
    if not complete:
        ranges.append((start, start + m))
    ranges.reverse()
    return ranges


def _check_sizes(old: int, new: int) -> None:
    _check_size(old, "older tree size")
    _check_size(new, "newer tree size")
    if old > new:
        raise LedgerError(
            f"A consistency proof goes from a smaller tree to a larger one, not {old} to {new}."
        )


def consistency_nodes(old: int, new: int) -> set[NodeId]:
    """The stored nodes :func:`consistency_proof` needs from size ``old`` to size ``new``."""
    _check_sizes(old, new)
    if old == 0 or old == new:
        return set()
    return _ids_of(_consistency_ranges(old, new))


def consistency_proof(old: int, new: int, nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """PROOF(old, D[new]) of RFC 9162 section 2.1.4.1; empty when ``old`` is 0 or ``new``."""
    _check_sizes(old, new)
    if old == 0 or old == new:
        return []
    return [_range_hash(start, end, nodes) for start, end in _consistency_ranges(old, new)]


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` leaves extends the tree of ``old_size`` leaves.

    The algorithm of RFC 9162 section 2.1.4.2, plus the cases it leaves to the caller: equal
    sizes need an empty proof and equal roots, and every tree extends the empty tree.
    Raises :class:`ProofError` saying in plain words what does not match.
    """
    for value, what in ((old_size, "older"), (new_size, "newer")):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProofError(f"The {what} tree size {value!r} is not a whole number of leaves.")
    if old_size > new_size:
        raise ProofError(
            f"The older tree ({old_size} leaves) is larger than the newer one ({new_size}): "
            "a log never shrinks."
        )
    _check_hash(old_root, "older root hash")
    _check_hash(new_root, "newer root hash")
    for position, element in enumerate(proof):
        _check_hash(element, f"proof hash number {position + 1}")

    if old_size == new_size:
        if proof:
            raise ProofError("Two trees of the same size need an empty consistency proof.")
        if old_root != new_root:
            raise ProofError(
                f"The log shows two different root hashes for the same size {old_size}: "
                "it has been rewritten."
            )
        return
    if old_size == 0:
        if proof:
            raise ProofError("Every tree extends the empty tree; the proof must be empty.")
        if old_root != EMPTY_ROOT:
            raise ProofError("The root hash given for the empty tree is not the empty root.")
        return

    expected = len(_consistency_ranges(old_size, new_size))
    if len(proof) != expected:
        raise ProofError(
            f"The consistency proof has {len(proof)} hashes, but going from {old_size} to "
            f"{new_size} leaves needs exactly {expected}."
        )

    path = list(proof)
    # When the old tree is a perfect left subtree its root is not in the proof: the verifier
    # already holds it (section 2.1.4.2 step 2).
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_value = new_value = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("The consistency proof is longer than the tree is deep.")
        if fn & 1 or fn == sn:
            old_value = node_hash(element, old_value)
            new_value = node_hash(element, new_value)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_value = node_hash(new_value, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("The consistency proof is shorter than the tree is deep.")
    if old_value != old_root:
        raise ProofError(
            f"The consistency proof does not match the older root hash (size {old_size}): "
            "the log is not an extension of that checkpoint."
        )
    if new_value != new_root:
        raise ProofError(
            f"The consistency proof does not match the newer root hash (size {new_size}): "
            "the log is not an extension of the older checkpoint."
        )


# --- Appending ------------------------------------------------------------------------------------


class CompactRange:
    """The right frontier of a log: the perfect subtrees whose union is ``[0, size)``.

    That is all an appender needs to hold: one hash per set bit of ``size``, largest subtree
    first (:meth:`frontier_ids`). The storage layer rebuilds it from those stored nodes at the
    start of an append transaction, appends, and inserts the nodes :meth:`append` reports.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        _check_size(size)
        if len(hashes) != size.bit_count():
            raise LedgerError(
                f"A tree of {size} leaves has a frontier of {size.bit_count()} hashes, "
                f"not {len(hashes)}."
            )
        for value in hashes:
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise LedgerError(f"Frontier hashes are {HASH_SIZE}-byte SHA-256 hashes.")
        self._size = size
        self._hashes = list(hashes)

    @staticmethod
    def frontier_ids(size: int) -> list[NodeId]:
        """The nodes a :class:`CompactRange` of ``size`` leaves is built from, largest first."""
        return root_nodes(size)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The frontier hashes, in the order of :meth:`frontier_ids`."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[NodeId, bytes]]:
        """Add one leaf; return every node it completes, the leaf itself first."""
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise LedgerError(f"A leaf hash is a {HASH_SIZE}-byte SHA-256 hash.")
        index = self._size
        stack = self._hashes
        value = leaf_hash
        completed: list[tuple[NodeId, bytes]] = [((0, index), value)]
        # Each trailing 1 bit of the old size is a frontier subtree of the same height as the
        # one just finished, so the two merge; this loop is the whole cost of an append.
        level, position = 0, index
        while position & 1:
            value = _sha256(b"\x01" + stack.pop() + value).digest()
            level += 1
            position >>= 1
            completed.append(((level, position), value))
        stack.append(value)
        self._size = index + 1
        return completed

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        value = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            value = node_hash(left, value)
        return value

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"


class MemoryTree:
    """A whole log in memory, stored exactly as the database stores it: by ``(level, index)``.

    For tests, benchmarks and the offline verifier's tests. Nodes are kept as one list per
    level rather than one dict: the same ``NodeId -> hash`` map in 40% of the memory (about
    170 MB rather than 420 MB for a million leaves, measured). Every root and proof goes
    through the same two-phase functions the database path uses, with :meth:`nodes` standing
    in for the batched query.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = []
        self._frontier = CompactRange()

    @property
    def size(self) -> int:
        return self._frontier.size

    def append(self, data: bytes) -> int:
        """Append an entry (hashed here with :func:`leaf_hash`); return its leaf index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, value: bytes) -> int:
        """Append an already-hashed leaf; return its leaf index."""
        index = self._frontier.size
        levels = self._levels
        for (level, _), node in self._frontier.append(value):
            if level == len(levels):
                levels.append([])
            levels[level].append(node)
        return index

    def nodes(self, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """The stored hashes for ``ids``: the in-memory twin of the one batched query."""
        found: dict[NodeId, bytes] = {}
        for level, index in ids:
            try:
                found[(level, index)] = self._levels[level][index]
            except IndexError:
                raise LedgerError(f"No node at level {level}, index {index}.") from None
        return found

    def leaf_hash(self, index: int) -> bytes:
        _check_index(index, self.size)
        return self._levels[0][index]

    def _resolve(self, size: int | None) -> int:
        if size is None:
            return self.size
        _check_size(size)
        if size > self.size:
            raise LedgerError(f"The log has {self.size} leaves, fewer than the {size} asked for.")
        return size

    def root(self, size: int | None = None) -> bytes:
        size = self._resolve(size)
        return root(size, self.nodes(root_nodes(size)))

    def frontier(self, size: int | None = None) -> CompactRange:
        """A :class:`CompactRange` for the first ``size`` leaves, read from stored nodes."""
        size = self._resolve(size)
        ids = CompactRange.frontier_ids(size)
        found = self.nodes(ids)
        return CompactRange(size, [found[node] for node in ids])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = self._resolve(size)
        return inclusion_proof(index, size, self.nodes(inclusion_nodes(index, size)))

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = self._resolve(new)
        return consistency_proof(old, new, self.nodes(consistency_nodes(old, new)))
