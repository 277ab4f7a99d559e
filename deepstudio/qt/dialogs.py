"""Small dialogs: new project, preferences, the one-line error box and the About text."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from deepstudio import __version__
from deepstudio.persistence.settings import Settings


def error_box(parent: QWidget, message: str, title: str = "DeepStudio") -> QMessageBox:
    """Show ``message`` (one line, never a traceback) without blocking the event loop."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                      parent)
    box.setObjectName("ErrorBox")
    box.open()
    return box


def about_text() -> str:
    """The About box: what DeepStudio is, its version, and the torch build and device it
    computes on (the same lines as ``deepstudio --version``)."""
    from deepstudio.models.device import runtime_report

    return "\n".join([
        f"DeepStudio {__version__}", *runtime_report(), "",
        "An editor for consenting, disclosed synthetic media. Every export carries Content "
        "Credentials and an invisible watermark."])


def _buttons(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class NewProjectDialog(QDialog):
    """A project's name and the folder to make ``Name.dstudio`` in (New, Save As)."""

    def __init__(self, parent_folder: Path, parent: QWidget | None = None,
                 title: str = "New Project", name: str = "Untitled",
                 ok_text: str = "Create") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.name = QLineEdit(name)
        self.folder = QLineEdit(str(parent_folder))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Location", row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_buttons(self, ok_text))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Location", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def target(self) -> tuple[Path, str]:
        """(project folder, name): ``Name.dstudio`` inside the chosen location."""
        from deepstudio.persistence.project_store import project_folder_for

        name = self.name.text().strip() or "Untitled"
        return project_folder_for(self.folder.text(), name), name


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.autosave = QSpinBox()
        self.autosave.setRange(1, 60)
        self.autosave.setSuffix(" min")
        self.autosave.setValue(int(settings.pref("autosave_minutes")))
        self.crf = QSpinBox()
        self.crf.setRange(0, 51)
        self.crf.setValue(int(settings.pref("crf")))
        self.codec = QComboBox()
        self.codec.addItems(["h264", "h265", "prores", "png"])
        current = settings.pref("default_codec")
        self.codec.setCurrentText("h264" if current == "libx264" else current)
        self.auto_proxies = QCheckBox("Make proxies of media with sparse keyframes on import")
        self.auto_proxies.setToolTip("The preview reads the proxy to seek fast; exports always "
                                     "use the original media")
        self.auto_proxies.setChecked(bool(settings.pref("auto_proxies")))
        form = QFormLayout()
        form.addRow("Autosave every", self.autosave)
        form.addRow("Default export codec", self.codec)
        form.addRow("Default quality (CRF)", self.crf)
        form.addRow("Proxy media", self.auto_proxies)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_buttons(self, "Save"))

    def apply(self) -> None:
        self.settings.preferences.update(autosave_minutes=self.autosave.value(),
                                         crf=self.crf.value(),
                                         default_codec=self.codec.currentText(),
                                         auto_proxies=self.auto_proxies.isChecked())
