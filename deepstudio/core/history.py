"""Undo/redo history of one project, with a saved point and change listeners (no Qt)."""

from __future__ import annotations

from collections.abc import Callable

from deepstudio.core.commands import ChangeSet, Command
from deepstudio.core.project import Project

Listener = Callable[[ChangeSet], None]


class History:
    """Applies commands to ``project`` and remembers them for undo/redo.

    ``clean`` is True while the project equals its last saved state (``mark_saved``), even
    after undoing back to it. ``limit`` bounds the undo steps kept (0 or None: unbounded).
    """

    def __init__(self, project: Project, limit: int | None = 500) -> None:
        self.project = project
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._limit = limit or None
        self._saved_at: int | None = 0  # len(self._undo) at the saved point; None: unreachable
        self._listeners: list[Listener] = []

    # --- listeners ------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _notify(self, changes: ChangeSet) -> ChangeSet:
        for listener in list(self._listeners):
            listener(changes)
        return changes

    # --- editing --------------------------------------------------------------------------

    def do(self, command: Command) -> ChangeSet:
        """Apply ``command``; a refused command raises and leaves history and project as
        they were."""
        changes = command.apply(self.project)
        if self._saved_at is not None and self._saved_at > len(self._undo):
            self._saved_at = None  # the saved state was in the redo branch we now drop
        self._redo.clear()
        self._undo.append(command)
        if self._limit is not None and len(self._undo) > self._limit:
            del self._undo[0]
            if self._saved_at is not None:
                self._saved_at = self._saved_at - 1 if self._saved_at > 0 else None
        return self._notify(changes)

    def undo(self) -> ChangeSet:
        if not self._undo:
            raise IndexError("nothing to undo")
        command = self._undo.pop()
        changes = command.undo(self.project)
        self._redo.append(command)
        return self._notify(changes)

    def redo(self) -> ChangeSet:
        if not self._redo:
            raise IndexError("nothing to redo")
        command = self._redo.pop()
        changes = command.apply(self.project)
        self._undo.append(command)
        return self._notify(changes)

    # --- state ----------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        """Name of the step Undo would revert ('' when there is none)."""
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    @property
    def clean(self) -> bool:
        return self._saved_at == len(self._undo)

    def mark_saved(self) -> None:
        self._saved_at = len(self._undo)

    def clear(self) -> None:
        """Forget all steps (e.g. after reloading); the current state counts as saved."""
        self._undo.clear()
        self._redo.clear()
        self._saved_at = 0
