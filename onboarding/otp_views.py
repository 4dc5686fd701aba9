"""The second-factor code page."""
from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from .security import OTP_SESSION_KEY, otp_locked, totp_verify


class OtpForm(forms.Form):
    code = forms.CharField(max_length=8, label="Authentication code",
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


@login_required
def otp_verify_view(request):
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_verify(user=request.user, code=form.cleaned_data["code"]):
            request.session.cycle_key()  # a new session id once the second factor is passed
            request.session[OTP_SESSION_KEY] = True
            target = request.GET.get("next") or "/"
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = "/"
            return redirect(target)
        if otp_locked(request.user):
            form.add_error("code", "Too many wrong codes. Codes are refused for a while; try again later or ask "
                                   "your administrator.")
        else:
            form.add_error("code", "That code is not valid. Enter the current code from your authenticator app.")
    return render(request, "registration/otp.html", {"form": form})
