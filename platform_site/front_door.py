"""`/`: what the site is, where its API is documented, and for staff the way in to its tools."""

from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def front_door(request):
    return render(request, "front_door.html", {"is_staff": request.user.is_active and request.user.is_staff})
