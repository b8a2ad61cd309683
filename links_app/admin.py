"""Admin for links and scans: read-only projections, plus the moderator's verify form.

Rows are projections of events, so nothing here saves a model: the verify
form calls the `link_verify` service, which records `link:link_verified`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from eventstore import ReadOnlyAdmin

from .models import Link, Scan, Verdict
from .services import link_verify
from .services.verify import MAX_NOTE_LENGTH


def render_findings(findings: list[dict]) -> str:
    if not findings:
        return "—"
    rows = format_html_join(
        "",
        "<li><strong>[{}]</strong> <code>{}</code>: {}</li>",
        ((f.get("severity", ""), f.get("code", ""), f.get("message", "")) for f in findings),
    )
    return format_html("<ul style='margin:0;padding-left:1.2em'>{}</ul>", rows)


class VerifyForm(forms.Form):
    verdict = forms.ChoiceField(choices=Verdict.choices)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=MAX_NOTE_LENGTH, required=False
    )


class ScanInline(admin.TabularInline):
    model = Scan
    fields = ("id", "status", "verdict", "safety_score", "threat_category", "failed_attempts", "requested_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-requested_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Link)
class LinkAdmin(ReadOnlyAdmin):
    list_display = (
        "normalized_url",
        "domain",
        "verdict",
        "scan_verdict",
        "verified_verdict",
        "safety_score",
        "status",
    )
    list_filter = ("verdict", "status", "verified_verdict", "threat_category")
    search_fields = ("normalized_url", "domain")
    readonly_fields = [f.name for f in Link._meta.fields if f.name != "findings"] + ["findings_list"]
    exclude = ("findings",)
    inlines = [ScanInline]
    change_form_template = "admin/links_app/link/change_form.html"

    @admin.display(description="findings")
    def findings_list(self, link: Link) -> str:
        return render_findings(link.findings)

    def get_urls(self):
        verify = self.admin_site.admin_view(self.verify_view)
        return [path("<uuid:link_id>/verify/", verify, name="links_app_link_verify"), *super().get_urls()]

    def verify_view(self, request, link_id):
        if not getattr(request.user, "is_moderator", False):
            raise PermissionDenied
        link = get_object_or_404(Link, id=link_id)
        form = VerifyForm(request.POST or None, initial={"verdict": link.verdict})
        if request.method == "POST" and form.is_valid():
            try:
                link_verify(link_id=link.id, moderator=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request, f"{link.normalized_url} verified as {form.cleaned_data['verdict']}."
                )
                return redirect(reverse("admin:links_app_link_change", args=[link.id]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": link,
            "form": form,
            "title": f"Verify {link.normalized_url}",
        }
        return TemplateResponse(request, "admin/links_app/link/verify.html", context)


@admin.register(Scan)
class ScanAdmin(ReadOnlyAdmin):
    list_display = ("normalized_url", "status", "verdict", "safety_score", "threat_category", "requested_at")
    list_filter = ("status", "verdict", "threat_category")
    search_fields = ("normalized_url", "id")
    readonly_fields = [f.name for f in Scan._meta.fields if f.name != "findings"] + ["findings_list"]
    exclude = ("findings",)

    @admin.display(description="findings")
    def findings_list(self, scan: Scan) -> str:
        return render_findings(scan.findings)
