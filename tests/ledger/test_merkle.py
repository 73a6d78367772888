"""Tests for :mod:`hallmark.ledger.merkle`: RFC 9162 roots, proofs and compact ranges.

Every root and proof is checked against a naive implementation written straight from the
recursive definitions of RFC 9162 section 2.1, which shares no code with the module. Known-answer
vectors pin the bytes: roots over the leaves ``bytes([i])`` computed once with that naive code,
and the RFC 6962 vectors used by the Certificate Transparency implementations, so a change in
hashing is caught even if both implementations changed together.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallmark.errors import LedgerError, ProofError
from hallmark.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    NodeId,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_nodes,
    verify_consistency,
    verify_inclusion,
)

# --- A naive reference, straight from RFC 9162 section 2.1 ----------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1), found by counting up as the RFC says."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(hashes: list[bytes]) -> bytes:
    """MTH over leaf hashes (section 2.1.1)."""
    if not hashes:
        return _sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = _k(len(hashes))
    return _sha256(b"\x01" + naive_mth(hashes[:k]) + naive_mth(hashes[k:]))


def naive_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (section 2.1.3.1)."""
    n = len(hashes)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, hashes[:k]), naive_mth(hashes[k:])]
    return [*naive_path(m - k, hashes[k:]), naive_mth(hashes[:k])]


