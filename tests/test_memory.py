"""The server's heap: freed pages go back to the system when asked (twin.memory)."""
from twin.memory import release_free_memory, resident_mb

BLOCKS, BLOCK_B = 20_000, 8192  # 160 MB in blocks below glibc's mmap threshold: they come from the heap


def test_freed_heap_pages_go_back_to_the_system_when_asked():
    # every big block is followed by a small one that stays, so the freed space is in the middle of the
    # heap, where glibc keeps it unless asked
    big, kept = [], []
    for _ in range(BLOCKS):
        big.append(bytearray(BLOCK_B))
        kept.append(bytearray(64))
    big.clear()
    before = resident_mb()
    release_free_memory()
    given_back = before - resident_mb()
    assert given_back > 0.5 * BLOCKS * BLOCK_B / 2**20, f"{given_back:.0f} MB given back"
    assert len(kept) == BLOCKS
