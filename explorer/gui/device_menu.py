"""Settings ▸ Compute device: where models opened from now on compute (kept in the window's QSettings)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QMenu, QMenuBar, QStatusBar

from explorer.core.device import DEVICE_NAMES

__all__ = ["DeviceChoice", "SETTINGS_KEY", "device_available", "settings_menu"]

#: Where the choice is kept in the window's settings.
SETTINGS_KEY = "compute/device"

_TEXT = {"auto": "&Automatic (CUDA, then MPS, then CPU)", "cpu": "&CPU", "cuda": "CU&DA GPU", "mps": "Apple &MPS"}


def device_available(name: str) -> str | None:
    """None when ``name`` can be used here, else the sentence `resolve_device` gives (imports torch)."""
    from explorer.core.device import DeviceError, resolve_device

    try:
        resolve_device(name)
    except DeviceError as exc:
        return str(exc)
    return None


def settings_menu(menu_bar: QMenuBar) -> QMenu:
    """The menu bar's "Settings" menu: the one there, else a new one placed before "Help" (or last)."""
    for action in menu_bar.actions():
        if action.menu() is not None and action.text().replace("&", "") == "Settings":
            return action.menu()
    help_action = next((a for a in menu_bar.actions() if a.text().replace("&", "") == "Help"), None)
    menu = QMenu("&Settings", menu_bar)
    if help_action is None:
        menu_bar.addMenu(menu)
    else:
        menu_bar.insertMenu(help_action, menu)
    return menu


class DeviceChoice(QObject):
    """The menu of compute devices, its QSettings entry and a status-bar label, bound to a Session.

    The choice is restored without importing torch (`Session.set_device` with ``check=False``:
    the window paints its first embedding before torch loads); which devices exist is asked
    only when the menu opens. Choosing one calls `Session.set_device`; a device that is not
    there leaves the choice as it was and reports the sentence through ``on_error``.

    Parameters
    ----------
    session : explorer.core.session.Session
    settings : QSettings
    menu : QMenu
        Receives a "Compute device" submenu.
    status_bar : QStatusBar
        Receives a permanent label, e.g. "Device: auto".
    on_error : callable
        ``on_error(message)`` for a device that cannot be used.
    """

    def __init__(self, session, settings: QSettings, menu: QMenu, status_bar: QStatusBar, on_error,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.settings, self._on_error = session, settings, on_error
        self.menu = menu.addMenu("Compute &device")
        self.menu.setToolTipsVisible(True)
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for name in DEVICE_NAMES:
            action = QAction(_TEXT[name], self, checkable=True)
            action.setData(name)
            action.setStatusTip("Models opened from now on compute on this device (open ones stay where they are)")
            action.triggered.connect(lambda _checked=False, n=name: self.choose(n))
            self.group.addAction(action)
            self.menu.addAction(action)
            self.actions[name] = action
        self.menu.aboutToShow.connect(self._mark_available)
        self.label = QLabel()
        self.label.setToolTip("Where models opened from now on compute (Settings ▸ Compute device)")
        status_bar.addPermanentWidget(self.label)
        saved = str(settings.value(SETTINGS_KEY, "cpu") or "cpu").strip().lower()
        if saved in ("auto", "cpu"):  # always there: kept without importing torch (resolved when a model opens)
            self._set(saved, check=False)
        elif not self._restore_accelerator(saved):
            self.label.setText(f"Device: cpu ({saved} is not available here)")
            self.label.setToolTip(f"The compute device saved in the settings ({saved}) is not available here; "
                                  "models open on the CPU (Settings ▸ Compute device).")

    def current(self) -> str:
        """The device name chosen (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``)."""
        return self.session.device or "cpu"

    def choose(self, name: str) -> bool:
        """Use ``name`` for models opened from now on; False (and ``on_error``) when it is not available."""
        from explorer.core.device import DeviceError

        try:
            resolved = self.session.set_device(name)
        except DeviceError as exc:
            self._sync()
            self._on_error(str(exc))
            return False
        self.settings.setValue(SETTINGS_KEY, name)
        self._sync(resolved)
        return True

    def _restore_accelerator(self, name: str) -> bool:
        """Restore a saved CUDA or MPS choice (checked now: torch is needed to open models there anyway)."""
        from explorer.core.device import DeviceError

        try:
            self.session.set_device(name)
        except DeviceError:
            self._set("cpu", check=False)
            return False
        self._sync()
        return True

    def _set(self, name: str, check: bool) -> None:
        self.session.set_device(name, check=check)
        self._sync()

    def _sync(self, resolved: str | None = None) -> None:
        name = self.current()
        for n, action in self.actions.items():
            action.setChecked(n == name or (n == "cuda" and name.startswith("cuda")))
        shown = name if resolved is None or resolved == name else f"{name} → {resolved}"
        self.label.setText(f"Device: {shown}")

    def _mark_available(self) -> None:
        """Disable the devices this machine does not have (their sentence as the tooltip)."""
        for name, action in self.actions.items():
            why = None if name in ("auto", "cpu") else device_available(name)
            action.setEnabled(why is None)
            action.setToolTip(why or "")
