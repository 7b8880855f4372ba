"""The run's wall-clock budget: one deadline, shared by every stage, surviving a resume.

Time spent before a kill counts: the runner records `spent_s` as it goes, and a resumed run starts
with what is left.
"""

import time
from dataclasses import dataclass, field


@dataclass
class Budget:
    total_s: float
    reserve_s: float  # kept back for the audits and the card
    spent_before_s: float = 0.0  # from earlier attempts of this run (resume)
    started_at: float = field(default_factory=time.time)

    @property
    def deadline(self) -> float:
        return self.started_at + self.total_s - self.spent_before_s

    def spent(self) -> float:
        return self.spent_before_s + (time.time() - self.started_at)

    def left(self) -> float:
        return self.deadline - time.time()

    def training_deadline(self, minimum_s: float = 10.0) -> float:
        """When training must have returned: the deadline less the audits' reserve (never in the past)."""
        return max(time.time() + minimum_s, self.deadline - self.reserve_s)
