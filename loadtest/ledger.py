"""Lost-swipe accounting of one simulated session: the swipes the service acknowledged (a 200
that applied them) against the `seq` it answers.

A swipe applied at seq s found s - 1 swipes in the session. A client that never has two
requests of a session in flight, and resends an unacknowledged swipe (a 503, no answer)
until it is acknowledged, knows exactly how many that must be: all the swipes acknowledged
so far. Fewer means acknowledged swipes were lost (a store that forgot writes); more means
the service applied something twice (an event id applied once by a 503'd request and again
by its resend). Pure: the tests drive it with plain numbers.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SeqCheck:
    lost: int = 0  # acknowledged swipes the session no longer holds
    extra: int = 0  # swipes applied that the client never sent as new ones


@dataclass(slots=True)
class SwipeLedger:
    acknowledged: int = 0  # swipes the session must hold: each 200 that applied one

    def applied(self, seq: int) -> SeqCheck:
        """A swipe applied at `seq`: a first answer or a resend answered duplicate=false, a
        resend of an unacknowledged swipe answered duplicate=true (applied by the lost
        request), or a retry of an acknowledged one answered duplicate=false (forgotten).
        The session's count follows the service from here on, so a loss counts once."""
        before = seq - 1
        check = SeqCheck(max(0, self.acknowledged - before), max(0, before - self.acknowledged))
        self.acknowledged = seq
        return check
