"""Consent: the record dialog (add, list, revoke), today's status per scope, and the refusal
box that offers to record consent when an action was refused for the lack of it.

Every change is a core command run through the window (undoable); the dialog re-reads the
project after each change set, so an undo elsewhere shows here at once.
"""

from __future__ import annotations

import contextlib
import getpass
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from deepstudio.core import commands as cmd
from deepstudio.core.consent import valid_consent
from deepstudio.core.project import CONSENT_SCOPES, ConsentRecord, Identity
from deepstudio.qt.bridge import on_main_thread
from deepstudio.types import new_id

SCOPE_LABELS = {"train": "Train", "swap": "Swap", "lipsync": "Lip-sync"}
VALID, MISSING = QColor("#5cc98a"), QColor("#e5645c")
_PERSON = re.compile(r"""(?:identity|shows) (['"])(.+?)\1""")


def consent_state(identity: Identity, scope: str) -> tuple[bool, str]:
    """(valid today?, a one-line explanation for a tooltip)."""
    record = valid_consent(identity, scope)
    if record is None:
        return False, f"no valid consent for {SCOPE_LABELS[scope].lower()} today"
    until = f"until {record.expiry}" if record.expiry else "no expiry"
    return True, f"consent {record.id} by {record.recorded_by} on {record.date}, {until}"


def record_status(record: ConsentRecord, today: date | None = None) -> str:
    """"valid", "revoked 2025-01-02", "expired 2024-12-31" or "starts 2026-01-01"."""
    today = today or date.today()
    if record.revoked and (record.revoked_date is None
                           or date.fromisoformat(record.revoked_date) <= today):
        return "revoked" + (f" {record.revoked_date}" if record.revoked_date else "")
    if record.expiry is not None and date.fromisoformat(record.expiry) < today:
        return f"expired {record.expiry}"
    if date.fromisoformat(record.date) > today:
        return f"starts {record.date}"
    return "valid"


def consent_person(message: str) -> str | None:
    """The person a consent refusal names (``identity 'Anna'`` / ``shows 'Anna'``), if any."""
    found = _PERSON.search(message)
    return found.group(2) if found else None


