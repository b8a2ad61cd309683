from django.urls import path

from . import api

urlpatterns = [
    path("", api.LinkListApi.as_view(), name="links-list"),
    path("scans/", api.ScanRequestApi.as_view(), name="links-scan-request"),
    path("scans/<uuid:scan_id>/", api.ScanDetailApi.as_view(), name="links-scan-detail"),
    path("<uuid:link_id>/", api.LinkDetailApi.as_view(), name="links-detail"),
    path("<uuid:link_id>/verify/", api.LinkVerifyApi.as_view(), name="links-verify"),
]
