from __future__ import annotations

import uuid

from django import forms

from chats.validation import MAX_BODY


class StartChatForm(forms.Form):
    username = forms.CharField(max_length=150)


class SendForm(forms.Form):
    body = forms.CharField(max_length=MAX_BODY * 2, strip=False, widget=forms.Textarea)
    client_id = forms.CharField(max_length=64, required=False)

    def client_id_or_new(self) -> str:
        return self.cleaned_data.get("client_id") or str(uuid.uuid4())