def naive_subproof(m: int, hashes: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (section 2.1.4.1)."""
    n = len(hashes)
    if m == n:
        return [] if b else [naive_mth(hashes)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, hashes[:k], b), naive_mth(hashes[k:])]
    return [*naive_subproof(m - k, hashes[k:], False), naive_mth(hashes[:k])]


# --- Fixtures built once per module: one 300-leaf tree serves every smaller size -----------------

MAX_SIZE = 300
DATA = [i.to_bytes(4, "big") for i in range(MAX_SIZE)]
LEAF_HASHES = [_sha256(b"\x00" + d) for d in DATA]
TREE = MemoryTree()
for _d in DATA:
    TREE.append(_d)
ROOTS = [naive_mth(LEAF_HASHES[:n]) for n in range(MAX_SIZE + 1)]


def flip_bit(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# --- Hashing --------------------------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated_as_rfc_9162_says() -> None:
    assert leaf_hash(b"abc") == _sha256(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == _sha256(b"\x01" + b"L" * 32 + b"R" * 32)
    assert _sha256(b"") == EMPTY_ROOT
    # A leaf whose data is two hashes must not collide with the node over those hashes.
    assert leaf_hash(b"L" * 32 + b"R" * 32) != node_hash(b"L" * 32, b"R" * 32)


# --- Roots ----------------------------------------------------------------------------------------

# Computed once with naive_mth over the leaves bytes([0]), bytes([1]), ...; pinned here so that
# a change to hashing or to the split rule fails loudly.
PINNED_ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    2: "a20bf9a7cc2dc8a08f5f415a71b19f6ac427bab54d24eec868b5d3103449953a",
    3: "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688",
    4: "9bcd51240af4005168f033121ba85be5a6ed4f0e6a5fac262066729b8fbfdecb",
    5: "b855b42d6c30f5b087e05266783fbd6e394f7b926013ccaa67700a8b0c5a596f",
    6: "bb36e7d3d4cee5720cbd323d02fab15962e2ba1dadf5f8fc6eeef4fd6ad056a8",
    7: "3560191803028444b232018ac047fdb561c09c23a7a6876c85e08b5e4d48e9f3",
    8: "ef7f49b620f6c7ea9b963a214da34b5021c6ded8ed57734380a311ab726aa907",
}


@pytest.mark.parametrize("size", range(9))
def test_roots_of_small_trees_match_the_naive_reference_and_pinned_values(size: int) -> None:
    leaves = [bytes([i]) for i in range(size)]
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    expected = naive_mth([_sha256(b"\x00" + leaf) for leaf in leaves])
    assert tree.root() == expected
    assert tree.root().hex() == PINNED_ROOTS[size]


# The RFC 6962 test vectors shared by the Certificate Transparency implementations: eight leaves
# of growing length, and the roots and proofs they give.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
CT_CONSISTENCY = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def test_certificate_transparency_vectors() -> None:
    tree = MemoryTree()
    for leaf in CT_LEAVES:
        tree.append(leaf)
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS
    for (index, size), path in CT_INCLUSION.items():
        assert [h.hex() for h in tree.inclusion_proof(index, size)] == path
        proof = tree.inclusion_proof(index, size)
        verify_inclusion(
            tree.leaf_hash(index), index, size, proof, bytes.fromhex(CT_ROOTS[size - 1])
        )
    for (old, new), path in CT_CONSISTENCY.items():
        assert [h.hex() for h in tree.consistency_proof(old, new)] == path
        verify_consistency(
            old, new, tree.root(old), tree.root(new), tree.consistency_proof(old, new)
        )


def test_roots_of_every_size_match_the_naive_reference() -> None:
    for size in range(MAX_SIZE + 1):
        assert TREE.root(size) == ROOTS[size]


def test_pymerkle_agrees_on_roots() -> None:
    """A second, independent implementation of the same hashing (a dev dependency)."""
    pymerkle = pytest.importorskip("pymerkle")
    other = pymerkle.InmemoryTree(algorithm="sha256")
    for size, data in enumerate(DATA[:100], start=1):
        other.append_entry(data)
        assert other.get_root(size) == ROOTS[size]


def test_root_needs_only_the_frontier_nodes() -> None:
    assert root_nodes(0) == []
    assert root_nodes(13) == [(3, 0), (2, 2), (0, 12)]
    nodes = TREE.nodes(root_nodes(13))
    assert root(13, nodes) == ROOTS[13]
    assert root(0, {}) == EMPTY_ROOT


def test_a_missing_node_is_a_ledger_error_not_a_key_error() -> None:
    nodes = TREE.nodes(root_nodes(13))
    del nodes[(2, 2)]
    with pytest.raises(LedgerError, match="level 2, index 2"):
        root(13, nodes)


# --- Inclusion proofs -----------------------------------------------------------------------------


def test_inclusion_proofs_are_rfc_9162_paths_for_small_trees() -> None:
    for size in range(1, 65):
        for index in range(size):
            assert TREE.inclusion_proof(index, size) == naive_path(index, LEAF_HASHES[:size])


def test_inclusion_proofs_verify_for_every_size_and_index() -> None:
    for size in range(1, MAX_SIZE + 1):
        for index in range(size):
            proof = TREE.inclusion_proof(index, size)
            verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_tampered_inclusion_proofs_fail(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = TREE.inclusion_proof(index, size)
    leaf = LEAF_HASHES[index]

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, 255), label="bit")
        bad = [*proof]
        bad[position] = flip_bit(bad[position], bit)
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, bad, ROOTS[size])
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, proof[:-1], ROOTS[size])

    with pytest.raises(ProofError):
        verify_inclusion(flip_bit(leaf, 0), index, size, proof, ROOTS[size])
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, [*proof, ROOTS[size]], ROOTS[size])
    if size > 1:
        shift = data.draw(st.integers(1, size - 1), label="shift")
        with pytest.raises(ProofError):
            verify_inclusion(leaf, (index + shift) % size, size, proof, ROOTS[size])
    # Checked against the true root of another size, the proof must fail: what an inclusion
    # proof binds is the root, so a different size is caught through its different root.
    other_size = data.draw(st.integers(index + 1, MAX_SIZE), label="other_size")
    if other_size != size:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, other_size, proof, ROOTS[other_size])


def test_verify_inclusion_refuses_impossible_positions_and_bad_hashes() -> None:
    proof = TREE.inclusion_proof(3, 10)
    with pytest.raises(ProofError, match="Leaf 10 cannot be in a tree of 10"):
        verify_inclusion(LEAF_HASHES[3], 10, 10, proof, ROOTS[10])
    with pytest.raises(ProofError, match="Leaf 0 cannot be in a tree of 0"):
        verify_inclusion(LEAF_HASHES[0], 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="needs exactly 4"):
        verify_inclusion(LEAF_HASHES[3], 3, 10, proof[:3], ROOTS[10])
    with pytest.raises(ProofError, match="proof hash number 2"):
        verify_inclusion(LEAF_HASHES[3], 3, 10, [proof[0], b"short", *proof[2:]], ROOTS[10])
    with pytest.raises(ProofError, match="root hash"):
        verify_inclusion(LEAF_HASHES[3], 3, 10, proof, ROOTS[10][:31])
    # A one-leaf tree: the empty proof, and the leaf hash is the root.
    verify_inclusion(LEAF_HASHES[0], 0, 1, [], ROOTS[1])


def test_inclusion_arguments_are_checked() -> None:
    with pytest.raises(LedgerError, match="Leaf 5 is not in a tree of 5"):
        inclusion_nodes(5, 5)
    with pytest.raises(LedgerError):
        inclusion_proof(-1, 5, {})
    with pytest.raises(LedgerError, match="fewer than the 301"):
        TREE.inclusion_proof(0, MAX_SIZE + 1)


# --- Consistency proofs ---------------------------------------------------------------------------


def test_consistency_proofs_are_rfc_9162_proofs_for_small_trees() -> None:
    for new in range(1, 65):
        for old in range(1, new + 1):
            expected = naive_subproof(old, LEAF_HASHES[:new], True)
            assert TREE.consistency_proof(old, new) == expected


def test_consistency_proofs_verify_for_every_pair_of_sizes() -> None:
    for new in range(201):
        for old in range(new + 1):
            proof = TREE.consistency_proof(old, new)
            verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_tampered_consistency_proofs_fail(data: st.DataObject) -> None:
    new = data.draw(st.integers(2, 200), label="new")
    old = data.draw(st.integers(1, new - 1), label="old")
    proof = TREE.consistency_proof(old, new)

    position = data.draw(st.integers(0, len(proof) - 1), label="position")
    bit = data.draw(st.integers(0, 255), label="bit")
    bad = [*proof]
    bad[position] = flip_bit(bad[position], bit)
    with pytest.raises(ProofError):
        verify_consistency(old, new, ROOTS[old], ROOTS[new], bad)
    with pytest.raises(ProofError):
        verify_consistency(old, new, flip_bit(ROOTS[old], bit), ROOTS[new], proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, ROOTS[old], flip_bit(ROOTS[new], bit), proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, ROOTS[old], ROOTS[new], proof[:-1])
    with pytest.raises(ProofError):
        verify_consistency(old, new, ROOTS[old], ROOTS[new], [*proof, ROOTS[old]])
    # A proof for one older size does not link another older size, even with its true root.
    other = data.draw(st.integers(1, new - 1), label="other")
    if other != old:
        with pytest.raises(ProofError):
            verify_consistency(other, new, ROOTS[other], ROOTS[new], proof)


def test_consistency_edge_cases() -> None:
    verify_consistency(7, 7, ROOTS[7], ROOTS[7], [])
    with pytest.raises(ProofError, match="rewritten"):
        verify_consistency(7, 7, ROOTS[7], ROOTS[6], [])
    with pytest.raises(ProofError, match="empty consistency proof"):
        verify_consistency(7, 7, ROOTS[7], ROOTS[7], [ROOTS[7]])
    verify_consistency(0, 9, EMPTY_ROOT, ROOTS[9], [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 9, EMPTY_ROOT, ROOTS[9], [ROOTS[9]])
    with pytest.raises(ProofError, match="empty root"):
        verify_consistency(0, 9, ROOTS[1], ROOTS[9], [])
    with pytest.raises(ProofError, match="never shrinks"):
        verify_consistency(9, 7, ROOTS[9], ROOTS[7], [])
    with pytest.raises(ProofError, match="needs exactly"):
        verify_consistency(3, 9, ROOTS[3], ROOTS[9], [])
    assert consistency_proof(0, 9, {}) == []
    assert consistency_nodes(9, 9) == set()
    with pytest.raises(LedgerError, match="smaller tree to a larger one"):
        consistency_nodes(9, 7)


# --- How many stored nodes a proof reads ----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**48), st.data())
def test_proofs_read_a_logarithmic_number_of_nodes(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old")
    bits = size.bit_length()
    assert len(inclusion_nodes(index, size)) <= 2 * bits
    assert len(consistency_nodes(old, size)) <= 3 * bits
    assert len(root_nodes(size)) == size.bit_count()


def test_every_node_a_proof_reads_is_a_complete_perfect_subtree() -> None:
    def complete(node: NodeId, size: int) -> bool:
        level, index = node
        return (index + 1) << level <= size

    for size in range(1, 70):
        for index in range(size):
            assert all(complete(n, size) for n in inclusion_nodes(index, size))
        for old in range(size + 1):
            assert all(complete(n, size) for n in consistency_nodes(old, size))


# --- Compact ranges and appends -------------------------------------------------------------------


def test_compact_range_root_matches_the_naive_root_at_every_size() -> None:
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for size in range(1, MAX_SIZE + 1):
        compact.append(LEAF_HASHES[size - 1])
        assert compact.size == size
        assert compact.root() == ROOTS[size]


def test_append_reports_every_completed_perfect_subtree() -> None:
    compact = CompactRange()
    reported: dict[NodeId, bytes] = {}
    for value in LEAF_HASHES[:100]:
        completed = compact.append(value)
        assert completed[0] == ((0, compact.size - 1), value)
        for node, digest in completed:
            assert node not in reported
            reported[node] = digest
    # Exactly the perfect subtrees inside [0, 100): 2 * 100 - popcount(100) of them.
    assert len(reported) == 2 * 100 - (100).bit_count()
    for (level, index), digest in reported.items():
        width = 1 << level
        assert digest == naive_mth(LEAF_HASHES[index * width : (index + 1) * width])


def test_frontier_ids_are_largest_first_and_match_the_hashes() -> None:
    compact = TREE.frontier(22)
    assert CompactRange.frontier_ids(22) == [(4, 0), (2, 4), (1, 10)]
    assert compact.hashes == [TREE.nodes([n])[n] for n in CompactRange.frontier_ids(22)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 250), st.integers(0, 50))
def test_a_compact_range_rebuilt_from_stored_nodes_continues_the_same_tree(
    start: int, more: int
) -> None:
    ids = CompactRange.frontier_ids(start)
    stored = TREE.nodes(ids)
    compact = CompactRange(start, [stored[node] for node in ids])
    assert compact.root() == ROOTS[start]
    for size in range(start + 1, start + more + 1):
        compact.append(LEAF_HASHES[size - 1])
        assert compact.root() == ROOTS[size]


def test_compact_range_refuses_a_frontier_of_the_wrong_shape() -> None:
    with pytest.raises(LedgerError, match="frontier of 2 hashes, not 1"):
        CompactRange(5, [ROOTS[4]])
    with pytest.raises(LedgerError, match="32-byte"):
        CompactRange(1, [b"short"])
    with pytest.raises(LedgerError):
        CompactRange(-1, [])
    with pytest.raises(LedgerError, match="32-byte"):
        CompactRange().append(b"not a hash")


def test_memory_tree_indexes_and_sizes() -> None:
    tree = MemoryTree()
    assert tree.append(b"first") == 0
    assert tree.append_leaf_hash(leaf_hash(b"second")) == 1
    assert tree.size == 2
    assert tree.leaf_hash(1) == leaf_hash(b"second")
    assert tree.root() == node_hash(leaf_hash(b"first"), leaf_hash(b"second"))
    with pytest.raises(LedgerError, match="fewer than the 3"):
        tree.root(3)
