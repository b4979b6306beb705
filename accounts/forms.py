from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User, username_validator
from accounts.selectors import username_taken


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
        username: str = self.cleaned_data["username"].strip()
        if username_taken(username=username):
            raise forms.ValidationError("That username is taken.", code="unique")
        return username


class UsernameForm(forms.Form):
    username = forms.CharField(max_length=30, validators=[username_validator])

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        kwargs.setdefault("initial", {"username": user.username})
        super().__init__(*args, **kwargs)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if username_taken(username=username, exclude_pk=self.user.pk):
            raise forms.ValidationError("That username is taken.", code="unique")
        return username


class PrivacyForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("hide_presence", "send_read_receipts")


class NotificationsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("toast_sound",)