def refusal_box(parent: QWidget, message: str,
                record_consent: Callable[[str | None], None]) -> QMessageBox:
    """A one-line warning for a refused action with a "Record consent…" button (not modal)."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Consent required", message,
                      QMessageBox.StandardButton.Close, parent)
    box.setObjectName("ConsentRefusal")
    box.setInformativeText("DeepStudio only trains on, swaps or lip-syncs people whose consent "
                           "is recorded for that use and valid today.")
    button = box.addButton("Record consent…", QMessageBox.ButtonRole.ActionRole)
    button.setObjectName("RecordConsent")
    person = consent_person(message)
    button.clicked.connect(lambda: record_consent(person))
    box.open()
    return box


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _iso(edit: QDateEdit) -> str:
    return edit.date().toString(Qt.DateFormat.ISODate)


class ConsentDialog(QDialog):
    """The consent records of one person: list, add, revoke. A new person's name creates
    the identity together with the first record (one undo step)."""

    def __init__(self, session, run: Callable[[cmd.Command], bool], person: str | None = None,
                 parent: QWidget | None = None, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        self.session = session
        self.run = run
        self.setWindowTitle("Consent")
        self.setObjectName("ConsentDialog")
        self.setMinimumSize(640, 560)
        self.person = QComboBox()
        self.person.setEditable(True)
        self.person.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.person.lineEdit().setPlaceholderText("Name of the person")
        self.person.currentTextChanged.connect(self.refresh)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.records = QTreeWidget()
        self.records.setRootIsDecorated(False)
        self.records.setAlternatingRowColors(True)
        self.records.setHeaderLabels(["Scope", "Recorded", "By", "Expires", "Status",
                                      "Evidence"])
        self.records.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.records.header().setStretchLastSection(True)
        self.records.itemSelectionChanged.connect(self._selection_changed)
        self.revoke_button = QPushButton("Revoke selected")
        self.revoke_button.setToolTip("Mark the record revoked as of today (it stays listed)")
        self.revoke_button.clicked.connect(self.revoke_selected)

        self.recorded_by = QLineEdit(getpass.getuser())
        self.date = QDateEdit(_qdate(date.today()))
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.scopes = {s: QCheckBox(SCOPE_LABELS[s]) for s in CONSENT_SCOPES}
        scope_row = QHBoxLayout()
        for box in self.scopes.values():
            box.toggled.connect(self._update_add)
            scope_row.addWidget(box)
        scope_row.addStretch(1)
        self.expires = QCheckBox("Expires on")
        self.expiry = QDateEdit(_qdate(date.today()).addYears(1))
        self.expiry.setCalendarPopup(True)
        self.expiry.setDisplayFormat("yyyy-MM-dd")
        self.expiry.setEnabled(False)
        self.expires.toggled.connect(self.expiry.setEnabled)
        expiry_row = QHBoxLayout()
        expiry_row.addWidget(self.expires)
        expiry_row.addWidget(self.expiry)
        expiry_row.addStretch(1)
        self.evidence = QLineEdit()
        self.evidence.setPlaceholderText("optional: signed form, recording …")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        evidence_row = QHBoxLayout()
        evidence_row.addWidget(self.evidence, 1)
        evidence_row.addWidget(browse)
        self.add_button = QPushButton("Add record")
        self.add_button.setDefault(True)
        self.add_button.clicked.connect(self.add_record)
        form = QFormLayout()
        form.addRow("Recorded by", self.recorded_by)
        form.addRow("Date given", self.date)
        form.addRow("Allows", scope_row)
        form.addRow("", expiry_row)
        form.addRow("Evidence", evidence_row)
        form.addRow("", self.add_button)
        group = QGroupBox("Record new consent")
        group.setLayout(form)

        top = QFormLayout()
        top.addRow("Person", self.person)
        top.addRow("Today", self.status)
        revoke_row = QHBoxLayout()
        revoke_row.addStretch(1)
        revoke_row.addWidget(self.revoke_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        title = QLabel("Records")
        title.setObjectName("SectionTitle")
        layout.addWidget(title)
        layout.addWidget(self.records, 1)
        layout.addLayout(revoke_row)
        layout.addWidget(group)
        layout.addWidget(buttons)

        self._fill_people(person)
        for scope in scopes:  # what the action that sent the user here lacks
            self.scopes[scope].setChecked(True)
        session.subscribe(self._changed)
        self.finished.connect(lambda _: self._unsubscribe())

    # --- reading the project ---------------------------------------------------------------

    def _fill_people(self, person: str | None) -> None:
        self.person.blockSignals(True)
        self.person.clear()
        self.person.addItems([i.name for i in self.session.project.identities.values()])
        self.person.setCurrentText(person or self.person.itemText(0))
        self.person.blockSignals(False)
        self.refresh()

    def identity(self) -> Identity | None:
        return self.session.identity_named(self.person.currentText().strip())

    def _changed(self, _changes) -> None:
        if not on_main_thread():  # GUI edits run on the main thread; others are not ours
            return
        try:
            self.refresh()
        except RuntimeError:  # the dialog was deleted without being closed
            self._unsubscribe()

    def _unsubscribe(self) -> None:
        with contextlib.suppress(ValueError):
            self.session.history.remove_listener(self._changed)

    def refresh(self) -> None:
        identity = self.identity()
        self.records.clear()
        if identity is None:
            name = self.person.currentText().strip()
            self.status.setText(f"<i>{name or 'Nobody'} is not an identity yet: adding a "
                                "record creates it.</i>" if name else "<i>Name a person.</i>")
        else:
            parts = []
            for scope in CONSENT_SCOPES:
                ok, _ = consent_state(identity, scope)
                colour = (VALID if ok else MISSING).name()
                parts.append(f"<span style='color:{colour}'>{'✔' if ok else '✘'} "
                             f"{SCOPE_LABELS[scope]}</span>")
            self.status.setText("&nbsp;&nbsp;&nbsp;".join(parts))
            for record in identity.consents:
                status = record_status(record)
                item = QTreeWidgetItem([
                    ", ".join(SCOPE_LABELS[s] for s in record.scope), record.date,
                    record.recorded_by, record.expiry or "never", status,
                    Path(record.evidence).name if record.evidence else ""])
                item.setData(0, Qt.ItemDataRole.UserRole, record.id)
                item.setForeground(4, VALID if status == "valid" else MISSING)
                item.setToolTip(0, record.id)
                if record.evidence:
                    item.setToolTip(5, record.evidence)
                self.records.addTopLevelItem(item)
        self._selection_changed()
        self._update_add()

    def record_ids(self) -> list[str]:
        return [self.records.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
                for i in range(self.records.topLevelItemCount())]

    # --- actions ---------------------------------------------------------------------------

    def _selected_record(self) -> ConsentRecord | None:
        identity = self.identity()
        items = self.records.selectedItems()
        if identity is None or not items:
            return None
        return identity.consent(items[0].data(0, Qt.ItemDataRole.UserRole))

    def _selection_changed(self) -> None:
        record = self._selected_record()
        self.revoke_button.setEnabled(record is not None and not record.revoked)

    def _update_add(self) -> None:
        self.add_button.setEnabled(any(b.isChecked() for b in self.scopes.values())
                                   and bool(self.person.currentText().strip()))

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Consent evidence", self.evidence.text())
        if path:
            self.evidence.setText(path)

    def add_record(self) -> str | None:
        """Add the record the form describes; its id, or None when refused."""
        name = self.person.currentText().strip()
        scope = [s for s, box in self.scopes.items() if box.isChecked()]
        evidence = self.evidence.text().strip() or None
        if evidence and self.session.paths is not None:
            evidence = self.session.paths.store_path(evidence)
        record = ConsentRecord(
            id=new_id("consent"), person=name, recorded_by=self.recorded_by.text().strip(),
            date=_iso(self.date), scope=scope,
            expiry=_iso(self.expiry) if self.expires.isChecked() else None, evidence=evidence)
        identity = self.identity()
        if identity is None:
            identity = Identity(new_id("identity"), name)
            command: cmd.Command = cmd.Macro("Record consent", [
                cmd.AddIdentity(identity), cmd.AddConsent(identity.id, record)])
        else:
            command = cmd.AddConsent(identity.id, record)
        if not self.run(command):
            return None
        self._fill_people(name)
        for box in self.scopes.values():
            box.setChecked(False)
        self.evidence.clear()
        return record.id

    def revoke_selected(self) -> bool:
        identity, record = self.identity(), self._selected_record()
        if identity is None or record is None:
            return False
        return self.run(cmd.RevokeConsent(identity.id, record.id, date.today().isoformat()))

    def select_record(self, record_id: str) -> None:
        self.records.setCurrentItem(self.records.topLevelItem(self.record_ids().index(record_id)))
