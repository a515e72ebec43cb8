"""What a person does with threads that need one: answer escalations, redrive dead letters."""

from __future__ import annotations

from typing import Any

from langgraph.types import Command

from checkpointers import DeadLetter

from .._errors import DeadLetterNotFound, InvalidInput, NotWaiting, ThreadCompensated
from ._failure import parse_answer
from ._records import ThreadStatus
from ._runner_base import ProgressCallback, RunnerBase


class HumanOperations(RunnerBase):
    """Runner methods for the people operating threads (mixed into :class:`Runner`)."""

    async def resolve(
        self,
        thread_id: str,
        action: str,
        *,
        patch: dict[str, Any] | None = None,
        on_step: ProgressCallback | None = None,
    ) -> ThreadStatus:
        """Answer a thread's escalation and continue it.

        Args:
            thread_id: a thread whose status is ``waiting_for_human``.
            action: ``retry`` (run the node again, after ``patch``), ``skip`` (go on without
                the node's update) or ``abort`` (dead-letter the thread).
            patch: state fields to replace before a retry.

        Raises:
            NotWaiting: the thread is not waiting for an answer.
            InvalidInput: unknown action or a patch naming fields the state does not have.
        """
        answer = parse_answer({"action": action, "patch": patch})
        if answer is None:
            raise InvalidInput(
                f"unknown action {action!r}", hint="answer with retry, skip or abort"
            )
        self.check_patch(patch)
        current = await self.status(thread_id)
        if current.status != "waiting_for_human":
            raise NotWaiting(thread_id, current.status)
        command: Command[Any] = Command(resume=answer.model_dump())
        return await self._drive(thread_id, command, "run_resumed", on_step)

    async def redrive(
        self,
        letter_id: int,
        *,
        patch: dict[str, Any] | None = None,
        on_step: ProgressCallback | None = None,
    ) -> ThreadStatus:
        """Resume a dead-lettered thread from its failure point (completed nodes stay done).

        Args:
            letter_id: the dead letter's ID (``agent-graph dlq list``).
            patch: state fields the failed node gets replaced before it runs again.

        Raises:
            DeadLetterNotFound: no open dead letter has this ID.
            InvalidInput: the patch names fields the state does not have.
        """
        self.check_patch(patch)
        letter = await self.dead_letters.get(letter_id)
        if letter is None or letter.state != "open":
            raise DeadLetterNotFound(letter_id, letter.state if letter else None)
        run = await self.ctx.runs.get(letter.thread_id)
        if run is not None and run.status in ("compensated", "compensating"):
            raise ThreadCompensated(letter.thread_id)
        await self.dead_letters.close(letter_id, "redriven")
        patches = {letter.node: patch} if patch and letter.node else None
        return await self._drive(
            letter.thread_id,
            None,
            "run_redriven",
            on_step,
            patches=patches,
            data={"dead_letter_id": letter_id, "patched": sorted(patch or {})},
        )

    async def discard(self, letter_id: int) -> DeadLetter:
        """Close a dead letter without running its thread again.

        Raises:
            DeadLetterNotFound: no open dead letter has this ID.
        """
        letter = await self.dead_letters.close(letter_id, "discarded")
        if letter is None:
            found = await self.dead_letters.get(letter_id)
            raise DeadLetterNotFound(letter_id, found.state if found else None)
        await self.ctx.runs.set_status(letter.thread_id, "discarded", error=None)
        await self.ctx.events.append(
            letter.thread_id,
            "dead_letter_discarded",
            owner=self.ctx.owner,
            data={"dead_letter_id": letter_id},
        )
        return letter

    async def escalations(self) -> list[ThreadStatus]:
        """Threads waiting for a person's answer, with their questions."""
        runs = await self.ctx.runs.list(status="waiting_for_human", limit=1000)
        return [await self.status(run.thread_id) for run in runs]

    def check_patch(self, patch: dict[str, Any] | None) -> None:
        """Refuse a patch that is not an object of the state's fields.

        Raises:
            InvalidInput: the patch is not a JSON object or names unknown fields.
        """
        if patch is None:
            return
        if not isinstance(patch, dict):
            raise InvalidInput(
                "a patch must be a JSON object of state fields", hint='e.g. {"brief": "..."}'
            )
        known = set(self.graph.stream_channels_list) | set(self.graph.channels)
        unknown = sorted(key for key in patch if key not in known or key.startswith("__"))
        if unknown:
            fields = ", ".join(sorted(k for k in self.graph.stream_channels_list))
            raise InvalidInput(
                f"unknown state field(s) in the patch: {', '.join(unknown)}",
                hint=f"the state has: {fields}",
            )
