"""The login page: name, password, "Sign in". The password never leaves this module except into
``Library.login``: the field is cleared at once (the typed value does not stay in the widget state), and it is
never logged, shown or put in a message."""
from __future__ import annotations

from typing import Callable

import ipywidgets as W

from workbench.errors import AuthError, WorkbenchError
from workbench.gallery.ui import Message, classes


class LoginPage(W.Box):
    """Calls ``login(name, password) -> token`` (``Library.login``) and hands the token to ``on_success``."""

    def __init__(self, login: Callable[[str, str], str], on_success: Callable[[str, str], None]):
        self._login = login
        self._on_success = on_success
        self.name = W.Text(placeholder="User name", layout=W.Layout(width="100%"))
        self.password = W.Password(placeholder="Password", layout=W.Layout(width="100%"))
        self.name.add_class("wb-login-name")
        self.password.add_class("wb-login-password")
        self.submit = classes(W.Button(description="Sign in", button_style="primary"), "wb-login-submit", "wb-submit")
        self.message = Message()
        self.submit.on_click(lambda _b: self.sign_in())
        title = W.HTML("<div class='wb-title'>Workbench</div><div class='wb-sub'>Sign in to see your photos</div>")
        form = classes(W.VBox([title, self.message, self.name, self.password, self.submit]), "wb-login", "wb-form")
        super().__init__([form])
        self.add_class("wb-center")

    def show_message(self, text: str, level: str = "info") -> None:
        self.message.show(text, level)

    def sign_in(self) -> None:
        name, password = self.name.value.strip(), self.password.value
        self.password.value = ""
        if not name or not password:
            self.message.error("Enter your user name and password.")
            return
        self.submit.disabled = True
        try:
            token = self._login(name, password)
        except AuthError as e:
            self.message.error(str(e)[:1].upper() + str(e)[1:] + ".")
            return
        except WorkbenchError as e:
            self.message.error(str(e))
            return
        finally:
            password = ""
            self.submit.disabled = False
        self.message.clear()
        self._on_success(name, token)
