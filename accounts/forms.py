from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User, canonical_username, username_validator
from accounts.selectors import USERNAME_REFUSALS, username_status

RECOVERY_CODE_SHAPE = re.compile(r"[0-9a-z]{5}-[0-9a-z]{5}")


class SignupForm(UserCreationForm):
    accept_terms = forms.BooleanField(
        required=True,
        label="I accept the terms of use",
        error_messages={"required": "You must accept the terms of use to sign up."},
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)

    def clean_username(self) -> str:
        return _available(self.cleaned_data["username"], user_id=None)


class UsernameForm(forms.Form):
    username = forms.CharField(max_length=30, validators=[username_validator])

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        kwargs.setdefault("initial", {"username": user.username})
        super().__init__(*args, **kwargs)

    def clean_username(self) -> str:
        return _available(self.cleaned_data["username"], user_id=self.user.pk)


def _available(username: str, *, user_id: int | None) -> str:
    """The typed name, stripped, if the account `user_id` (None: a new one) may take it."""
    username = username.strip()
    status = username_status(username=username, user_id=user_id)
    if status != "free":
        raise forms.ValidationError(USERNAME_REFUSALS[status], code=status)
    return username


class PrivacyForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("hide_presence", "send_read_receipts")


class NotificationsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("toast_sound",)


class RecoverForm(forms.Form):
    """Username, one recovery code and a new password (twice)."""

    username = forms.CharField(max_length=150)
    code = forms.CharField(
        label="Recovery code", max_length=50, help_text="One of the codes you saved at sign-up."
    )
    new_password1 = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label="New password confirmation",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_new_password1(self) -> str:
        password: str = self.cleaned_data["new_password1"]
        password_validation.validate_password(password)
        return password

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", "The two password fields didn't match.")
        return data


class PasswordConfirmForm(forms.Form):
    """The current password, asked again before a sensitive change."""

    password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("Your password was entered incorrectly.", code="wrong")
        return password


class OtpForm(forms.Form):
    """The second sign-in step: a code from the authenticator app, or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=50,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )


class RecoveryCodesDownloadForm(forms.Form):
    """The codes just shown, posted back to be downloaded as a text file (never stored)."""

    codes = forms.CharField(max_length=400)

    def clean_codes(self) -> list[str]:
        codes = self.cleaned_data["codes"].split()
        if len(codes) > 20 or not all(RECOVERY_CODE_SHAPE.fullmatch(code) for code in codes):
            raise forms.ValidationError("These are not recovery codes.")
        return codes


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TwoFactorDisableForm(PasswordConfirmForm):
    code = forms.CharField(
        label="Code",
        max_length=50,
        help_text="From your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


class DeleteAccountForm(PasswordConfirmForm):
    """Deleting the account: the password, the username typed again, a code when two-factor
    sign-in is on (checked by the view: checking spends it), and what to do with messages."""

    username = forms.CharField(
        label="Type your username to confirm",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    code = forms.CharField(
        label="Code",
        max_length=50,
        required=False,
        help_text="With two-factor sign-in on: a code from your authenticator app, or one of "
        "your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
    erase_messages = forms.BooleanField(
        label="Also delete everything I wrote",
        required=False,
        help_text="Without it, your messages stay in the other person's history, shown as "
        "sent by “Deleted account”.",
    )

    def clean_username(self) -> str:
        typed: str = self.cleaned_data["username"].strip()
        if canonical_username(typed) != canonical_username(self.user.username):
            raise forms.ValidationError(
                "That is not your username: type it to confirm.", code="wrong_username"
            )
        return typed
