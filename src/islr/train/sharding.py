"""Each process's share of a global batch, when several hosts train one model (multi-host JAX).

Every process plans the same global batches (same seed) and serves only its rows
``[shard_index * B/P, (shard_index + 1) * B/P)`` of each (``B`` the global batch size, ``P =
num_shards``); Keras' JAX trainer assembles the processes' rows into one global batch. The
padded length comes from the whole global batch, so every host serves the same shape, and
evaluation filler rows are added to the global batch before it is cut: every sample is still
evaluated exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Process ``shard_index`` of ``num_shards`` (``Shard()``: a single host, every row).

    Raises:
        ValueError: ``shard_index`` outside ``0 .. num_shards - 1``.
    """

    num_shards: int = 1
    shard_index: int = 0

    def __post_init__(self) -> None:
        if not 0 <= int(self.shard_index) < int(self.num_shards):
            raise ValueError(f"shard_index={self.shard_index} not in 0..{self.num_shards - 1}")

    @property
    def is_sharded(self) -> bool:
        """Whether this process serves only part of each batch."""
        return self.num_shards > 1

    def check(self, batch_size: int) -> None:
        """Raise ``ValueError`` unless ``batch_size`` splits into equal shards."""
        if batch_size % self.num_shards:
            raise ValueError(
                f"batch size {batch_size} does not split into {self.num_shards} shards"
            )

    def rows(self, batch_size: int) -> slice:
        """This process's rows of a global batch of ``batch_size``."""
        rows = batch_size // self.num_shards
        return slice(self.shard_index * rows, (self.shard_index + 1) * rows)
