"""The server's heap: freed pages go back to the system when asked; its workers' memory is counted
(twin.memory)."""
import os

from twin.memory import proportional_mb, release_free_memory, resident_mb, worker_pids, workers_mb
from twin.workers import Worker

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


def test_a_worker_process_memory_is_counted_and_shared_pages_are_shared_out():
    worker = Worker()
    try:
        pid = worker.submit(os.getpid).result(timeout=60)
        assert pid in worker_pids() and pid != os.getpid()
        assert workers_mb() >= resident_mb(pid) > 5, "a python interpreter, counted as a worker"
        assert 0 < proportional_mb(pid) <= resident_mb(pid), "its libraries' pages shared with this process"
    finally:
        worker.close()
    assert pid not in worker_pids() and resident_mb(pid) is None, "a closed worker is gone"
